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
// Versions: each shard of the store (see [Store]) counts the versions it
// hands out. A write to a live item increments its version; a write that
// starts a new lifetime of a key (it was absent, deleted or expired) takes
// the shard's next version, above every version any item of the shard ever
// had, so a key never gets a version it had before, however it was deleted
// or expired (see [chatfly.Item.Version]). Versions start above 2^32 and
// stay below 2^53, exact in a JSON number.
//
// Memory budget: the store accounts for the bytes it holds and keeps them
// within [Options.MaxBytes] by evicting the oldest messages of the least
// recently active rooms (the items [chatfly.EvictablePrefix] names), and by
// refusing, with chatfly.ErrUnavailable, writes that would grow anything
// else past the budget (see [Store]).
//
// Capabilities: a Store implements every optional interface of
// [chatfly.Storage]: [chatfly.Scanner], [chatfly.Batcher] (GetMany and
// WriteMany, one Get, Put or Delete per key: in memory a batch saves calls,
// not round trips), [chatfly.Toucher] and [chatfly.ValueConditioner].
//
// A Store lives in one process: Hubs that must share state across processes
// need a shared backend such as chatfly/storage/dynamostore.
package memstore

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatfly/chatfly"
)

// Options configures a [Store]. The zero value, like a nil *Options, gives
// the defaults.
type Options struct {
	// Now returns the current time, by which the Store decides whether an
	// item has expired. Tests use it to control expiry. Default: time.Now.
	Now func() time.Time

	// MaxBytes is the memory budget: the most bytes the store accounts for
	// (see [Store] for what is counted and what happens at the budget).
	// Zero means the default, [DefaultMaxBytes] (256 MiB); a negative value
	// means no budget: the store grows with what is written.
	//
	// The live heap the store holds is about 1.1 times MaxBytes at most;
	// with the Go runtime's default GOGC=100 the process's resident memory
	// can reach twice its live heap between collections (measured: 168 MB
	// for a budget of 64 MiB under a flood), so a host that must stay
	// within a memory limit sets GOMEMLIMIT as well.
	MaxBytes int64

	// SweepInterval is how often the store reclaims every expired item at
	// once (see [Store.Sweep]): the first write after it has passed does
	// it. Default 1 minute; it is rounded up to whole seconds; negative
	// means never (expired items are then reclaimed only incrementally, as
	// described at [Store]).
	SweepInterval time.Duration
}

// DefaultMaxBytes is the memory budget of a Store whose Options leave
// MaxBytes zero: 256 MiB, room for a few hundred thousand connected
// sessions plus the history of their rooms on a small host.
const DefaultMaxBytes = 256 << 20

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
// written to is not swept, but it does not grow either. Besides, the first
// write after [Options.SweepInterval] has passed sweeps every shard (one
// atomic load per write checks it), so that memory drops within that
// interval of the items' expiry on a server that still has some traffic.
//
// Budget: an item is accounted as its sort key and the capacity of its value
// plus 96 bytes (the entry and its share of the partition's slice), and a
// partition as its name plus 128 bytes (its slot in the shard's map and in
// the eviction queue). This estimate leaves out the rounding of allocations
// and the spare capacity of slices: the Go heap the items hold is within 1
// and 2 times the accounted bytes (measured: 1.1 times, for messages of 50
// to 450 bytes as for the Hub's messages of 6 KB).
//
// When a write of a message makes the accounted bytes exceed MaxBytes, the
// writer sweeps expired items (every shard, if that was last done a second
// ago or more; else the shards that are partly due for a sweep), then evicts
// messages: the oldest of the room whose latest message is the oldest
// first, then those of the next such room, until the accounted bytes are
// 1/16 below the budget. So an eviction round is paid for by the writes
// since the previous one, and finding the room costs O(shards), not
// O(rooms). Eviction never touches any other item (sessions, connections,
// members, names, counters, room metadata, games): a write that would grow
// those past MaxBytes first evicts messages, and if none are left fails with
// chatfly.ErrUnavailable, changing nothing. Writes that do not grow the
// store (updating a counter, rewriting an item with a value no longer than
// before, deleting) always succeed. Each shard adds its changes to the
// store's total in batches of MaxBytes/4096 bytes, so the budget may be
// exceeded by up to 1/64, plus the items being written concurrently.
type Store struct {
	now     func() time.Time
	seed    maphash.Seed
	max     int64 // the budget; negative: none
	low     int64 // where eviction stops
	flush   int64 // bytes a shard changes before adding them to bytes
	bytes   atomic.Int64
	tick    atomic.Uint64 // orders writes of evictable items
	evicted atomic.Int64
	refused atomic.Int64
	evictMu sync.Mutex // held by the one writer that evicts
	// fullSweep is when every shard was last swept; guarded by evictMu.
	fullSweep  time.Time
	sweepEvery int64        // SweepInterval in seconds; 0: never
	sweepDue   atomic.Int64 // Unix second of the next sweep of every shard
	shards     [numShards]shard
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
	parts   map[string]part // never holds an empty partition
	items   int             // entries in parts, expired or not
	peak    int             // most partitions in parts since it was made
	writes  int             // writes since the last sweep
	sweepAt int             // writes that trigger the next sweep
	version int64           // the highest version handed out (see nextVersion)

	st      *Store
	bytes   int64    // accounted bytes of the entries and partitions held
	pending int64    // change of bytes not yet added to st.bytes
	queue   []queued // see push
	qhead   int      // queue[:qhead] is consumed
	queued  int      // partitions with a valid entry in queue

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
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = time.Minute
	}
	s := &Store{now: o.Now, seed: maphash.MakeSeed(), max: o.MaxBytes}
	if o.SweepInterval > 0 {
		s.sweepEvery = int64((o.SweepInterval + time.Second - 1) / time.Second)
		s.sweepDue.Store(o.Now().Unix() + s.sweepEvery)
	}
	s.low = s.max - s.max/16
	s.flush = max(s.max/4096, 0)
	if s.max < 0 {
		s.flush = 64 << 10
	}
	for i := range s.shards {
		s.shards[i].sweepAt = minSweep
		s.shards[i].version = firstVersion - 1
		s.shards[i].st = s
	}
	return s
}

