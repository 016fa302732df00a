package latencystore

import (
	"context"
	"time"

	"github.com/chatfly/chatfly"
)

// The optional interfaces of chatfly a store may forward, as bits.
const (
	capScan = 1 << iota
	capBatch
	capTouch
	capValue
)

// withCapabilities returns s as a Store whose dynamic type implements
// exactly the optional interfaces that s.inner implements.
func (s *store) withCapabilities() Store {
	var caps int
	if _, ok := s.inner.(chatfly.Scanner); ok {
		caps |= capScan
	}
	if _, ok := s.inner.(chatfly.Batcher); ok {
		caps |= capBatch
	}
	if _, ok := s.inner.(chatfly.Toucher); ok {
		caps |= capTouch
	}
	if _, ok := s.inner.(chatfly.ValueConditioner); ok {
		caps |= capValue
	}
	return s.withCaps(caps)
}

// withCaps returns s as a Store with the capabilities in caps (tests use
// it to make every combination).
func (s *store) withCaps(caps int) Store {
	sc, b, t, v := scanner{s}, batcher{s}, toucher{s}, valueConds{}
	switch caps {
	case capScan:
		return struct {
			*store
			scanner
		}{s, sc}
	case capBatch:
		return struct {
			*store
			batcher
		}{s, b}
	case capScan | capBatch:
		return struct {
			*store
			scanner
			batcher
		}{s, sc, b}
	case capTouch:
		return struct {
			*store
			toucher
		}{s, t}
	case capScan | capTouch:
		return struct {
			*store
			scanner
			toucher
		}{s, sc, t}
	case capBatch | capTouch:
		return struct {
			*store
			batcher
			toucher
		}{s, b, t}
	case capScan | capBatch | capTouch:
		return struct {
			*store
			scanner
			batcher
			toucher
		}{s, sc, b, t}
	case capValue:
		return struct {
			*store
			valueConds
		}{s, v}
	case capScan | capValue:
		return struct {
			*store
			scanner
			valueConds
		}{s, sc, v}
	case capBatch | capValue:
		return struct {
			*store
			batcher
			valueConds
		}{s, b, v}
	case capScan | capBatch | capValue:
		return struct {
			*store
			scanner
			batcher
			valueConds
		}{s, sc, b, v}
	case capTouch | capValue:
		return struct {
			*store
			toucher
			valueConds
		}{s, t, v}
	case capScan | capTouch | capValue:
		return struct {
			*store
			scanner
			toucher
			valueConds
		}{s, sc, t, v}
	case capBatch | capTouch | capValue:
		return struct {
			*store
			batcher
			toucher
			valueConds
		}{s, b, t, v}
	case capScan | capBatch | capTouch | capValue:
		return struct {
			*store
			scanner
			batcher
			toucher
			valueConds
		}{s, sc, b, t, v}
	}
	return s
}

// scanner forwards chatfly.Scanner.
type scanner struct{ s *store }

func (m scanner) Scan(ctx context.Context, q chatfly.Query, f func(it *chatfly.Item, left int) bool) error {
	s := m.s
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

// batcher forwards chatfly.Batcher. An empty batch is passed on without a
// sleep: it takes no round trip.
type batcher struct{ s *store }

// Batch sizes of DynamoDB's BatchGetItem and BatchWriteItem.
const (
	getBatch   = 100
	writeBatch = 25
)

func (m batcher) GetMany(ctx context.Context, keys []chatfly.Key) ([]chatfly.Item, error) {
	s := m.s
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

func (m batcher) WriteMany(ctx context.Context, writes []chatfly.Write) error {
	s := m.s
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

// toucher forwards chatfly.Toucher.
type toucher struct{ s *store }

func (m toucher) Touch(ctx context.Context, key chatfly.Key, expires time.Time, cond chatfly.Cond) error {
	s := m.s
	if err := s.wait(ctx, OpTouch); err != nil {
		return err
	}
	err := s.inner.(chatfly.Toucher).Touch(ctx, key, expires, cond)
	s.count(OpTouch, deleteOne(), err)
	return err
}

// valueConds forwards the chatfly.ValueConditioner marker: the inner
// Storage evaluates the value conditions, which the wrapper passes on.
type valueConds struct{}

func (valueConds) ValueConditions() {}
