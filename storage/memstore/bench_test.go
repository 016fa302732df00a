package memstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

// BenchmarkAdd increments a room's message sequence counter: all goroutines
// on one room (the worst contention), or each on its own room.
func BenchmarkAdd(b *testing.B) {
	ctx := context.Background()
	b.Run("OneRoom", func(b *testing.B) {
		s := memstore.New(nil)
		k := chatfly.Key{Partition: "room#1", Sort: "seq"}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Add(ctx, k, 1, time.Time{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("ManyRooms", func(b *testing.B) {
		s := memstore.New(nil)
		var rooms atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			k := chatfly.Key{Partition: fmt.Sprintf("room#%d", rooms.Add(1)), Sort: "seq"}
			for pb.Next() {
				if _, err := s.Add(ctx, k, 1, time.Time{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkPutAppend writes messages with increasing sort keys, each
// goroutine in its own room. The messages live for ttl of real time, so that
// memory stays bounded however long the benchmark runs, and the cost of
// reclaiming expired messages is included.
func BenchmarkPutAppend(b *testing.B) {
	const ttl = 20 * time.Millisecond
	ctx := context.Background()
	s := memstore.New(nil)
	value := []byte(`{"type":"message","from":"alice","text":"hello there"}`)
	var rooms atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		room := fmt.Sprintf("room#%d", rooms.Add(1))
		buf := []byte("msg#")
		for seq := 0; pb.Next(); seq++ {
			buf = strconv.AppendInt(buf[:4], int64(1e12+seq), 10)
			it := chatfly.Item{
				Key:     chatfly.Key{Partition: room, Sort: string(buf)},
				Value:   value,
				Expires: time.Now().Add(ttl),
			}
			if _, err := s.Put(ctx, it, chatfly.IfAbsent); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkQueryMembers reads the 1000 member items of one room.
func BenchmarkQueryMembers(b *testing.B) {
	const members = 1000
	ctx := context.Background()
	s := memstore.New(nil)
	room := "room#big"
	exp := time.Now().Add(time.Hour)
	for i := range members {
		it := chatfly.Item{
			Key:     chatfly.Key{Partition: room, Sort: fmt.Sprintf("mem#%06d", i)},
			Value:   []byte(fmt.Sprintf(`{"name":"user%d","conn":"c%d"}`, i, i)),
			Expires: exp,
		}
		if _, err := s.Put(ctx, it, chatfly.Always); err != nil {
			b.Fatal(err)
		}
		// Other items of the room, around the members.
		for _, sort := range []string{fmt.Sprintf("msg#%06d", i), fmt.Sprintf("ban#%06d", i)} {
			if _, err := s.Put(ctx, chatfly.Item{Key: chatfly.Key{Partition: room, Sort: sort}}, chatfly.Always); err != nil {
				b.Fatal(err)
			}
		}
	}
	q := chatfly.Query{Partition: room, Prefix: "mem#"}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			items, err := s.Query(ctx, q)
			if err != nil || len(items) != members {
				b.Errorf("Query returned %d items, %v", len(items), err)
				return
			}
		}
	})
}

// BenchmarkGet reads connection items among 100,000.
func BenchmarkGet(b *testing.B) {
	const conns = 100_000
	ctx := context.Background()
	s := memstore.New(nil)
	exp := time.Now().Add(time.Hour)
	keys := make([]chatfly.Key, conns)
	for i := range keys {
		keys[i] = chatfly.Key{Partition: "conn#" + strconv.Itoa(i), Sort: "conn"}
		it := chatfly.Item{Key: keys[i], Value: []byte(`{"session":"s","rooms":["lobby"]}`), Expires: exp}
		if _, err := s.Put(ctx, it, chatfly.Always); err != nil {
			b.Fatal(err)
		}
	}
	var seed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			i = (i + 7919) % conns
			if _, err := s.Get(ctx, keys[i]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPrune is the Hub's message cap at work: a room holds 1000
// messages (and 100 members); every operation appends a message and deletes
// the oldest one, which sits at the front of the room's messages.
func BenchmarkPrune(b *testing.B) {
	const keep = 1000
	ctx := context.Background()
	s := memstore.New(nil)
	room := "room#big"
	msg := func(seq int) chatfly.Key { return chatfly.Key{Partition: room, Sort: fmt.Sprintf("msg#%016d", seq)} }
	value := []byte(`{"type":"message","room":"big","seq":1,"text":"hello there"}`)
	for i := range 100 {
		if _, err := s.Put(ctx, chatfly.Item{Key: chatfly.Key{Partition: room, Sort: fmt.Sprintf("mem#%06d", i)}, Value: value}, chatfly.Always); err != nil {
			b.Fatal(err)
		}
	}
	seq := 0
	for ; seq < keep; seq++ {
		if _, err := s.Put(ctx, chatfly.Item{Key: msg(seq), Value: value}, chatfly.IfAbsent); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		k, old := msg(seq), msg(seq-keep)
		if _, err := s.Put(ctx, chatfly.Item{Key: k, Value: value}, chatfly.IfAbsent); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(ctx, old, chatfly.Always); err != nil {
			b.Fatal(err)
		}
		seq++
	}
}

// BenchmarkPutOverBudget posts messages to 1000 rooms, in turn, into a store
// whose 4 MiB budget they fill many times over: every operation pays its
// share of evicting the oldest messages of the least recently active room.
func BenchmarkPutOverBudget(b *testing.B) {
	const rooms = 1000
	ctx := context.Background()
	s := memstore.New(&memstore.Options{MaxBytes: 4 << 20})
	value := make([]byte, 500)
	seqs := make([]int64, rooms)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := i % rooms
		seqs[r]++
		k := chatfly.Key{Partition: "room#" + strconv.Itoa(r), Sort: fmt.Sprintf("msg#%016d", seqs[r])}
		if _, err := s.Put(ctx, chatfly.Item{Key: k, Value: value}, chatfly.IfAbsent); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if st := s.Stats(); st.Bytes > 5<<20 || (b.N > 10_000 && st.Evicted == 0) {
		b.Fatalf("%+v", st)
	}
}