var (
	_ chatfly.Storage          = (*Store)(nil)
	_ chatfly.Scanner          = (*Store)(nil)
	_ chatfly.Batcher          = (*Store)(nil)
	_ chatfly.Toucher          = (*Store)(nil)
	_ chatfly.ValueConditioner = (*Store)(nil)
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
	p := sh.parts[key.Partition].e
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
	p       part
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
	w.i, w.found = w.p.e.search(key.Sort)
	if w.found && w.p.e[w.i].live(c) {
		w.version = w.p.e[w.i].version
	}
	return w
}

// growth returns how many accounted bytes writing e into the slot of the
// partition named name adds.
func (w *slot) growth(name string, e *entry) int64 {
	switch {
	case w.found:
		return e.size() - w.p.e[w.i].size()
	case len(w.p.e) == 0:
		return e.size() + partSize(name)
	}
	return e.size()
}

// Put writes item if cond holds, and returns its new version. It keeps
// item.Value without copying it. See [chatfly.Storage].
func (s *Store) Put(ctx context.Context, item chatfly.Item, cond chatfly.Cond) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return s.put(item, cond, false)
}

// put is Put; fresh starts a new lifetime of the item even if it is live
// (see WriteMany).
func (s *Store) put(item chatfly.Item, cond chatfly.Cond, fresh bool) (int64, error) {
	c := clock{now: s.now}
	evictable := s.evictable(item.Key)
	var a admission
	for {
		w := s.lockWrite(item.Key, &c)
		if !w.holds(cond) {
			w.sh.mu.Unlock()
			return 0, chatfly.ErrConflict
		}
		cur := w.version
		if fresh {
			cur = 0
		}
		e := entry{sort: item.Sort, value: item.Value, version: w.sh.nextVersion(cur), expires: item.Expires}
		if err := s.write(&w, &c, item.Partition, e, evictable, &a); err == errRetry {
			continue
		} else if err != nil {
			return 0, err
		}
		return e.version, nil
	}
}

// holds reports whether cond holds for the item in slot w, value
// conditions included.
func (w *slot) holds(cond chatfly.Cond) bool {
	if _, kind := cond.Value(); kind == "" {
		return cond.Check(w.version != 0, w.version)
	}
	if w.version == 0 {
		return cond.Holds(nil)
	}
	e := &w.p.e[w.i]
	return cond.Holds(&chatfly.Item{Value: e.value, Version: e.version})
}

