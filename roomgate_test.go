package chatfly

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Posts of one room whose seqs come back out of order (a storage that
// answers in random order) are delivered in seq order; a post that fails
// after taking its seq does not hold the others up; a join that holds the
// room sees no post in flight; and the room's gate is freed once idle.
func TestRoomGateOrder(t *testing.T) {
	h := &Hub{}
	ctx := t.Context()
	var (
		counter   atomic.Int64
		mu        sync.Mutex
		delivered []int64
		inFlight  atomic.Int64
		joinsSeen int
	)
	post := func() {
		turn, err := h.beginPost(ctx, "r")
		if err != nil {
			t.Error(err)
			return
		}
		defer turn.end()
		inFlight.Add(1)
		defer inFlight.Add(-1)
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond) // the seq Add
		seq := counter.Add(1)
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		turn.assigned(seq)
		if seq%7 == 0 {
			return // the message Put failed
		}
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond) // the message Put
		if err := turn.turn(ctx); err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		delivered = append(delivered, seq)
		mu.Unlock()
	}
	join := func() {
		release, err := h.holdRoom(ctx, "r")
		if err != nil {
			t.Error(err)
			return
		}
		if n := inFlight.Load(); n != 0 {
			t.Errorf("a join holds the room with %d posts in flight", n)
		}
		time.Sleep(100 * time.Microsecond)
		mu.Lock()
		joinsSeen++
		mu.Unlock()
		release()
	}
	var wg sync.WaitGroup
	for i := range 400 {
		if i%40 == 0 {
			wg.Go(join)
		}
		wg.Go(post)
	}
	wg.Wait()
	for i := 1; i < len(delivered); i++ {
		if delivered[i] <= delivered[i-1] {
			t.Fatalf("delivered out of seq order: %d after %d", delivered[i], delivered[i-1])
		}
	}
	if want := 400 - 400/7; len(delivered) != want || joinsSeen != 10 {
		t.Fatalf("delivered %d posts (want %d), %d joins (want 10)", len(delivered), want, joinsSeen)
	}
	if len(h.gates) != 0 {
		t.Fatalf("%d gates left after the room went idle", len(h.gates))
	}
}

// A post waiting for a lower seq stops waiting when its context ends.
func TestRoomGateContext(t *testing.T) {
	h := &Hub{}
	first, err := h.beginPost(t.Context(), "r")
	if err != nil {
		t.Fatal(err)
	}
	second, err := h.beginPost(t.Context(), "r")
	if err != nil {
		t.Fatal(err)
	}
	second.assigned(2) // the first has no seq yet: it may hold 1
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := second.turn(ctx); err == nil {
		t.Fatal("the second post did not wait for the first")
	}
	second.end()
	first.assigned(1)
	if err := first.turn(t.Context()); err != nil {
		t.Fatal(err)
	}
	first.end()
	first.end() // twice is harmless
	if len(h.gates) != 0 {
		t.Fatalf("%d gates left", len(h.gates))
	}
}
