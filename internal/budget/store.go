// Package budget measures what the Hub's protocol actions cost in storage
// round trips, and checks them against the per-action budgets of issue 15.
//
// Use [Check] from a test with a Storage to measure: the root package runs
// it on memstore, chatfly/storage/dynamostore on DynamoDB-compatible
// servers. The measure is the number of sequential rounds: calls that
// overlap in time count as one round, since on DynamoDB they cost the
// latency of one call.
package budget

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatfly/chatfly"
)

// Store is a Storage that records when each call starts and ends, and
// holds every call for Delay first so that calls the Hub issues in parallel
// overlap even when the wrapped Storage answers in microseconds. It hides
// the optional capabilities of the Storage it wraps (see [Capable]).
type Store struct {
	chatfly.Storage
	// Delay is added to every call before it reaches the Storage.
	Delay time.Duration

	mu    sync.Mutex
	spans []span
}

type span struct {
	op         string
	start, end time.Time
}

// Cost is what one action cost.
type Cost struct {
	// Rounds is the length of the longest chain of calls each of which
	// started after the previous one ended.
	Rounds int
	// Replied is the rounds of the calls that started before the reply
	// to the frame was sent: the latency the person feels. The rest is
	// work the Hub does after replying.
	Replied int
	// Calls is the number of calls.
	Calls int
	// Ops counts the calls by operation.
	Ops map[string]int
}

// String formats c for test logs, e.g. "3 rounds, 4 calls (Add:1 Put:1 Query:2)".
func (c Cost) String() string {
	var ops []string
	for _, op := range slices.Sorted(maps.Keys(c.Ops)) {
		ops = append(ops, op+":"+strconv.Itoa(c.Ops[op]))
	}
	return strconv.Itoa(c.Replied) + " rounds to the reply, " + strconv.Itoa(c.Rounds) + " in all, " + strconv.Itoa(c.Calls) + " calls (" + strings.Join(ops, " ") + ")"
}

// Take returns the cost of the calls made since the last Take, replied
// being when the reply was sent (zero: no reply).
func (s *Store) Take(replied time.Time) Cost {
	s.mu.Lock()
	spans := s.spans
	s.spans = nil
	s.mu.Unlock()
	return costOf(spans, replied)
}

// costOf computes the rounds of a set of calls: a call's depth is one more
// than the deepest call that ended before it started.
func costOf(spans []span, replied time.Time) Cost {
	slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
	c := Cost{Calls: len(spans), Ops: map[string]int{}}
	depth := make([]int, len(spans))
	for i, sp := range spans {
		c.Ops[sp.op]++
		depth[i] = 1
		for j := range i {
			if !spans[j].end.After(sp.start) {
				depth[i] = max(depth[i], depth[j]+1)
			}
		}
		c.Rounds = max(c.Rounds, depth[i])
		if sp.start.Before(replied) {
			c.Replied = max(c.Replied, depth[i])
		}
	}
	return c
}

// call runs f as one call named op.
func call[T any](s *Store, op string, f func() (T, error)) (T, error) {
	start := time.Now()
	time.Sleep(s.Delay)
	v, err := f()
	s.mu.Lock()
	s.spans = append(s.spans, span{op, start, time.Now()})
	s.mu.Unlock()
	return v, err
}

// Get implements chatfly.Storage.
func (s *Store) Get(ctx context.Context, k chatfly.Key) (chatfly.Item, error) {
	return call(s, "Get", func() (chatfly.Item, error) { return s.Storage.Get(ctx, k) })
}

// Put implements chatfly.Storage.
func (s *Store) Put(ctx context.Context, it chatfly.Item, c chatfly.Cond) (int64, error) {
	return call(s, "Put", func() (int64, error) { return s.Storage.Put(ctx, it, c) })
}

// Delete implements chatfly.Storage.
func (s *Store) Delete(ctx context.Context, k chatfly.Key, c chatfly.Cond) error {
	_, err := call(s, "Delete", func() (struct{}, error) { return struct{}{}, s.Storage.Delete(ctx, k, c) })
	return err
}

// Query implements chatfly.Storage.
func (s *Store) Query(ctx context.Context, q chatfly.Query) ([]chatfly.Item, error) {
	return call(s, "Query", func() ([]chatfly.Item, error) { return s.Storage.Query(ctx, q) })
}

// Add implements chatfly.Storage.
func (s *Store) Add(ctx context.Context, k chatfly.Key, d int64, exp time.Time) (int64, error) {
	return call(s, "Add", func() (int64, error) { return s.Storage.Add(ctx, k, d, exp) })
}

// Capable is a [Store] that also offers the optional capabilities of the
// Storage it wraps, which must implement [chatfly.Batcher],
// [chatfly.Toucher] and [chatfly.ValueConditioner] (see [Wrap]).
type Capable struct{ *Store }

// Wrap returns a Store over st with the given delay: a [Capable] one if st
// implements every optional capability, else a plain one.
func Wrap(st chatfly.Storage, delay time.Duration) chatfly.Storage {
	s := &Store{Storage: st, Delay: delay}
	_, b := st.(chatfly.Batcher)
	_, t := st.(chatfly.Toucher)
	_, v := st.(chatfly.ValueConditioner)
	if b && t && v {
		return Capable{s}
	}
	return s
}

// GetMany implements chatfly.Batcher.
func (s Capable) GetMany(ctx context.Context, keys []chatfly.Key) ([]chatfly.Item, error) {
	return call(s.Store, "GetMany", func() ([]chatfly.Item, error) { return s.Storage.(chatfly.Batcher).GetMany(ctx, keys) })
}

// WriteMany implements chatfly.Batcher.
func (s Capable) WriteMany(ctx context.Context, writes []chatfly.Write) error {
	_, err := call(s.Store, "WriteMany", func() (struct{}, error) {
		return struct{}{}, s.Storage.(chatfly.Batcher).WriteMany(ctx, writes)
	})
	return err
}

// Touch implements chatfly.Toucher.
func (s Capable) Touch(ctx context.Context, key chatfly.Key, exp time.Time, cond chatfly.Cond) error {
	_, err := call(s.Store, "Touch", func() (struct{}, error) {
		return struct{}{}, s.Storage.(chatfly.Toucher).Touch(ctx, key, exp, cond)
	})
	return err
}

// ValueConditions implements chatfly.ValueConditioner.
func (Capable) ValueConditions() {}

// take returns the Store's cost since the last take, whichever the
// wrapper.
func take(st chatfly.Storage, replied time.Time) Cost {
	if c, ok := st.(Capable); ok {
		return c.Take(replied)
	}
	return st.(*Store).Take(replied)
}
