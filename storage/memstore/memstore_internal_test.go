package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/storagetest"
)

// stored returns the number of entries held, expired or not, and of
// partitions, after checking the invariants of every shard.
func (s *Store) stored(t *testing.T) (items, parts int) {
	t.Helper()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n, inQueue := 0, 0
		var bytes int64
		for name, p := range sh.parts {
			if len(p.e) == 0 {
				t.Fatalf("shard %d holds empty partition %q", i, name)
			}
			if s.shard(name) != sh {
				t.Fatalf("partition %q is in the wrong shard", name)
			}
			bytes += partSize(name)
			for j := range p.e {
				if j > 0 && p.e[j-1].sort >= p.e[j].sort {
					t.Fatalf("partition %q out of order at %d: %q, %q", name, j, p.e[j-1].sort, p.e[j].sort)
				}
				bytes += p.e[j].size()
			}
			if p.active != 0 {
				inQueue++
				if !slices.Contains(sh.queue[sh.qhead:], queued{name, p.active}) {
					t.Fatalf("partition %q is not in its shard's eviction queue", name)
				}
			}
			n += len(p.e)
		}
		if n != sh.items {
			t.Fatalf("shard %d counts %d items, holds %d", i, sh.items, n)
		}
		if bytes != sh.bytes {
			t.Fatalf("shard %d accounts %d bytes, holds %d", i, sh.bytes, bytes)
		}
		if inQueue != sh.queued {
			t.Fatalf("shard %d counts %d queued partitions, holds %d", i, sh.queued, inQueue)
		}
		items += n
		parts += len(sh.parts)
		sh.mu.RUnlock()
	}
	return items, parts
}

