package chatfly

import (
	"context"
	"errors"
	"sync"
	"time"
)

// The Hub's use of the optional capabilities of its Storage ([Batcher],
// [Toucher], [ValueConditioner]), each with its fallback on the basic
// calls of [Storage], in this one place: the rest of the Hub calls these
// helpers and never asserts a capability itself. A fallback does the same
// work with more calls, issued in parallel (at most maxParallel at once)
// wherever they are independent, so that the number of sequential round
// trips stays the same or grows by one read.
//
// Capabilities are discovered on h.store, which is the Observer's wrapper
// when the Hub has an Observer: what that wrapper forwards is what the Hub
// uses.

// maxParallel bounds the storage calls that one operation of the Hub
// issues at once (the rooms of a disconnect, the items of a presence
// refresh). The number of items is bounded anyway (MaxRoomsPerSession), so
// this only keeps one operation from opening many backend connections; it
// is large enough for the three touches per room of a refresh in the
// default MaxRoomsPerSession (10) to go in one round.
const maxParallel = 32

// each calls f(i) for every i in [0, n), at most maxParallel at once, and
// returns their errors joined. With n == 1 it calls f on this goroutine.
func each(n int, f func(i int) error) error {
	if n == 1 {
		return f(0)
	}
	errs := make([]error, n)
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = f(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// getMany returns the items at keys, in order; a missing item is returned
// with only its Key set (Version 0), as [Batcher.GetMany] does. keys must be
// distinct. Without a Batcher it issues the Gets in parallel.
func (h *Hub) getMany(ctx context.Context, keys []Key) ([]Item, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if b, ok := h.store.(Batcher); ok {
		return b.GetMany(ctx, keys)
	}
	items := make([]Item, len(keys))
	err := each(len(keys), func(i int) error {
		it, err := h.store.Get(ctx, keys[i])
		if errors.Is(err, ErrNotFound) {
			it, err = Item{Key: keys[i]}, nil
		}
		items[i] = it
		return err
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

// writeMany applies unconditional writes (see [Batcher.WriteMany]): in one
// batch with a Batcher, else as parallel Puts and Deletes with [Always].
// It is not atomic.
func (h *Hub) writeMany(ctx context.Context, writes []Write) error {
	if len(writes) == 0 {
		return nil
	}
	if b, ok := h.store.(Batcher); ok {
		return b.WriteMany(ctx, writes)
	}
	return each(len(writes), func(i int) error {
		w := writes[i]
		if w.Delete {
			return h.store.Delete(ctx, w.Item.Key, Always)
		}
		_, err := h.store.Put(ctx, w.Item, Always)
		return err
	})
}

// guarded is one conditional write of [Hub.applyGuarded]: an expiry-only
// update (a touch) or a delete of the item at key, if cond holds. cond may
// be a value condition ([IfValue], [IfPrefix]) whatever the Storage.
type guarded struct {
	key  Key
	cond Cond
	// del deletes the item instead of touching it.
	del bool
	// expires is a touch's new expiry.
	expires time.Time
	// empty says that the item's value is empty and its counter unused:
	// without a Toucher, the touch is then a blind Put of the key with
	// cond (which must not be a value condition), saving the read.
	empty bool
}

// applyGuarded applies ops, which must have distinct keys, and returns one
// error per op: nil if it was applied, ErrConflict if its condition did
// not hold (an absent item included), or the Storage's error.
//
// Every op costs one call when the Storage can do it alone: a Toucher for
// touches, a ValueConditioner for value conditions. Otherwise the ops that
// need it are read first (one GetMany, or parallel Gets), their conditions
// evaluated in memory ([Cond.Holds]), and written with IfVersion of what
// was read: versions never repeat for a key, so a write never lands on an
// item deleted and recreated since the read. A touch without a Toucher
// rewrites the item read with the new expiry, which resets its counter N
// and gives it a new version: touch only items that no one counts with Add.
// The writes go in parallel.
func (h *Hub) applyGuarded(ctx context.Context, ops []guarded) []error {
	tc, canTouch := h.store.(Toucher)
	_, canValue := h.store.(ValueConditioner)
	errs := make([]error, len(ops))
	conds := make([]Cond, len(ops))
	held := make([]*Item, len(ops)) // the item read, for a touch by Put
	var reads []Key
	var readOps []int
	for i, op := range ops {
		conds[i] = op.cond
		_, kind := op.cond.Value()
		if (kind != "" && !canValue) || (!op.del && !canTouch && !op.empty) {
			reads = append(reads, op.key)
			readOps = append(readOps, i)
		}
	}
	items, err := h.getMany(ctx, reads)
	for j, i := range readOps {
		if err != nil { // items is then empty
			errs[i] = err
			continue
		}
		switch it := &items[j]; {
		case it.Version == 0 || !ops[i].cond.Holds(it):
			errs[i] = ErrConflict
		default:
			conds[i], held[i] = IfVersion(it.Version), it
		}
	}
	_ = each(len(ops), func(i int) error {
		op := ops[i]
		switch {
		case errs[i] != nil:
		case op.del:
			errs[i] = h.store.Delete(ctx, op.key, conds[i])
		case canTouch:
			errs[i] = tc.Touch(ctx, op.key, op.expires, conds[i])
		default:
			it := Item{Key: op.key, Expires: op.expires}
			if held[i] != nil {
				it.Value = held[i].Value
			}
			_, errs[i] = h.store.Put(ctx, it, conds[i])
		}
		return nil
	})
	return errs
}

// extendItem sets the expiry of it, an item the caller read or wrote at
// it.Version, to expires if it is still at that version, and returns the
// version it is at afterwards: the same with a Toucher, the next one
// otherwise (a Put of it with IfVersion, which resets its counter N). It
// returns ErrConflict if the item changed or is gone.
func (h *Hub) extendItem(ctx context.Context, it Item, expires time.Time) (int64, error) {
	if tc, ok := h.store.(Toucher); ok {
		return it.Version, tc.Touch(ctx, it.Key, expires, IfVersion(it.Version))
	}
	it.Expires = expires
	return h.store.Put(ctx, it, IfVersion(it.Version))
}
