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
// match the filter set with HangIf. A *Store has none of the optional
// interfaces of a Storage; [Store.Storage] has those of the wrapped one.
// It is safe for concurrent use.
type Store struct {
	basic
	inner chatfly.Storage
	match atomic.Pointer[func(chatfly.Key) bool]
	hung  atomic.Int64
}

// basic names the embedded Storage of Store, which hides the optional
// interfaces.
type basic = chatfly.Storage

// New returns a Store over s that answers normally until HangIf.
func New(s chatfly.Storage) *Store {
	hs := &Store{inner: s}
	hs.basic = hanging{hs}
	return hs
}

// Storage returns the Storage whose calls hang, with the optional
// capabilities of the wrapped one (see chatfly.WrapStorage).
func (s *Store) Storage() chatfly.Storage { return chatfly.WrapStorage(hanging{s}, s.inner) }

// HangIf makes the calls on the keys for which f returns true hang (for
// Query, the key has only the partition; for a batch, any of its keys).
// nil: no call hangs.
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

// hangs blocks until ctx is done and returns its error if one of keys
// matches; otherwise it returns nil at once.
func (s *Store) hangs(ctx context.Context, keys ...chatfly.Key) error {
	f := s.match.Load()
	if f == nil {
		return nil
	}
	for _, k := range keys {
		if (*f)(k) {
			s.hung.Add(1)
			<-ctx.Done()
			return ctx.Err()
		}
	}
	return nil
}

// hanging is the Storage of a Store: every method, the optional ones
// included, hangs when its keys match, then calls the inner Storage.
type hanging struct{ s *Store }

func (h hanging) Get(ctx context.Context, key chatfly.Key) (chatfly.Item, error) {
	if err := h.s.hangs(ctx, key); err != nil {
		return chatfly.Item{}, err
	}
	return h.s.inner.Get(ctx, key)
}

func (h hanging) Put(ctx context.Context, item chatfly.Item, cond chatfly.Cond) (int64, error) {
	if err := h.s.hangs(ctx, item.Key); err != nil {
		return 0, err
	}
	return h.s.inner.Put(ctx, item, cond)
}

func (h hanging) Delete(ctx context.Context, key chatfly.Key, cond chatfly.Cond) error {
	if err := h.s.hangs(ctx, key); err != nil {
		return err
	}
	return h.s.inner.Delete(ctx, key, cond)
}

func (h hanging) Query(ctx context.Context, q chatfly.Query) ([]chatfly.Item, error) {
	if err := h.s.hangs(ctx, chatfly.Key{Partition: q.Partition}); err != nil {
		return nil, err
	}
	return h.s.inner.Query(ctx, q)
}

func (h hanging) Add(ctx context.Context, key chatfly.Key, delta int64, expires time.Time) (int64, error) {
	if err := h.s.hangs(ctx, key); err != nil {
		return 0, err
	}
	return h.s.inner.Add(ctx, key, delta, expires)
}

func (h hanging) Scan(ctx context.Context, q chatfly.Query, f func(it *chatfly.Item, left int) bool) error {
	if err := h.s.hangs(ctx, chatfly.Key{Partition: q.Partition}); err != nil {
		return err
	}
	return h.s.inner.(chatfly.Scanner).Scan(ctx, q, f)
}

func (h hanging) GetMany(ctx context.Context, keys []chatfly.Key) ([]chatfly.Item, error) {
	if err := h.s.hangs(ctx, keys...); err != nil {
		return nil, err
	}
	return h.s.inner.(chatfly.Batcher).GetMany(ctx, keys)
}

func (h hanging) WriteMany(ctx context.Context, writes []chatfly.Write) error {
	keys := make([]chatfly.Key, len(writes))
	for i, w := range writes {
		keys[i] = w.Item.Key
	}
	if err := h.s.hangs(ctx, keys...); err != nil {
		return err
	}
	return h.s.inner.(chatfly.Batcher).WriteMany(ctx, writes)
}

func (h hanging) Touch(ctx context.Context, key chatfly.Key, expires time.Time, cond chatfly.Cond) error {
	if err := h.s.hangs(ctx, key); err != nil {
		return err
	}
	return h.s.inner.(chatfly.Toucher).Touch(ctx, key, expires, cond)
}

func (hanging) ValueConditions() {}