func TestReclaimAfterExpiry(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewFakeClock(time.Time{})
	s := New(&Options{Now: clock.Now})

	// One partition per item, enough that every shard's map grows past the
	// size at which a sweep rebuilds it.
	const expiring = 100_000
	exp := clock.Now().Add(time.Minute)
	for i := range expiring {
		k := chatfly.Key{Partition: fmt.Sprintf("conn#%d", i), Sort: "conn"}
		if _, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("x"), Expires: exp}, chatfly.Always); err != nil {
			t.Fatal(err)
		}
	}
	// Counters in partitions that cover every shard.
	var rooms []chatfly.Key
	covered := make(map[*shard]bool)
	for i := 0; len(covered) < numShards; i++ {
		k := chatfly.Key{Partition: fmt.Sprintf("room#%d", i), Sort: "seq"}
		if sh := s.shard(k.Partition); !covered[sh] {
			covered[sh] = true
			rooms = append(rooms, k)
		}
	}
	add := func() {
		for _, k := range rooms {
			if _, err := s.Add(ctx, k, 1, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add()
	if n := s.Len(); n != expiring+len(rooms) {
		t.Fatalf("Len = %d, want %d", n, expiring+len(rooms))
	}

	clock.Advance(2 * time.Minute)
	if n := s.Len(); n != len(rooms) {
		t.Fatalf("after expiry Len = %d, want %d", n, len(rooms))
	}
	// Memory is reclaimed by later writes, whatever they are: here writes to
	// the counters only, as many per shard as it held items.
	writes := 0
	for {
		items, parts := s.stored(t)
		if items == len(rooms) && parts == len(rooms) {
			break
		}
		if writes > 2*expiring {
			t.Fatalf("after %d writes, %d items in %d partitions are held, want %d", writes, items, parts, len(rooms))
		}
		for range 100 {
			add()
		}
		writes += 100 * len(rooms)
	}
	t.Logf("reclaimed %d expired items after %d writes", expiring, writes)
	for i := range s.shards {
		if p := s.shards[i].peak; p > 1024 {
			t.Errorf("shard %d: map not rebuilt, peak %d partitions", i, p)
		}
	}
}

// TestMemoryBounded runs a chat that writes messages with a time to live, as
// a long-running server does, and checks that the items held stay within a
// constant factor of the live ones.
func TestMemoryBounded(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewFakeClock(time.Time{})
	s := New(&Options{Now: clock.Now})
	const rooms, ttl, ticks = 50, 100 * time.Second, 2000
	maxHeld := 0
	for tick := range ticks {
		for r := range rooms {
			k := chatfly.Key{Partition: fmt.Sprintf("room#%d", r), Sort: fmt.Sprintf("msg#%08d", tick)}
			if _, err := s.Put(ctx, chatfly.Item{Key: k, Expires: clock.Now().Add(ttl)}, chatfly.IfAbsent); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(time.Second)
		if tick%50 == 0 {
			held, _ := s.stored(t)
			live := s.Len()
			if limit := 2*live + numShards*minSweep; held > limit {
				t.Fatalf("tick %d: %d items held for %d live, want at most %d", tick, held, live, limit)
			}
			maxHeld = max(maxHeld, held)
		}
	}
	t.Logf("%d messages written, at most %d held, %d live at a time", rooms*ticks, maxHeld, rooms*int(ttl/time.Second))
}

// model is a brute-force Storage that TestRandomOps compares Store with.
type model struct {
	now   func() time.Time
	items map[chatfly.Key]chatfly.Item
	// top is the highest version each key ever had. The contract leaves
	// the first version of a new lifetime to the Storage: the model takes
	// the Store's and checks that it is above top.
	top map[chatfly.Key]int64
}

// version returns the version of a write to k whose live version is old (0:
// a new lifetime, which the Store started at version start), and records
// it.
func (m *model) version(k chatfly.Key, old, start int64) int64 {
	v := old + 1
	if old == 0 {
		if v = start; v <= m.top[k] {
			v = 0 // a version the key had before: no ABA allowed
		}
	}
	m.top[k] = max(m.top[k], v)
	return v
}

// entryVersion returns the version of the entry at k, expired or not, 0 if
// there is none.
func (s *Store) entryVersion(k chatfly.Key) int64 {
	sh := s.shard(k.Partition)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	p := sh.parts[k.Partition].e
	if i, found := p.search(k.Sort); found {
		return p[i].version
	}
	return 0
}

func (m *model) live(k chatfly.Key) (chatfly.Item, bool) {
	it, ok := m.items[k]
	if !ok || chatfly.Expired(it.Expires, m.now()) {
		return chatfly.Item{}, false
	}
	return it, true
}

func (m *model) get(k chatfly.Key) (chatfly.Item, error) {
	if it, ok := m.live(k); ok {
		return it, nil
	}
	return chatfly.Item{}, chatfly.ErrNotFound
}

// put is Put; start is the version the Store returned.
func (m *model) put(it chatfly.Item, cond chatfly.Cond, start int64) (int64, error) {
	old, ok := m.live(it.Key)
	if !cond.Check(ok, old.Version) {
		return 0, chatfly.ErrConflict
	}
	it.N, it.Version = 0, m.version(it.Key, old.Version, start)
	m.items[it.Key] = it
	return it.Version, nil
}

func (m *model) delete(k chatfly.Key, cond chatfly.Cond) error {
	old, ok := m.live(k)
	if !cond.Check(ok, old.Version) {
		return chatfly.ErrConflict
	}
	delete(m.items, k)
	return nil
}

// add is Add; start is the version the Store holds at k, 0 if none (an
// item written already expired, which a sweep took at once).
func (m *model) add(k chatfly.Key, delta int64, exp time.Time, start int64) int64 {
	it, ok := m.live(k)
	if !ok {
		it = chatfly.Item{Key: k}
	}
	it.N += delta
	if !ok && start == 0 && chatfly.Expired(exp, m.now()) {
		start = m.top[k] + 1 // never seen: a lower bound
	}
	it.Version = m.version(k, it.Version, start)
	it.Expires = exp
	m.items[k] = it
	return it.N
}

func (m *model) query(q chatfly.Query) []chatfly.Item {
	var out []chatfly.Item
	for k, it := range m.items {
		if k.Partition != q.Partition || !strings.HasPrefix(k.Sort, q.Prefix) || chatfly.Expired(it.Expires, m.now()) {
			continue
		}
		if q.StartAfter != "" && (!q.Reverse && k.Sort <= q.StartAfter || q.Reverse && k.Sort >= q.StartAfter) {
			continue
		}
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b chatfly.Item) int { return cmp.Compare(a.Sort, b.Sort) })
	if q.Reverse {
		slices.Reverse(out)
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

func sameItem(a, b chatfly.Item) bool {
	return a.Key == b.Key && string(a.Value) == string(b.Value) && a.N == b.N &&
		a.Version == b.Version && a.Expires.Equal(b.Expires)
}

// TestRandomOps applies random operations, with time passing, to a Store and
// to a model, and compares every result. Few partitions and sort keys make
// conditions, expiry, slot reuse and sweeps frequent.
func TestRandomOps(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewFakeClock(time.Time{})
	s := New(&Options{Now: clock.Now})
	m := &model{now: clock.Now, items: make(map[chatfly.Key]chatfly.Item), top: make(map[chatfly.Key]int64)}
	rng := rand.New(rand.NewPCG(1, 2))
	sorts := []string{"a", "a#1", "a#2", "a#10", "b", "b#1", "c", "m#001", "m#002", "m#003", "msg#1", "msg#2", "z"}
	randKey := func() chatfly.Key {
		// Half the partitions are rooms, whose msg# items are evictable
		// (the budget is not reached: this exercises the eviction queue).
		part := fmt.Sprintf("%s%d", []string{"p", "room#"}[rng.IntN(2)], rng.IntN(4))
		return chatfly.Key{Partition: part, Sort: sorts[rng.IntN(len(sorts))]}
	}
	randExp := func() time.Time {
		if rng.IntN(3) == 0 {
			return time.Time{}
		}
		return clock.Now().Add(time.Duration(rng.IntN(20)-2) * time.Second)
	}
	randCond := func(k chatfly.Key) chatfly.Cond {
		switch rng.IntN(5) {
		case 0:
			return chatfly.IfAbsent
		case 1:
			return chatfly.IfExists
		case 2:
			v := int64(rng.IntN(3))
			if it, ok := m.live(k); ok && rng.IntN(2) == 0 {
				v = it.Version
			}
			return chatfly.IfVersion(v)
		}
		return chatfly.Always
	}
	const ops = 50_000
	for op := range ops {
		k := randKey()
		switch r := rng.IntN(100); {
		case r < 30:
			it := chatfly.Item{Key: k, Value: []byte(fmt.Sprint(op)), Expires: randExp()}
			cond := randCond(k)
			gv, gerr := s.Put(ctx, it, cond)
			wv, werr := m.put(it, cond, gv)
			if gv != wv || !errors.Is(gerr, werr) {
				t.Fatalf("op %d: Put(%v, %v) = %d, %v; model %d, %v", op, k, cond, gv, gerr, wv, werr)
			}
		case r < 50:
			delta, exp := int64(rng.IntN(7)-3), randExp()
			gn, err := s.Add(ctx, k, delta, exp)
			if wn := m.add(k, delta, exp, s.entryVersion(k)); err != nil || gn != wn {
				t.Fatalf("op %d: Add(%v, %d) = %d, %v; model %d", op, k, delta, gn, err, wn)
			}
		case r < 60:
			cond := randCond(k)
			gerr := s.Delete(ctx, k, cond)
			if werr := m.delete(k, cond); !errors.Is(gerr, werr) {
				t.Fatalf("op %d: Delete(%v, %v) = %v; model %v", op, k, cond, gerr, werr)
			}
		case r < 80:
			got, gerr := s.Get(ctx, k)
			want, werr := m.get(k)
			if !errors.Is(gerr, werr) || (gerr == nil && !sameItem(got, want)) {
				t.Fatalf("op %d: Get(%v) = %+v, %v; model %+v, %v", op, k, got, gerr, want, werr)
			}
		default:
			q := chatfly.Query{Partition: k.Partition, Reverse: rng.IntN(2) == 0, Limit: rng.IntN(4)}
			if rng.IntN(2) == 0 {
				q.Prefix = []string{"a", "a#", "b#", "m#", "m#00", "x"}[rng.IntN(6)]
			}
			if rng.IntN(2) == 0 {
				q.StartAfter = sorts[rng.IntN(len(sorts))] + []string{"", "\x00", "#"}[rng.IntN(3)]
			}
			got, err := s.Query(ctx, q)
			want := m.query(q)
			if err != nil || !slices.EqualFunc(got, want, sameItem) {
				t.Fatalf("op %d: Query(%+v) = %v, %v; model %v", op, q, got, err, want)
			}
		}
		if rng.IntN(20) == 0 {
			clock.Advance(time.Second)
		}
		if op%1000 == 0 {
			s.stored(t)
			live := 0
			for k := range m.items {
				if _, ok := m.live(k); ok {
					live++
				}
			}
			if n := s.Len(); n != live {
				t.Fatalf("op %d: Len = %d, model %d", op, n, live)
			}
		}
	}
}
