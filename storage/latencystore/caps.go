package latencystore

import (
	"context"
	"time"

	"github.com/chatfly/chatfly"
)

// withCaps is a Store with every optional interface of chatfly, each
// passed on to the inner Storage; [Store.Storage] hands it out through
// chatfly.WrapStorage, which keeps only those the inner Storage has.
type withCaps struct{ *Store }

func (m withCaps) Scan(ctx context.Context, q chatfly.Query, f func(it *chatfly.Item, left int) bool) error {
	s := m.Store
	if err := s.wait(ctx, OpScan); err != nil {
		return err
	}
	var qc queryCost
	err := s.inner.(chatfly.Scanner).Scan(ctx, q, func(it *chatfly.Item, left int) bool {
		qc.add(it)
		return f(it, left)
	})
	s.count(OpScan, qc.stats(), err)
	return err
}

// Batch sizes of DynamoDB's BatchGetItem and BatchWriteItem.
const (
	getBatch   = 100
	writeBatch = 25
)

// GetMany passes an empty batch on without a sleep: it takes no round trip.
func (m withCaps) GetMany(ctx context.Context, keys []chatfly.Key) ([]chatfly.Item, error) {
	s := m.Store
	if len(keys) > 0 {
		if err := s.wait(ctx, OpGetMany); err != nil {
			return nil, err
		}
	}
	items, err := s.inner.(chatfly.Batcher).GetMany(ctx, keys)
	c := OpStats{Rounds: batchRounds(len(keys), getBatch)}
	for i := range items {
		if items[i].Version == 0 { // missing
			c.RCU++
			continue
		}
		r := readOne(&items[i])
		r.Rounds = 0
		c.add(r)
	}
	s.count(OpGetMany, c, err)
	return items, err
}

func (m withCaps) WriteMany(ctx context.Context, writes []chatfly.Write) error {
	s := m.Store
	if len(writes) > 0 {
		if err := s.wait(ctx, OpWriteMany); err != nil {
			return err
		}
	}
	err := s.inner.(chatfly.Batcher).WriteMany(ctx, writes)
	c := OpStats{Rounds: batchRounds(len(writes), writeBatch)}
	for i := range writes {
		w := deleteOne()
		if !writes[i].Delete {
			w = writeOne(&writes[i].Item)
		}
		w.Rounds = 0
		c.add(w)
	}
	s.count(OpWriteMany, c, err)
	return err
}

func (m withCaps) Touch(ctx context.Context, key chatfly.Key, expires time.Time, cond chatfly.Cond) error {
	s := m.Store
	if err := s.wait(ctx, OpTouch); err != nil {
		return err
	}
	err := s.inner.(chatfly.Toucher).Touch(ctx, key, expires, cond)
	s.count(OpTouch, deleteOne(), err)
	return err
}

// ValueConditions forwards the chatfly.ValueConditioner marker: the inner
// Storage evaluates the value conditions, which the wrapper passes on.
func (withCaps) ValueConditions() {}
