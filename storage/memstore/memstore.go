// Package memstore is an in-process implementation of [chatfly.Storage], the
// default storage of a standalone chatfly server.
//
// It keeps the items of each partition in a slice sorted by sort key, so that
// with n items in a partition:
//
//   - Get is O(log n);
//   - Put and Add of an existing key are O(log n), and so is a Put of a new
//     key greater than every key of its partition (appending a message),
//     which is O(1) amortised plus one comparison; inserting any other new
//     key moves the items after it: O(n);
//   - Delete is O(log n): it leaves a tombstone that is reclaimed like an
//     expired item (the Hub deletes the oldest message of a room on every
//     post, at the front of its partition);
//   - Query is O(log n + k) for k items scanned, and allocates the result
//     once; Scan visits the same items without allocating.
//
// Values are neither copied on Put nor on Get: the contract of Storage makes
// them immutable once written.
//
// Expired and deleted items are never returned, and every condition treats
// them as absent. Their memory is reclaimed without background goroutines: a
// write to a key reuses the slot of an expired item, and each write pays an
// amortised O(1) share of a periodic sweep of its shard of the store, so the
// memory held stays within a constant factor of the live items plus a small
// constant (see [Store]).
//
// A Store lives in one process: Hubs that must share state across processes
// need a shared backend such as chatfly/storage/dynamostore.
package memstore

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/chatfly/chatfly"
)

// Options configures a [Store]. The zero value, like a nil *Options, gives
// the defaults.
type Options struct {
	// Now returns the current time, by which the Store decides whether an
	// item has expired. Tests use it to control expiry. Default: time.Now.
	Now func() time.Time
}

// Store is an in-memory [chatfly.Storage]. Create it with [New]; the zero
// Store is not usable. A Store is safe for concurrent use by multiple
// goroutines.
//
// Locking: the store is split into shards by a hash of the partition name,
// each guarded by its own sync.RWMutex. Every operation of Storage touches a
// single partition, hence a single shard, so it takes exactly one lock, and
// operations on different partitions (different rooms, connections,
// sessions) rarely contend. A single store-wide lock would serialise every
// write of every room behind each other, and would make each Query of a
// large room stall all writers of the process for its duration. RWMutex
// rather than Mutex because the read paths (Query of a room's members, Get
// of a connection) are the most frequent, and a Query of a large partition
// holds its lock for microseconds, during which other readers of the shard
// proceed.
//
// Memory: every shard counts its writes and, when they reach the number of
// items it held after its previous sweep (or a small minimum), sweeps: it
// removes its expired items, drops partitions left empty and shrinks storage
// they left mostly unused. A sweep costs O(items in the shard), which the
// writes since the previous one have paid for: O(1) amortised per write. So
// an expired item is reclaimed within that many writes to its shard (at once
// if its own key is written), and a shard holds at most twice the items it
// had live at its previous sweep, plus the minimum. A shard that is not
// written to is not swept, but it does not grow either.
type Store struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [numShards]shard
}

const (
	// numShards is the number of lock shards, a power of two. 64 is more
	// than the cores of most hosts that run a standalone server, so that
	// contention comes from hot partitions, not from the hash.
	numShards = 64

	// minSweep is the fewest writes between two sweeps of a shard, so that
	// a small shard is not swept on every write.
	minSweep = 64
)

// shard is one lock's share of the store.
type shard struct {
	mu      sync.RWMutex
	parts   map[string]partition // never holds an empty partition
	items   int                  // entries in parts, expired or not
	peak    int                  // most partitions in parts since it was made
	writes  int                  // writes since the last sweep
	sweepAt int                  // writes that trigger the next sweep

	// Keep the fields above of neighbouring shards off one cache line.
	_ [64]byte
}

// New returns an empty Store configured by opts, which may be nil.
func New(opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{now: o.Now, seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].sweepAt = minSweep
	}
	return s
}

var (
	_ chatfly.Storage = (*Store)(nil)
	_ chatfly.Scanner = (*Store)(nil)
)

