package memstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/storagetest"
)

// budgeted returns a Store with the given budget on a fake clock, and the
// clock.
func budgeted(budget int64) (*Store, *storagetest.FakeClock) {
	clock := storagetest.NewFakeClock(time.Time{})
	return New(&Options{Now: clock.Now, MaxBytes: budget}), clock
}

// slack is how far over its budget a store may be between two writes: the
// batching of the shards' counts (1/64), and one item.
func slack(max int64) int64 { return max/64 + 4<<10 }

func msgKey(room string, seq int64) chatfly.Key {
	return chatfly.Key{Partition: "room#" + room, Sort: fmt.Sprintf("msg#%016d", seq)}
}

// post appends a message of size bytes to room the way the Hub does: it
// takes a number from the room's counter and writes the message under it.
func post(t *testing.T, s *Store, room string, size int, exp time.Time) int64 {
	t.Helper()
	seq, err := tryPost(s, room, size, exp)
	if err != nil {
		t.Fatalf("posting to %s: %v", room, err)
	}
	return seq
}

func tryPost(s *Store, room string, size int, exp time.Time) (int64, error) {
	ctx := context.Background()
	seq, err := s.Add(ctx, chatfly.Key{Partition: "room#" + room, Sort: "seq"}, 1, time.Time{})
	if err != nil {
		return 0, err
	}
	it := chatfly.Item{Key: msgKey(room, seq), Value: []byte(strings.Repeat("m", size)), Expires: exp}
	_, err = s.Put(ctx, it, chatfly.IfAbsent)
	return seq, err
}

// messages returns the sequence numbers of the messages of room held.
func messages(t *testing.T, s *Store, room string) []int64 {
	t.Helper()
	items, err := s.Query(context.Background(), chatfly.Query{Partition: "room#" + room, Prefix: "msg#"})
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]int64, len(items))
	for i, it := range items {
		if _, err := fmt.Sscanf(it.Sort, "msg#%d", &seqs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return seqs
}

// TestBudgetHolds writes four times the budget of messages across many
// rooms, with members, and checks after every write that the store keeps
// within its budget, that every member and counter survives, and that each
// room keeps its newest messages without a hole.
func TestBudgetHolds(t *testing.T) {
	ctx := context.Background()
	const budget = 1 << 20
	s, clock := budgeted(budget)
	rng := rand.New(rand.NewPCG(1, 2))
	const rooms = 300
	exp := clock.Now().Add(time.Hour)
	members := 0
	for i := 0; ; i++ {
		room := fmt.Sprint(rng.IntN(rooms))
		if rng.IntN(10) == 0 {
			k := chatfly.Key{Partition: "room#" + room, Sort: fmt.Sprintf("mem#%06d", i)}
			if _, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("conn\nname"), Expires: exp}, chatfly.IfAbsent); err != nil {
				t.Fatal(err)
			}
			members++
		} else {
			post(t, s, room, 100+rng.IntN(900), exp)
		}
		if b := s.Stats().Bytes; b > budget+slack(budget) {
			t.Fatalf("write %d: %d bytes accounted, budget %d", i, b, budget)
		}
		if i%1000 == 0 {
			s.stored(t)
		}
		if st := s.Stats(); st.Evicted > 0 && i > 8_000 {
			t.Logf("%d writes, %+v", i, st)
			break
		}
	}
	kept := 0
	for r := range rooms {
		room := fmt.Sprint(r)
		seq, err := s.Get(ctx, chatfly.Key{Partition: "room#" + room, Sort: "seq"})
		if err != nil {
			t.Fatal(err)
		}
		seqs := messages(t, s, room)
		for i, n := range seqs {
			if want := seq.N - int64(len(seqs)-1-i); n != want {
				t.Fatalf("room %s holds messages %v, latest %d: want the newest without a hole", room, seqs, seq.N)
			}
		}
		kept += len(seqs)
	}
	items, err := 0, error(nil)
	for r := range rooms {
		its, qerr := s.Query(ctx, chatfly.Query{Partition: "room#" + fmt.Sprint(r), Prefix: "mem#"})
		items, err = items+len(its), errors.Join(err, qerr)
	}
	if err != nil || items != members {
		t.Fatalf("%d of %d members kept (%v)", items, members, err)
	}
	t.Logf("%d messages kept, %d members", kept, members)
}