// Delete removes the item at key if cond holds. See [chatfly.Storage].
func (s *Store) Delete(ctx context.Context, key chatfly.Key, cond chatfly.Cond) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := clock{now: s.now}
	w := s.lockWrite(key, &c)
	defer w.sh.mu.Unlock()
	sh, p, i, found := w.sh, w.p.e, w.i, w.found
	if !w.holds(cond) {
		return chatfly.ErrConflict
	}
	if found {
		// Leave a tombstone (see entry): O(log n) instead of moving the
		// entries after it, and the sweep that reclaims it is paid for by
		// writes, as for expired items.
		sh.account(-int64(cap(p[i].value)))
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
	var a admission
	for {
		w := s.lockWrite(key, &c)
		if w.version != 0 {
			e := &w.p.e[w.i]
			e.n += delta
			e.version = w.sh.nextVersion(e.version)
			e.expires = expires
			n := e.n
			w.sh.wrote(&c)
			w.sh.mu.Unlock()
			s.sweepIfDue(&c)
			return n, nil
		}
		e := entry{sort: key.Sort, n: delta, version: w.sh.nextVersion(0), expires: expires}
		if err := s.write(&w, &c, key.Partition, e, s.evictable(key), &a); err == errRetry {
			continue
		} else if err != nil {
			return 0, err
		}
		return delta, nil
	}
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
	p := sh.parts[q.Partition].e
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
	p := sh.parts[q.Partition].e
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
			for j := range p.e {
				if p.e[j].live(&c) {
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

// store writes e into the slot w of the partition named name, replacing
// the entry there if found, inserting it otherwise, and accounts for the
// grow bytes it adds. An evictable e makes the partition the most recently
// written in the eviction queue.
func (sh *shard) store(name string, w *slot, e entry, grow int64, evictable bool) {
	p := w.p
	if w.found {
		p.e[w.i] = e
	} else {
		if len(p.e) == 0 {
			if sh.parts == nil {
				sh.parts = make(map[string]part)
			}
			sh.peak = max(sh.peak, len(sh.parts)+1)
		}
		if w.i == len(p.e) {
			p.e = append(p.e, e) // the common case: an increasing key
		} else {
			p.e = slices.Insert(p.e, w.i, e)
		}
		sh.items++
	}
	if evictable {
		sh.touch(name, &p)
	}
	if !w.found || evictable {
		sh.parts[name] = p
	}
	if evictable && len(sh.queue) > 2*sh.queued+64 {
		sh.compact()
	}
	sh.account(grow)
}

// firstVersion is the first version a shard hands out: 2^32 + 1, so that
// no caller takes a version for a count of writes.
const firstVersion = 1<<32 + 1

// nextVersion returns the version of a write to an item whose live version
// is cur, 0 if it is absent (or expired, or deleted), and records it. The
// caller holds sh.mu for writing. A live item gets cur+1; a new lifetime
// starts above every version the shard ever handed out, so that no key of
// the shard gets a version it had before (see chatfly.Item.Version), and
// the stream epoch Version-N of a counter differs between its lifetimes.
// A shard hands out 2^53 - 2^32 versions before they leave the integers
// that a JSON number holds exactly: centuries at a million writes a
// second.
func (sh *shard) nextVersion(cur int64) int64 {
	if cur == 0 {
		cur = sh.version
	}
	v := cur + 1
	sh.version = max(sh.version, v)
	return v
}

// wrote counts a write to the shard and sweeps it when it is due.
func (sh *shard) wrote(c *clock) {
	sh.writes++
	if sh.writes >= sh.sweepAt {
		sh.sweep(c)
	}
}

// sweep removes the expired entries of the shard, drops empty partitions,
// releases memory that they left mostly unused and recounts the shard's
// bytes.
func (sh *shard) sweep(c *clock) {
	items := 0
	var bytes int64
	for name, p := range sh.parts {
		first, size := -1, int64(0)
		for i := range p.e {
			switch {
			case p.e[i].live(c):
				size += p.e[i].size()
			case first < 0:
				first = i
			}
		}
		kept := p.e
		if first >= 0 {
			kept = p.e[:first]
			for i := first + 1; i < len(p.e); i++ {
				if p.e[i].live(c) {
					kept = append(kept, p.e[i])
				}
			}
			clear(p.e[len(kept):]) // drop references to values
			if len(kept) == 0 {
				delete(sh.parts, name)
				if p.active != 0 {
					sh.queued--
				}
				continue
			}
			kept = kept.shrunk()
			p.e = kept
			sh.parts[name] = p
		}
		items += len(kept)
		bytes += size + partSize(name)
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
	sh.account(bytes - sh.bytes)
	sh.compact()
}

// resized returns a copy of m, sized for its length.
func resized(m map[string]part) map[string]part {
	c := make(map[string]part, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