// Get returns the item at key, or chatfly.ErrNotFound if it is missing or
// expired.
func (s *Store) Get(ctx context.Context, key chatfly.Key) (chatfly.Item, error) {
	if err := ctx.Err(); err != nil {
		return chatfly.Item{}, err
	}
	c := clock{now: s.now}
	sh := s.shard(key.Partition)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	p := sh.parts[key.Partition]
	i, found := p.search(key.Sort)
	if !found || !p[i].live(&c) {
		return chatfly.Item{}, chatfly.ErrNotFound
	}
	return p[i].item(key.Partition), nil
}

// slot is where a write finds the item at a key: its shard (locked for
// writing), partition and index, whether an entry is there, and the
// version of the live item (0 if absent or expired).
type slot struct {
	sh      *shard
	p       partition
	i       int
	found   bool
	version int64
}

// lockWrite locks the shard of key for writing and finds the key's slot.
// The caller unlocks slot.sh.mu.
func (s *Store) lockWrite(key chatfly.Key, c *clock) slot {
	sh := s.shard(key.Partition)
	sh.mu.Lock()
	w := slot{sh: sh, p: sh.parts[key.Partition]}
	w.i, w.found = w.p.search(key.Sort)
	if w.found && w.p[w.i].live(c) {
		w.version = w.p[w.i].version
	}
	return w
}

// Put writes item if cond holds, and returns its new version. It keeps
// item.Value without copying it. See [chatfly.Storage].
func (s *Store) Put(ctx context.Context, item chatfly.Item, cond chatfly.Cond) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c := clock{now: s.now}
	w := s.lockWrite(item.Key, &c)
	defer w.sh.mu.Unlock()
	sh, p, i, found, version := w.sh, w.p, w.i, w.found, w.version
	if !cond.Check(version != 0, version) {
		return 0, chatfly.ErrConflict
	}
	e := entry{sort: item.Sort, value: item.Value, version: version + 1, expires: item.Expires}
	sh.store(item.Partition, p, i, found, e)
	sh.wrote(&c)
	return e.version, nil
}

// Delete removes the item at key if cond holds. See [chatfly.Storage].
func (s *Store) Delete(ctx context.Context, key chatfly.Key, cond chatfly.Cond) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := clock{now: s.now}
	w := s.lockWrite(key, &c)
	defer w.sh.mu.Unlock()
	sh, p, i, found, version := w.sh, w.p, w.i, w.found, w.version
	if !cond.Check(version != 0, version) {
		return chatfly.ErrConflict
	}
	if found {
		// Leave a tombstone (see entry): O(log n) instead of moving the
		// entries after it, and the sweep that reclaims it is paid for by
		// writes, as for expired items.
		p[i] = entry{sort: p[i].sort}
		sh.wrote(&c)
	}
	return nil
}

// Add adds delta to the counter of the item at key and returns the new
// count. See [chatfly.Storage].
func (s *Store) Add(ctx context.Context, key chatfly.Key, delta int64, expires time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c := clock{now: s.now}
	w := s.lockWrite(key, &c)
	defer w.sh.mu.Unlock()
	sh, p, i, found := w.sh, w.p, w.i, w.found
	var n int64
	if w.version != 0 {
		e := &p[i]
		e.n += delta
		e.version++
		e.expires = expires
		n = e.n
	} else {
		sh.store(key.Partition, p, i, found, entry{sort: key.Sort, n: delta, version: 1, expires: expires})
		n = delta
	}
	sh.wrote(&c)
	return n, nil
}

// Query returns the unexpired items of q.Partition selected by q, in order.
// See [chatfly.Storage].
func (s *Store) Query(ctx context.Context, q chatfly.Query) ([]chatfly.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := clock{now: s.now}
	sh := s.shard(q.Partition)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	p := sh.parts[q.Partition]
	lo, hi := p.bounds(q)
	if lo >= hi {
		return nil, nil
	}
	size := hi - lo
	if q.Limit > 0 && q.Limit < size {
		size = q.Limit
	}
	items := make([]chatfly.Item, 0, size)
	for k := range hi - lo {
		i := lo + k
		if q.Reverse {
			i = hi - 1 - k
		}
		e := &p[i]
		if !e.live(&c) {
			continue
		}
		items = append(items, e.item(q.Partition))
		if len(items) == size {
			break
		}
	}
	return items, nil
}