// TestBudgetConcurrent posts and joins from several goroutines into a
// small budget, for the race detector and the store's invariants.
func TestBudgetConcurrent(t *testing.T) {
	ctx := context.Background()
	const budget, writers, posts = 256 << 10, 4, 3000
	s := New(&Options{MaxBytes: budget})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range posts {
				room := fmt.Sprint((w*7 + i) % 40)
				if i%10 == 0 {
					k := chatfly.Key{Partition: "room#" + room, Sort: fmt.Sprintf("mem#%d-%d", w, i)}
					if _, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("c\nn")}, chatfly.IfAbsent); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				if _, err := tryPost(s, room, 200, time.Time{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	items, _ := s.stored(t)
	st := s.Stats()
	if st.Bytes > budget+slack(budget)+writers*4<<10 || st.Items != items || st.Evicted == 0 {
		t.Fatalf("%+v", st)
	}
	members := 0
	for r := range 40 {
		its, err := s.Query(ctx, chatfly.Query{Partition: "room#" + fmt.Sprint(r), Prefix: "mem#"})
		if err != nil {
			t.Fatal(err)
		}
		members += len(its)
	}
	if members != writers*posts/10 {
		t.Fatalf("%d members kept, want %d", members, writers*posts/10)
	}
}

// TestEvictsIdleRoomsFirst checks the order of eviction: the oldest
// messages of the room least recently posted to, then the next room; and
// that posting to a room moves it to the back.
func TestEvictsIdleRoomsFirst(t *testing.T) {
	ctx := context.Background()
	const budget = 256 << 10
	s, clock := budgeted(budget)
	exp := clock.Now().Add(time.Hour)
	for _, room := range []string{"idle1", "idle2"} {
		for _, sort := range []string{"meta", "mem#alice", "name#alice"} {
			if _, err := s.Put(ctx, chatfly.Item{Key: chatfly.Key{Partition: "room#" + room, Sort: sort}, Value: []byte("x")}, chatfly.Always); err != nil {
				t.Fatal(err)
			}
		}
		for range 100 {
			post(t, s, room, 1000, exp)
		}
	}
	if st := s.Stats(); st.Evicted != 0 || st.Bytes > budget {
		t.Fatalf("before the busy room: %+v", st)
	}
	// The busy room takes the memory of idle1 first, oldest messages first.
	for len(messages(t, s, "idle1")) > 0 {
		post(t, s, "busy", 1000, exp)
		got := messages(t, s, "idle1")
		if n := len(messages(t, s, "idle2")); len(got) > 0 && n != 100 {
			t.Fatalf("idle2 lost messages (%d left) while idle1 had some", n)
		}
		if len(got) > 0 && got[len(got)-1] != 100 {
			t.Fatalf("idle1 lost its newest message first: %v", got)
		}
	}
	busy := messages(t, s, "busy")
	// Then idle2's.
	for len(messages(t, s, "idle2")) > 50 {
		post(t, s, "busy", 1000, exp)
		if got := messages(t, s, "busy"); len(got) != len(busy)+1 {
			t.Fatalf("busy lost messages while idle2 had some: %d, then %d", len(busy), len(got))
		}
		busy = messages(t, s, "busy")
	}
	// Posting to idle2 makes busy the least recently active room: members
	// joining another room take busy's oldest messages.
	post(t, s, "idle2", 1000, exp)
	idle2 := messages(t, s, "idle2")
	for i := range 20 {
		k := chatfly.Key{Partition: "room#other", Sort: fmt.Sprintf("mem#%d", i)}
		if _, err := s.Put(ctx, chatfly.Item{Key: k, Value: make([]byte, 1000), Expires: exp}, chatfly.Always); err != nil {
			t.Fatal(err)
		}
	}
	if got := messages(t, s, "idle2"); len(got) != len(idle2) {
		t.Fatalf("idle2 lost messages after its latest post: %d, then %d", len(idle2), len(got))
	}
	if got := messages(t, s, "busy"); got[0] <= busy[0] {
		t.Fatalf("busy kept its oldest messages: %v, then %v", busy[:3], got[:3])
	}
	// Nothing but messages went.
	for _, room := range []string{"idle1", "idle2"} {
		for _, sort := range []string{"meta", "mem#alice", "name#alice", "seq"} {
			if _, err := s.Get(ctx, chatfly.Key{Partition: "room#" + room, Sort: sort}); err != nil {
				t.Fatalf("%s of %s: %v", sort, room, err)
			}
		}
	}
	if st := s.Stats(); st.Bytes > budget+slack(budget) || st.Evicted < 150 {
		t.Fatalf("after: %+v", st)
	}
	s.stored(t)
}

// TestFullOfState fills the budget with items that cannot be evicted: a
// write that would grow them fails with ErrUnavailable and changes nothing,
// writes that do not grow the store still succeed, messages are still
// accepted (and evicted), and what expires makes room again.
func TestFullOfState(t *testing.T) {
	ctx := context.Background()
	const budget = 64 << 10
	s, clock := budgeted(budget)
	exp := clock.Now().Add(time.Minute)
	conn := func(i int) chatfly.Key { return chatfly.Key{Partition: fmt.Sprintf("conn#%d", i), Sort: "conn"} }
	value := []byte(`{"session":"s","rooms":["lobby"]}`)
	counter := chatfly.Key{Partition: "rate#1.2.3.4", Sort: "1"}
	if _, err := s.Add(ctx, counter, 1, exp); err != nil {
		t.Fatal(err)
	}
	post(t, s, "lobby", 500, exp) // evicted to make room for connections
	var err error
	n := 0
	for ; n < 10_000; n++ {
		if _, err = s.Put(ctx, chatfly.Item{Key: conn(n), Value: value, Expires: exp}, chatfly.Always); err != nil {
			break
		}
	}
	if !errors.Is(err, chatfly.ErrUnavailable) {
		t.Fatalf("after %d connections: %v, want ErrUnavailable", n, err)
	}
	if _, err := s.Get(ctx, conn(n)); !errors.Is(err, chatfly.ErrNotFound) {
		t.Fatalf("the refused write was stored: %v", err)
	}
	if _, err := s.Add(ctx, chatfly.Key{Partition: "rate#5.6.7.8", Sort: "1"}, 1, exp); !errors.Is(err, chatfly.ErrUnavailable) {
		t.Fatalf("new counter: %v, want ErrUnavailable", err)
	}
	st := s.Stats()
	if st.Bytes > budget || st.Bytes < budget*9/10 || st.Refused != 2 || st.Evicted != 1 {
		t.Fatalf("full: %+v", st)
	}
	t.Logf("%d connections fill %d bytes: %+v", n, budget, st)

	// What does not grow the store still works.
	if c, err := s.Add(ctx, counter, 1, exp); err != nil || c != 2 {
		t.Fatalf("counter: %d, %v", c, err)
	}
	if _, err := s.Put(ctx, chatfly.Item{Key: conn(0), Value: value, Expires: exp}, chatfly.IfExists); err != nil {
		t.Fatalf("refreshing a connection: %v", err)
	}
	// A message is taken, and evicted rather than the connections.
	for range 10 {
		post(t, s, "lobby", 500, exp)
	}
	for i := range n {
		if _, err := s.Get(ctx, conn(i)); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	if st := s.Stats(); st.Bytes > budget+slack(budget) || st.Evicted == 0 {
		t.Fatalf("after messages: %+v", st)
	}
	// A deletion makes room once swept.
	if err := s.Delete(ctx, conn(0), chatfly.Always); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second) // the next reclaim sweeps every shard
	if _, err := s.Put(ctx, chatfly.Item{Key: conn(n), Value: value, Expires: exp}, chatfly.Always); err != nil {
		t.Fatalf("after a deletion: %v", err)
	}
	// Once the connections expire, new ones are taken.
	clock.Advance(time.Minute)
	for i := range n {
		if _, err := s.Put(ctx, chatfly.Item{Key: conn(n + 1 + i), Value: value, Expires: clock.Now().Add(time.Minute)}, chatfly.Always); err != nil {
			t.Fatalf("connection %d after expiry: %v", i, err)
		}
	}
	s.stored(t)
}

// TestAccountingReturnsToZero checks that the accounted bytes follow the
// items: deleted and expired items give their bytes back when swept, down
// to nothing.
func TestAccountingReturnsToZero(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewFakeClock(time.Time{})
	s := New(&Options{Now: clock.Now})
	exp := clock.Now().Add(time.Minute)
	var keys []chatfly.Key
	for r := range 50 {
		room := fmt.Sprint(r)
		for range 20 {
			seq := post(t, s, room, 300, exp)
			keys = append(keys, msgKey(room, seq))
		}
		k := chatfly.Key{Partition: "room#" + room, Sort: "mem#s" + room}
		if _, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("c\nn"), Expires: exp}, chatfly.Always); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k, chatfly.Key{Partition: "room#" + room, Sort: "seq"})
		if _, err := s.Add(ctx, chatfly.Key{Partition: "rate#" + room, Sort: "w"}, 1, exp); err != nil {
			t.Fatal(err)
		}
	}
	full := s.Stats()
	for _, k := range keys {
		if err := s.Delete(ctx, k, chatfly.Always); err != nil {
			t.Fatal(err)
		}
	}
	s.Sweep()
	st := s.Stats()
	if want := int64(50) * (partSize("rate#00") + entryOverhead + 1); st.Bytes > want || st.Items != 50 || st.Partitions != 50 {
		t.Fatalf("after deleting all but 50 counters: %+v, want at most %d bytes (full: %+v)", st, want, full)
	}
	clock.Advance(time.Minute)
	s.Sweep()
	if st := s.Stats(); st.Bytes != 0 || st.Items != 0 || st.Partitions != 0 {
		t.Fatalf("after expiry: %+v, want nothing (full: %+v)", st, full)
	}
	s.stored(t)
}

