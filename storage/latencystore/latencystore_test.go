package latencystore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.RunConformanceTests(t, storagetest.HarnessFunc(func(context.Context, *testing.T) (*storagetest.Env, error) {
		clock := storagetest.NewFakeClock(time.Time{})
		return &storagetest.Env{Storage: New(memstore.New(&memstore.Options{Now: clock.Now}), nil).Storage(), Clock: clock}, nil
	}))
}

// full is an inner Storage with every optional interface: memstore's
// calls, and the others recorded.
type full struct {
	*memstore.Store
	mu    sync.Mutex
	calls []string
}

func (f *full) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *full) GetMany(ctx context.Context, keys []chatfly.Key) ([]chatfly.Item, error) {
	f.record("GetMany")
	items := make([]chatfly.Item, len(keys))
	for i, k := range keys {
		it, err := f.Get(ctx, k)
		if errors.Is(err, chatfly.ErrNotFound) {
			it, err = chatfly.Item{Key: k}, nil
		}
		if err != nil {
			return nil, err
		}
		items[i] = it
	}
	return items, nil
}

func (f *full) WriteMany(ctx context.Context, writes []chatfly.Write) error {
	f.record("WriteMany")
	for _, w := range writes {
		var err error
		if w.Delete {
			err = f.Delete(ctx, w.Item.Key, chatfly.Always)
		} else {
			_, err = f.Put(ctx, w.Item, chatfly.Always)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (f *full) Touch(context.Context, chatfly.Key, time.Time, chatfly.Cond) error {
	f.record("Touch")
	return nil
}

func (f *full) ValueConditions() {}

// TestCapabilities checks that Storage has exactly the optional interfaces
// of the inner Storage (every combination is chatfly.WrapStorage's, tested
// in its package), and that they reach the inner Storage.
func TestCapabilities(t *testing.T) {
	ctx := t.Context()
	plain := New(struct{ chatfly.Storage }{memstore.New(nil)}, nil).Storage()
	_, scan := plain.(chatfly.Scanner)
	_, batch := plain.(chatfly.Batcher)
	_, touch := plain.(chatfly.Toucher)
	_, value := plain.(chatfly.ValueConditioner)
	assert.False(t, scan || batch || touch || value, "over a Storage without any")

	f := &full{Store: memstore.New(nil)}
	ls := New(f, nil)
	s := ls.Storage()
	require.True(t, f == ls.Inner(), "Inner")
	_, scan = s.(chatfly.Scanner)
	_, value = s.(chatfly.ValueConditioner)
	b, batch := s.(chatfly.Batcher)
	tc, touch := s.(chatfly.Toucher)
	require.True(t, scan && value && batch && touch, "over a Storage with every one")
	require.NoError(t, b.WriteMany(ctx, []chatfly.Write{{Item: chatfly.Item{Key: chatfly.Key{Partition: "p", Sort: "a"}}}}))
	_, err := b.GetMany(ctx, []chatfly.Key{{Partition: "p", Sort: "a"}})
	require.NoError(t, err)
	require.NoError(t, tc.Touch(ctx, chatfly.Key{Partition: "p", Sort: "a"}, time.Time{}, chatfly.Always))
	assert.Equal(t, []string{"WriteMany", "GetMany", "Touch"}, f.calls)
	assert.Equal(t, int64(3), ls.Stats().Total().Calls, "counted by the Store")
}

// sleeps records the sleeps of a Store instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

// everyCall makes one call of every kind a Storage over memstore with
// every capability offers, a GetMany of 150 keys and a WriteMany of 30
// writes among them.
func everyCall(t *testing.T, ls *Store) {
	ctx := t.Context()
	s := ls.Storage()
	k := chatfly.Key{Partition: "p", Sort: "a"}
	_, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("v")}, chatfly.Always)
	require.NoError(t, err)
	_, err = s.Get(ctx, k)
	require.NoError(t, err)
	_, err = s.Add(ctx, chatfly.Key{Partition: "p", Sort: "n"}, 1, time.Time{})
	require.NoError(t, err)
	_, err = s.Query(ctx, chatfly.Query{Partition: "p"})
	require.NoError(t, err)
	require.NoError(t, s.(chatfly.Scanner).Scan(ctx, chatfly.Query{Partition: "p"}, func(*chatfly.Item, int) bool { return true }))
	keys := make([]chatfly.Key, 150)
	writes := make([]chatfly.Write, 30)
	for i := range keys {
		keys[i] = chatfly.Key{Partition: "many", Sort: strings.Repeat("k", i+1)}
		if i < len(writes) {
			writes[i] = chatfly.Write{Item: chatfly.Item{Key: keys[i]}}
		}
	}
	require.NoError(t, s.(chatfly.Batcher).WriteMany(ctx, writes))
	_, err = s.(chatfly.Batcher).GetMany(ctx, keys)
	require.NoError(t, err)
	require.NoError(t, s.(chatfly.Toucher).Touch(ctx, k, time.Time{}, chatfly.Always))
	require.NoError(t, s.Delete(ctx, k, chatfly.Always))
}

func TestOneSleepPerCall(t *testing.T) {
	var rec sleeps
	s := New(&full{Store: memstore.New(nil)}, &Options{Latency: 3 * time.Millisecond, Jitter: time.Millisecond, Seed: 7, Sleep: rec.sleep})
	everyCall(t, s)
	st := s.Stats()
	require.Len(t, rec.d, 9, "one sleep per call, batches included")
	distinct := map[time.Duration]bool{}
	var sum time.Duration
	for _, d := range rec.d {
		assert.GreaterOrEqual(t, d, 2*time.Millisecond)
		assert.LessOrEqual(t, d, 4*time.Millisecond)
		distinct[d] = true
		sum += d
	}
	assert.Greater(t, len(distinct), 1, "the jitter varies the sleeps")
	assert.Equal(t, sum, st.Total().Slept)
	for op := range NumOps {
		assert.Equal(t, int64(1), st[op].Calls, "%v calls", op)
	}
	assert.Equal(t, int64(2), st[OpGetMany].Rounds, "150 keys: 2 BatchGetItem requests")
	assert.Equal(t, int64(2), st[OpWriteMany].Rounds, "30 writes: 2 BatchWriteItem requests")
	assert.Equal(t, int64(7+2+2), st.Total().Rounds)

	var again sleeps
	everyCall(t, New(&full{Store: memstore.New(nil)}, &Options{Latency: 3 * time.Millisecond, Jitter: time.Millisecond, Seed: 7, Sleep: again.sleep}))
	assert.Equal(t, rec.d, again.d, "the same seed gives the same sleeps")
}

func TestNoLatencyNoSleep(t *testing.T) {
	var rec sleeps
	s := New(&full{Store: memstore.New(nil)}, &Options{Sleep: rec.sleep})
	everyCall(t, s)
	assert.Empty(t, rec.d)
	assert.Equal(t, int64(9), s.Stats().Total().Calls)
}

func TestEmptyBatchNoRoundTrip(t *testing.T) {
	var rec sleeps
	s := New(&full{Store: memstore.New(nil)}, &Options{Latency: time.Millisecond, Sleep: rec.sleep})
	b := s.Storage().(chatfly.Batcher)
	_, err := b.GetMany(t.Context(), nil)
	require.NoError(t, err)
	require.NoError(t, b.WriteMany(t.Context(), nil))
	assert.Empty(t, rec.d)
	assert.Equal(t, int64(2), s.Stats().Total().Calls)
	assert.Zero(t, s.Stats().Total().Rounds)
}

// TestCancelledDuringSleep: a call whose ctx ends during its sleep fails
// with the ctx's error and never reaches the inner Storage.
func TestCancelledDuringSleep(t *testing.T) {
	inner := memstore.New(nil)
	s := New(inner, &Options{Latency: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, chatfly.Item{Key: chatfly.Key{Partition: "p", Sort: "a"}}, chatfly.Always)
		done <- err
	}()
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, inner.Len(), "the inner Storage was not called")
	st := s.Stats()[OpPut]
	assert.Equal(t, OpStats{Calls: 1, Errors: 1}, OpStats{Calls: st.Calls, Errors: st.Errors, Rounds: st.Rounds, WCU: st.WCU})
}