// Scan calls f with each item that Query(ctx, q) would return, in the same
// order, until f returns false, without allocating. It implements
// [chatfly.Scanner]: the Hub reads a room's members this way on every
// message, where Query would copy every member item. f runs under the lock
// of q's shard: it must not call the Store, and must not keep the *Item it
// is given (the values it holds may be kept, as with Query).
func (s *Store) Scan(ctx context.Context, q chatfly.Query, f func(it *chatfly.Item, left int) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := clock{now: s.now}
	sh := s.shard(q.Partition)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	p := sh.parts[q.Partition]
	lo, hi := p.bounds(q)
	seen, n := 0, max(hi-lo, 0)
	var it chatfly.Item
	for k := range n {
		i := lo + k
		if q.Reverse {
			i = hi - 1 - k
		}
		e := &p[i]
		if !e.live(&c) {
			continue
		}
		left := n - k
		if q.Limit > 0 {
			left = min(left, q.Limit-seen)
		}
		it = e.item(q.Partition)
		if !f(&it, left) {
			return nil
		}
		if seen++; q.Limit > 0 && seen == q.Limit {
			return nil
		}
	}
	return nil
}

// Len returns the number of unexpired items in the store, for tests and
// statistics. It takes time proportional to the number of items held,
// expired or not, and locks one shard at a time, so writes that run
// concurrently may or may not be counted.
func (s *Store) Len() int {
	c := clock{now: s.now}
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for _, p := range sh.parts {
			for j := range p {
				if p[j].live(&c) {
					n++
				}
			}
		}
		sh.mu.RUnlock()
	}
	return n
}

func (s *Store) shard(partition string) *shard {
	return &s.shards[maphash.String(s.seed, partition)&(numShards-1)]
}

// store writes e at index i of partition p, the partition named name,
// replacing the entry there if found, inserting it otherwise.
func (sh *shard) store(name string, p partition, i int, found bool, e entry) {
	if found {
		p[i] = e
		return
	}
	if p == nil {
		if sh.parts == nil {
			sh.parts = make(map[string]partition)
		}
		sh.peak = max(sh.peak, len(sh.parts)+1)
	}
	if i == len(p) {
		p = append(p, e) // the common case: an increasing key
	} else {
		p = slices.Insert(p, i, e)
	}
	sh.parts[name] = p
	sh.items++
}

// wrote counts a write to the shard and sweeps it when it is due.
func (sh *shard) wrote(c *clock) {
	sh.writes++
	if sh.writes >= sh.sweepAt {
		sh.sweep(c)
	}
}

// sweep removes the expired entries of the shard, drops empty partitions and
// releases memory that they left mostly unused.
func (sh *shard) sweep(c *clock) {
	items := 0
	for name, p := range sh.parts {
		first := -1
		for i := range p {
			if !p[i].live(c) {
				first = i
				break
			}
		}
		if first < 0 {
			items += len(p)
			continue
		}
		kept := p[:first]
		for i := first + 1; i < len(p); i++ {
			if p[i].live(c) {
				kept = append(kept, p[i])
			}
		}
		clear(p[len(kept):]) // drop references to values
		switch {
		case len(kept) == 0:
			delete(sh.parts, name)
			continue
		case cap(kept) > 64 && cap(kept) > 4*len(kept):
			kept = slices.Clone(kept)
		}
		sh.parts[name] = kept
		items += len(kept)
	}
	// A Go map keeps the buckets of its peak size; rebuild a map that
	// shrank a lot.
	if sh.peak > 1024 && len(sh.parts) < sh.peak/4 {
		sh.parts = resized(sh.parts)
		sh.peak = len(sh.parts)
	}
	sh.items = items
	sh.writes = 0
	sh.sweepAt = max(minSweep, items)
}

// resized returns a copy of m, sized for its length.
func resized(m map[string]partition) map[string]partition {
	c := make(map[string]partition, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