// TestUnlimited checks that a negative budget neither evicts nor refuses.
func TestUnlimited(t *testing.T) {
	s := New(&Options{MaxBytes: -1})
	for i := range 2000 {
		post(t, s, fmt.Sprint(i%10), 1000, time.Time{})
	}
	if st := s.Stats(); st.Evicted != 0 || st.Items != 2010 || st.Bytes < 2000*1000 || st.MaxBytes != -1 {
		t.Fatalf("%+v", st)
	}
	s.stored(t)
}

// TestHeapWithinBudget writes 8 times the budget of messages to many rooms
// and checks that the Go heap the store holds stays within twice its
// budget (the accounting is a fair estimate of the memory held), and that it
// drops to almost nothing once they expire.
func TestHeapWithinBudget(t *testing.T) {
	const budget = 2 << 20
	clock := storagetest.NewFakeClock(time.Time{})
	before := heap()
	s := New(&Options{Now: clock.Now, MaxBytes: budget})
	exp := clock.Now().Add(time.Hour)
	rng := rand.New(rand.NewPCG(3, 4))
	written := 0
	for written < 8*budget {
		size := 50 + rng.IntN(400)
		post(t, s, fmt.Sprint(rng.IntN(1000)), size, exp)
		written += size
	}
	held := heap() - before
	st := s.Stats()
	t.Logf("wrote %d bytes of messages: heap %d bytes, %+v", written, held, st)
	if held > 2*budget {
		t.Fatalf("the store holds %d bytes of heap, budget %d", held, budget)
	}
	if st.Bytes > budget+slack(budget) {
		t.Fatalf("%d bytes accounted, budget %d", st.Bytes, budget)
	}
	// Once the messages expire, a sweep gives the memory back to the Go
	// heap: no map, slice or queue keeps their size.
	clock.Advance(2 * time.Hour)
	s.Sweep()
	if st, held := s.Stats(), heap()-before; st.Bytes > 1000*(partSize("room#000")+entryOverhead+8) || held > budget/4 {
		t.Fatalf("after expiry: heap %d bytes, %+v", held, st)
	}
	runtime.KeepAlive(s)
}

