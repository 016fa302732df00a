// Package latencystore wraps a [chatfly.Storage] to make every call take as
// long as a call to a remote database does, and to count what the calls
// would cost on DynamoDB. chatfly-bench and tests use it to measure the
// Hub's hot path with the latency of an in-region DynamoDB call (a few
// milliseconds) on top of the memory store, and to budget storage round
// trips and capacity units per action.
//
// Use [New] with the Storage to wrap and the latency to add:
//
//	s := latencystore.New(memstore.New(nil), &latencystore.Options{Latency: 3 * time.Millisecond, Jitter: time.Millisecond})
//	hub := chatfly.New(s.Storage(), transport, nil)
//	...
//	st := s.Stats() // calls, round trips, bytes and DynamoDB units by operation
//
// Every call sleeps once, for Latency plus a uniform jitter in
// [-Jitter, +Jitter], before it is passed on (a batched call, [chatfly.Batcher]
// GetMany or WriteMany, sleeps once too, as one BatchGetItem would take one
// round trip). A ctx that ends during the sleep ends the call with an error
// that wraps ctx.Err(), and the inner Storage is not called.
//
// [Store.Storage] implements exactly the optional interfaces of chatfly
// that the inner Storage implements ([chatfly.Scanner], [chatfly.Batcher],
// [chatfly.Toucher], [chatfly.ValueConditioner]) and no other (through
// [chatfly.WrapStorage]), so a Hub over it takes the same paths as over the
// inner Storage.
package latencystore

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/delay"
)

// Options configures the Storage returned by [New]. A nil *Options, like
// the zero value, adds no latency (calls are then only counted).
type Options struct {
	// Latency is how long every call sleeps before it is passed on. Zero:
	// no sleep (besides the jitter).
	Latency time.Duration
	// Jitter spreads the sleeps uniformly over [Latency-Jitter,
	// Latency+Jitter] (a sleep shorter than zero is none). Zero: every
	// sleep is exactly Latency.
	Jitter time.Duration
	// Seed seeds the random jitter, so that a run can be repeated with the
	// same sequence of sleeps.
	Seed uint64
	// Sleep, if set, is called instead of sleeping on a timer (tests use it
	// to see the sleeps without waiting for them). It must return an error
	// that wraps ctx.Err() when ctx ends before d has passed.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Store adds latency to the calls of a Storage and counts them. It is
// itself a Storage with the five calls only (like its inner Storage
// without the optional interfaces); hand out [Store.Storage], which also
// implements exactly the optional interfaces of chatfly that the inner
// Storage implements. It is safe for concurrent use if the inner Storage
// is.
type Store struct {
	inner chatfly.Storage
	opts  Options

	mu    sync.Mutex
	rng   *rand.Rand
	stats Stats
}

// New returns inner with the latency of opts added to every call.
func New(inner chatfly.Storage, opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Sleep == nil {
		o.Sleep = delay.Sleep
	}
	return &Store{inner: inner, opts: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
}

// Storage returns s as a Storage that also has the optional interfaces
// (Scanner, Batcher, Toucher, ValueConditioner) that s's inner Storage
// has, each call sleeping and counted like the five others.
func (s *Store) Storage() chatfly.Storage { return chatfly.WrapStorage(withCaps{s}, s.inner) }

// wait sleeps the latency of one call of kind op, and counts its time. If
// ctx ends first, it counts the call as failed, with no round trip, and
// returns the error.
func (s *Store) wait(ctx context.Context, op Op) error {
	err := s.sleep(ctx, op)
	if err != nil {
		s.count(op, OpStats{}, err)
	}
	return err
}

func (s *Store) sleep(ctx context.Context, op Op) error {
	d := s.opts.Latency
	if s.opts.Jitter > 0 {
		s.mu.Lock()
		d += time.Duration(s.rng.Int64N(int64(2*s.opts.Jitter)+1)) - s.opts.Jitter
		s.mu.Unlock()
	}
	if d <= 0 {
		return ctx.Err()
	}
	s.mu.Lock()
	s.stats.op(op).Slept += d
	s.mu.Unlock()
	return s.opts.Sleep(ctx, d)
}

// count adds one call of kind op to the stats, with what it read and wrote.
func (s *Store) count(op Op, c OpStats, err error) {
	c.Calls = 1
	if err != nil {
		c.Errors = 1
		if errors.Is(err, chatfly.ErrConflict) {
			c.Conflicts = 1
		}
	}
	s.mu.Lock()
	s.stats.op(op).add(c)
	s.mu.Unlock()
}

// Stats returns the counts of every call made so far.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Inner returns the wrapped Storage.
func (s *Store) Inner() chatfly.Storage { return s.inner }

func (s *Store) Get(ctx context.Context, key chatfly.Key) (chatfly.Item, error) {
	if err := s.wait(ctx, OpGet); err != nil {
		return chatfly.Item{}, err
	}
	it, err := s.inner.Get(ctx, key)
	c := OpStats{Rounds: 1, RCU: 1} // a missing item costs a read too
	if err == nil {
		c = readOne(&it)
	}
	s.count(OpGet, c, err)
	return it, err
}

func (s *Store) Put(ctx context.Context, item chatfly.Item, cond chatfly.Cond) (int64, error) {
	if err := s.wait(ctx, OpPut); err != nil {
		return 0, err
	}
	v, err := s.inner.Put(ctx, item, cond)
	s.count(OpPut, writeOne(&item), err) // a failed condition consumes capacity too
	return v, err
}

func (s *Store) Delete(ctx context.Context, key chatfly.Key, cond chatfly.Cond) error {
	if err := s.wait(ctx, OpDelete); err != nil {
		return err
	}
	err := s.inner.Delete(ctx, key, cond)
	s.count(OpDelete, deleteOne(), err)
	return err
}

func (s *Store) Add(ctx context.Context, key chatfly.Key, delta int64, expires time.Time) (int64, error) {
	if err := s.wait(ctx, OpAdd); err != nil {
		return 0, err
	}
	n, err := s.inner.Add(ctx, key, delta, expires)
	s.count(OpAdd, writeOne(&chatfly.Item{Key: key, N: n, Expires: expires}), err)
	return n, err
}

func (s *Store) Query(ctx context.Context, q chatfly.Query) ([]chatfly.Item, error) {
	if err := s.wait(ctx, OpQuery); err != nil {
		return nil, err
	}
	items, err := s.inner.Query(ctx, q)
	var qc queryCost
	for i := range items {
		qc.add(&items[i])
	}
	s.count(OpQuery, qc.stats(), err)
	return items, err
}
