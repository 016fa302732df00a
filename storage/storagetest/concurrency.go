package storagetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatfly/chatfly"
)

// The concurrent cases call Storage from several goroutines and report with
// t.Errorf, which is safe from any goroutine.

func concurrencyCases() testCase {
	return group("Concurrency",
		tc("AddGapless", testAddGapless),
		tc("IfAbsentRace", testIfAbsentRace),
		tc("CompareAndSwap", testCompareAndSwap),
		tc("AppendWhileQuerying", testAppendWhileQuerying),
	)
}

// race runs f(i) for i in [0, n) in n goroutines that start together.
func race(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

func testAddGapless(t *testing.T, e *env) {
	const workers, adds = 20, 25
	k := key(e.part("p"), "seq")
	got := make([][]int64, workers)
	race(workers, func(w int) {
		for range adds {
			n, err := e.Storage.Add(e.ctx, k, 1, never)
			if err != nil {
				t.Errorf("Add(%s, 1): %v", fmtKey(k), err)
				return
			}
			got[w] = append(got[w], n)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	var all []int64
	for w, ns := range got {
		// Each goroutine's Adds are sequential, so it sees growing numbers.
		if !slices.IsSorted(ns) {
			t.Errorf("goroutine %d got numbers out of order: %v", w, ns)
		}
		all = append(all, ns...)
	}
	slices.Sort(all)
	for i, n := range all {
		if n != int64(i+1) {
			t.Fatalf("%d concurrent Add(+1) did not return each of 1..%d once: sorted results start %v",
				workers*adds, workers*adds, all[:min(len(all), i+5)])
		}
	}
	e.wantState(t, k, state{N: workers * adds, Version: workers * adds})
}

func testIfAbsentRace(t *testing.T, e *env) {
	const workers = 20
	k := key(e.part("p"), "claim")
	var wins atomic.Int32
	winner, version := -1, int64(0)
	race(workers, func(w int) {
		v, err := e.Storage.Put(e.ctx, item(k, fmt.Sprint(w), never), chatfly.IfAbsent)
		switch {
		case err == nil:
			if wins.Add(1) == 1 {
				winner, version = w, v
			}
		case errors.Is(err, chatfly.ErrConflict):
		default:
			t.Errorf("Put(%s, IfAbsent): %v, want nil or ErrConflict", fmtKey(k), err)
		}
	})
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of %d concurrent Put(IfAbsent) succeeded, want exactly 1", n, workers)
	}
	if msg := e.sawVersion(k, version, 1, true); msg != "" {
		t.Fatalf("winning Put(%s, IfAbsent): %s", fmtKey(k), msg)
	}
	e.wantState(t, k, state{Value: []byte(fmt.Sprint(winner)), Version: 1})
}

func testCompareAndSwap(t *testing.T, e *env) {
	const workers, increments = 10, 20
	const maxAttempts = 100 * workers * increments
	type counter struct {
		N int `json:"n"`
	}
	k := key(e.part("p"), "game")
	init, _ := json.Marshal(counter{})
	e.wantPut(t, chatfly.Item{Key: k, Value: init}, chatfly.Always, 1)
	var conflicts atomic.Int64
	race(workers, func(int) {
		for done, attempts := 0, 0; done < increments; attempts++ {
			if attempts == maxAttempts {
				t.Errorf("no progress after %d attempts", attempts)
				return
			}
			it, err := e.Storage.Get(e.ctx, k)
			if err != nil {
				t.Errorf("Get(%s): %v", fmtKey(k), err)
				return
			}
			var c counter
			if err := json.Unmarshal(it.Value, &c); err != nil {
				t.Errorf("Get(%s) returned %q: %v", fmtKey(k), it.Value, err)
				return
			}
			c.N++
			b, _ := json.Marshal(c)
			v, err := e.Storage.Put(e.ctx, chatfly.Item{Key: k, Value: b}, chatfly.IfVersion(it.Version))
			switch {
			case err == nil:
				if v != it.Version+1 {
					t.Errorf("Put(IfVersion(%d)) returned version %d", it.Version, v)
				}
				done++
			case errors.Is(err, chatfly.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("Put(%s, IfVersion(%d)): %v", fmtKey(k), it.Version, err)
				return
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d conflicts", conflicts.Load())
	want, _ := json.Marshal(counter{N: workers * increments})
	e.wantState(t, k, state{Value: want, Version: 1 + workers*increments})
}

// testAppendWhileQuerying appends items to a partition while other
// goroutines query it: every result must be in order and hold only written
// items, and the writes must all be there at the end.
func testAppendWhileQuerying(t *testing.T, e *env) {
	const writers, appends, readers = 4, 40, 4
	p := e.part("p")
	var wg sync.WaitGroup
	done := make(chan struct{})
	for r := range readers {
		wg.Go(func() {
			reverse := r%2 == 1
			for {
				select {
				case <-done:
					return
				default:
				}
				q := chatfly.Query{Partition: p, Prefix: "msg#", Reverse: reverse}
				if r >= 2 {
					q.Limit = 10
				}
				items, err := e.Storage.Query(e.ctx, q)
				if err != nil {
					t.Errorf("%s: %v", fmtQuery(q), err)
					return
				}
				keys := sortKeys(items)
				if reverse {
					keys = reversed(keys)
				}
				if !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != len(keys) {
					t.Errorf("%s during writes returned keys out of order: %q", fmtQuery(q), sortKeys(items))
					return
				}
				for _, it := range items {
					if string(it.Value) != it.Sort {
						t.Errorf("%s during writes returned item %q with value %q", fmtQuery(q), it.Sort, it.Value)
						return
					}
				}
			}
		})
	}
	var want []string
	for w := range writers {
		for i := range appends {
			want = append(want, fmt.Sprintf("msg#%04d#%d", i, w))
		}
	}
	slices.Sort(want)
	race(writers, func(w int) {
		for i := range appends {
			s := fmt.Sprintf("msg#%04d#%d", i, w)
			if _, err := e.Storage.Put(e.ctx, item(key(p, s), s, never), chatfly.IfAbsent); err != nil {
				t.Errorf("Put(%s): %v", fmtKey(key(p, s)), err)
				return
			}
		}
	})
	close(done)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	e.wantQuery(t, chatfly.Query{Partition: p}, want)
}