// TestCapacityUnits checks the DynamoDB estimates on items of known sizes.
func TestCapacityUnits(t *testing.T) {
	ctx := t.Context()
	s := New(memstore.New(nil), nil)
	big := chatfly.Item{Key: chatfly.Key{Partition: "room", Sort: "meta"}, Value: make([]byte, 5000)}
	v, err := s.Put(ctx, big, chatfly.IfAbsent)
	require.NoError(t, err)
	_, err = s.Put(ctx, big, chatfly.IfAbsent)
	require.ErrorIs(t, err, chatfly.ErrConflict)
	got, err := s.Get(ctx, big.Key)
	require.NoError(t, err)
	size := itemSize(&got) // 5000 bytes, the keys and numbers: 5 KB
	_, err = s.Get(ctx, chatfly.Key{Partition: "room", Sort: "none"})
	require.ErrorIs(t, err, chatfly.ErrNotFound)
	for _, sort := range []string{"m1", "m2", "m3"} {
		_, err := s.Put(ctx, chatfly.Item{Key: chatfly.Key{Partition: "msgs", Sort: sort}, Value: make([]byte, 2000)}, chatfly.Always)
		require.NoError(t, err)
	}
	before := s.Stats()
	items, err := s.Query(ctx, chatfly.Query{Partition: "msgs"})
	require.NoError(t, err)
	require.Len(t, items, 3)
	_, err = s.Query(ctx, chatfly.Query{Partition: "empty"})
	require.NoError(t, err)

	st := s.Stats()
	put := st[OpPut]
	assert.Equal(t, int64(5+5+2+2+2), put.WCU, "5 KB twice (the failed condition too), 2 KB three times")
	assert.Equal(t, int64(5), put.Calls)
	assert.Equal(t, int64(1), put.Conflicts)
	assert.Equal(t, int64(2+1), st[OpGet].RCU, "5 KB read: 2; a missing item: 1")
	assert.Equal(t, size, st[OpGet].BytesRead)
	assert.Equal(t, int64(1), st[OpGet].ItemsRead)
	q := st.Sub(before)
	assert.Equal(t, int64(2+1), q[OpQuery].RCU, "3×2 KB summed: 2 (not 3); an empty Query: 1")
	assert.Equal(t, int64(3), q[OpQuery].ItemsRead)
	assert.Zero(t, q[OpPut].Calls, "Sub leaves the calls since before")
	assert.Equal(t, int64(2), q.Total().Rounds)
	assert.Equal(t, st, q.Add(before), "Add undoes Sub")
	assert.Greater(t, v, int64(0))
}
