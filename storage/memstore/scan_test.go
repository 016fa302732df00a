package memstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/storage/storagetest"
)

// TestScanMatchesQuery checks that Scan visits exactly the items Query
// returns, in the same order, with a correct left hint, among live,
// expired and deleted items, for every kind of query.
func TestScanMatchesQuery(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewFakeClock(time.Unix(1_700_000_000, 0))
	s := memstore.New(&memstore.Options{Now: clock.Now})
	rng := rand.New(rand.NewPCG(1, 2))
	const part = "room#r"
	for i := range 300 {
		sort := fmt.Sprintf("%s#%04d", []string{"mem", "msg", "name"}[i%3], rng.IntN(200))
		it := chatfly.Item{Key: chatfly.Key{Partition: part, Sort: sort}, Value: []byte(sort)}
		if rng.IntN(4) == 0 {
			it.Expires = clock.Now().Add(time.Duration(rng.IntN(10)) * time.Second)
		}
		if _, err := s.Put(ctx, it, chatfly.Always); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(5) == 0 {
			if err := s.Delete(ctx, chatfly.Key{Partition: part, Sort: fmt.Sprintf("msg#%04d", rng.IntN(200))}, chatfly.Always); err != nil {
				t.Fatal(err)
			}
		}
	}
	clock.Advance(5 * time.Second)
	for _, prefix := range []string{"", "mem#", "msg#", "nope#"} {
		for _, after := range []string{"", "msg#0100", "mem#0050"} {
			for _, reverse := range []bool{false, true} {
				for _, limit := range []int{0, 1, 7, 1000} {
					q := chatfly.Query{Partition: part, Prefix: prefix, StartAfter: after, Reverse: reverse, Limit: limit}
					want, err := s.Query(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					var got []chatfly.Item
					err = s.Scan(ctx, q, func(it *chatfly.Item, left int) bool {
						if rest := len(want) - len(got); left < rest {
							t.Errorf("%+v: left %d with %d items to come", q, left, rest)
						}
						got = append(got, *it)
						return true
					})
					if err != nil {
						t.Fatal(err)
					}
					if !slices.EqualFunc(got, want, func(a, b chatfly.Item) bool {
						return a.Key == b.Key && string(a.Value) == string(b.Value) && a.Version == b.Version && a.Expires.Equal(b.Expires)
					}) {
						t.Fatalf("%+v: Scan visited %d items, Query returned %d (or they differ)", q, len(got), len(want))
					}
				}
			}
		}
	}
	// Stopping early.
	n := 0
	if err := s.Scan(ctx, chatfly.Query{Partition: part}, func(*chatfly.Item, int) bool { n++; return n < 3 }); err != nil || n != 3 {
		t.Fatalf("Scan stopped after %d items, %v", n, err)
	}
}
