package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/redistest"
	"github.com/chatfly/chatfly/storage/redisstore"
)

// The benchmarks mirror storage/memstore's, on the real redis-server over
// loopback (one round trip per operation; run in parallel to show
// throughput with go-redis's connection pool):
//
//	go test -run '^$' -bench . ./storage/redisstore/ ./storage/memstore/

// benchStore returns a Store on the shared redis-server.
func benchStore(b *testing.B) chatfly.Storage {
	return newStore(b, redistest.NewClient(b, redistest.RedisServerAddr(b)), nil)
}

// parallel runs op in parallel goroutines, each with its own number.
func parallel(b *testing.B, op func(g int, i int) error) {
	var gs atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		g := int(gs.Add(1))
		for i := 0; pb.Next(); i++ {
			if err := op(g, i); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAdd increments a room's message counter: all goroutines on one
// room, or each on its own.
func BenchmarkAdd(b *testing.B) {
	ctx := context.Background()
	b.Run("OneRoom", func(b *testing.B) {
		s := benchStore(b)
		parallel(b, func(int, int) error {
			_, err := s.Add(ctx, chatfly.Key{Partition: "room#1", Sort: "seq"}, 1, time.Time{})
			return err
		})
	})
	b.Run("ManyRooms", func(b *testing.B) {
		s := benchStore(b)
		parallel(b, func(g, _ int) error {
			_, err := s.Add(ctx, chatfly.Key{Partition: "room#" + strconv.Itoa(g), Sort: "seq"}, 1, time.Time{})
			return err
		})
	})
}

// BenchmarkPutAppend writes messages with increasing sort keys, each
// goroutine in its own room, IfAbsent, living an hour.
func BenchmarkPutAppend(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b)
	value := []byte(`{"type":"message","from":"alice","text":"hello there"}`)
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	parallel(b, func(g, i int) error {
		it := chatfly.Item{Key: chatfly.Key{Partition: "room#" + strconv.Itoa(g), Sort: fmt.Sprintf("msg#%016d", i)}, Value: value, Expires: exp}
		_, err := s.Put(ctx, it, chatfly.IfAbsent)
		return err
	})
}

// BenchmarkQueryMembers reads the 1000 member items of one room, among its
// 2000 other items.
func BenchmarkQueryMembers(b *testing.B) {
	const members = 1000
	ctx := context.Background()
	s := benchStore(b)
	exp := time.Now().Add(time.Hour)
	for i := range members {
		for _, it := range []chatfly.Item{
			{Key: chatfly.Key{Partition: "room#big", Sort: fmt.Sprintf("mem#%06d", i)}, Value: fmt.Appendf(nil, `{"name":"user%d","conn":"c%d"}`, i, i), Expires: exp},
			{Key: chatfly.Key{Partition: "room#big", Sort: fmt.Sprintf("msg#%06d", i)}},
			{Key: chatfly.Key{Partition: "room#big", Sort: fmt.Sprintf("ban#%06d", i)}},
		} {
			if _, err := s.Put(ctx, it, chatfly.Always); err != nil {
				b.Fatal(err)
			}
		}
	}
	q := chatfly.Query{Partition: "room#big", Prefix: "mem#"}
	b.ReportAllocs()
	b.ResetTimer()
	parallel(b, func(int, int) error {
		items, err := s.Query(ctx, q)
		if err == nil && len(items) != members {
			err = fmt.Errorf("Query returned %d items", len(items))
		}
		return err
	})
}

// BenchmarkGet reads connection items among 10,000.
func BenchmarkGet(b *testing.B) {
	const conns = 10_000
	ctx := context.Background()
	s := benchStore(b)
	exp := time.Now().Add(time.Hour)
	for i := range conns {
		it := chatfly.Item{Key: chatfly.Key{Partition: "conn#" + strconv.Itoa(i), Sort: "conn"}, Value: []byte(`{"session":"s","rooms":["lobby"]}`), Expires: exp}
		if _, err := s.Put(ctx, it, chatfly.Always); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	parallel(b, func(g, i int) error {
		_, err := s.Get(ctx, chatfly.Key{Partition: "conn#" + strconv.Itoa((g*7919+i)%conns), Sort: "conn"})
		return err
	})
}

// BenchmarkBatch reads, then writes, the items of 10 connections (one
// room's members, say) on one goroutine: one at a time, then in one
// GetMany or WriteMany, as the latency of one action.
func BenchmarkBatch(b *testing.B) {
	const n = 10
	ctx := context.Background()
	s := benchStore(b).(*redisstore.Store)
	keys := make([]chatfly.Key, n)
	writes := make([]chatfly.Write, n)
	for i := range keys {
		keys[i] = chatfly.Key{Partition: "conn#" + strconv.Itoa(i), Sort: "conn"}
		writes[i] = chatfly.Write{Item: chatfly.Item{Key: keys[i], Value: []byte(`{"session":"s","rooms":["lobby"]}`), Expires: time.Now().Add(time.Hour)}}
	}
	b.Run("Put10", func(b *testing.B) {
		for b.Loop() {
			for _, w := range writes {
				if _, err := s.Put(ctx, w.Item, chatfly.Always); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("WriteMany10", func(b *testing.B) {
		for b.Loop() {
			if err := s.WriteMany(ctx, writes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get10", func(b *testing.B) {
		for b.Loop() {
			for _, k := range keys {
				if _, err := s.Get(ctx, k); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("GetMany10", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetMany(ctx, keys); err != nil {
				b.Fatal(err)
			}
		}
	})
}