// heap returns the bytes of live heap after a collection.
func heap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestSweepInterval checks that memory drops within SweepInterval of the
// items' expiry as soon as anything is written, with the store far from its
// budget.
func TestSweepInterval(t *testing.T) {
	ctx := context.Background()
	for _, every := range []time.Duration{time.Minute, -1} {
		clock := storagetest.NewFakeClock(time.Time{})
		s := New(&Options{Now: clock.Now, SweepInterval: every})
		exp := clock.Now().Add(30 * time.Second)
		for r := range 100 {
			for range 20 {
				post(t, s, fmt.Sprint(r), 300, exp)
			}
		}
		counter := chatfly.Key{Partition: "rate#1.2.3.4", Sort: "w"}
		touch := func() {
			if _, err := s.Add(ctx, counter, 1, clock.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		touch()
		full := s.Stats()
		clock.Advance(59 * time.Second) // expired, but the interval has not passed
		touch()
		if st := s.Stats(); st.Items != full.Items {
			t.Fatalf("SweepInterval %v: swept before the interval: %+v, then %+v", every, full, st)
		}
		clock.Advance(time.Second)
		touch()
		st := s.Stats()
		swept := st.Items == 101 && st.Bytes < 101*512 // the counters
		if swept != (every > 0) {
			t.Fatalf("SweepInterval %v: %+v, then %+v", every, full, st)
		}
		s.stored(t)
	}
}
