// Package hangstore wraps a chatfly.Storage so that tests can make it stop
// answering, as a storage whose backend hangs does: a call that matches
// blocks until its context is done and returns the context's error.
package hangstore

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/chatfly/chatfly"
)

// Store is a chatfly.Storage over another one whose calls hang while they
// match the filter set with HangIf. It is safe for concurrent use. Optional
// capabilities of the wrapped Storage are hidden.
type Store struct {
	chatfly.Storage
	match atomic.Pointer[func(chatfly.Key) bool]
	hung  atomic.Int64
}

// New returns a Store over s that answers normally until HangIf.
func New(s chatfly.Storage) *Store { return &Store{Storage: s} }

// HangIf makes the calls on the keys for which f returns true hang (for
// Query, the key has only the partition). nil: no call hangs.
func (s *Store) HangIf(f func(chatfly.Key) bool) {
	if f == nil {
		s.match.Store(nil)
		return
	}
	s.match.Store(&f)
}

// HangAll makes every call hang.
func (s *Store) HangAll() { s.HangIf(func(chatfly.Key) bool { return true }) }

// Hung returns how many calls have hung so far.
func (s *Store) Hung() int64 { return s.hung.Load() }

// hangs blocks until ctx is done and returns its error if key matches;
// otherwise it returns nil at once.
func (s *Store) hangs(ctx context.Context, key chatfly.Key) error {
	f := s.match.Load()
	if f == nil || !(*f)(key) {
		return nil
	}
	s.hung.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

// Get implements chatfly.Storage.
func (s *Store) Get(ctx context.Context, key chatfly.Key) (chatfly.Item, error) {
	if err := s.hangs(ctx, key); err != nil {
		return chatfly.Item{}, err
	}
	return s.Storage.Get(ctx, key)
}

// Put implements chatfly.Storage.
func (s *Store) Put(ctx context.Context, item chatfly.Item, cond chatfly.Cond) (int64, error) {
	if err := s.hangs(ctx, item.Key); err != nil {
		return 0, err
	}
	return s.Storage.Put(ctx, item, cond)
}

// Delete implements chatfly.Storage.
func (s *Store) Delete(ctx context.Context, key chatfly.Key, cond chatfly.Cond) error {
	if err := s.hangs(ctx, key); err != nil {
		return err
	}
	return s.Storage.Delete(ctx, key, cond)
}

// Query implements chatfly.Storage.
func (s *Store) Query(ctx context.Context, q chatfly.Query) ([]chatfly.Item, error) {
	if err := s.hangs(ctx, chatfly.Key{Partition: q.Partition}); err != nil {
		return nil, err
	}
	return s.Storage.Query(ctx, q)
}

// Add implements chatfly.Storage.
func (s *Store) Add(ctx context.Context, key chatfly.Key, delta int64, expires time.Time) (int64, error) {
	if err := s.hangs(ctx, key); err != nil {
		return 0, err
	}
	return s.Storage.Add(ctx, key, delta, expires)
}
