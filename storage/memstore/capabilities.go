package memstore

import (
	"context"
	"time"

	"github.com/chatfly/chatfly"
)

// GetMany returns the items at keys, in order; a missing or expired item
// as an Item with only its Key set. It implements [chatfly.Batcher]: in
// memory it saves nothing but the calls, so it is a Get per key, each
// under the read lock of its key's shard (not a snapshot of them all).
func (s *Store) GetMany(ctx context.Context, keys []chatfly.Key) ([]chatfly.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := clock{now: s.now}
	items := make([]chatfly.Item, len(keys))
	for i, k := range keys {
		items[i] = s.get(k, &c)
	}
	return items, nil
}

// get returns the live item at k, or an Item with only its Key set.
func (s *Store) get(k chatfly.Key, c *clock) chatfly.Item {
	sh := s.shard(k.Partition)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	p := sh.parts[k.Partition].e
	if i, found := p.search(k.Sort); found && p[i].live(c) {
		return p[i].item(k.Partition)
	}
	return chatfly.Item{Key: k}
}

// WriteMany applies writes in order, each as Put (starting a new lifetime
// of the item: a fresh version, N 0) or Delete with chatfly.Always. It
// implements [chatfly.Batcher]. It stops at the first write that fails (a
// write the memory budget refuses, see [Store]), with the writes before it
// applied.
func (s *Store) WriteMany(ctx context.Context, writes []chatfly.Write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, w := range writes {
		var err error
		if w.Delete {
			err = s.Delete(ctx, w.Item.Key, chatfly.Always)
		} else {
			_, err = s.put(w.Item, chatfly.Always, true)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Touch sets the expiry of the item at key if it is live and cond holds,
// leaving its value, counter and version alone; it returns
// chatfly.ErrConflict otherwise. It implements [chatfly.Toucher].
func (s *Store) Touch(ctx context.Context, key chatfly.Key, expires time.Time, cond chatfly.Cond) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := clock{now: s.now}
	w := s.lockWrite(key, &c)
	if w.version == 0 || !w.holds(cond) {
		w.sh.mu.Unlock()
		return chatfly.ErrConflict
	}
	w.p.e[w.i].expires = expires
	w.sh.wrote(&c)
	w.sh.mu.Unlock()
	s.sweepIfDue(&c)
	return nil
}

// ValueConditions marks the Store as evaluating the value conditions
// chatfly.IfValue and chatfly.IfPrefix in Put, Delete and Touch (see
// [chatfly.ValueConditioner]).
func (s *Store) ValueConditions() {}
