package redisstore_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/redistest"
	"github.com/chatfly/chatfly/storage/redisstore"
	"github.com/chatfly/chatfly/storage/storagetest"
)

// The capabilities keep the contract: GetMany in order with missing and
// expired items as keys only; WriteMany's Put a new lifetime; value
// conditions in Put, Delete and Touch.
func TestCapabilities(t *testing.T) {
	forEachServer(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := t.Context()
		clock := storagetest.NewFakeClock(time.Time{})
		s, err := redisstore.New(client, &redisstore.Options{Prefix: redistest.Prefix(t), Now: clock.Now})
		require.NoError(t, err)
		a, b, c := chatfly.Key{Partition: "p1", Sort: "a"}, chatfly.Key{Partition: "p2", Sort: "b"}, chatfly.Key{Partition: "p3", Sort: "c"}
		va, err := s.Put(ctx, chatfly.Item{Key: a, Value: []byte("hello world")}, chatfly.Always)
		require.NoError(t, err)
		_, err = s.Put(ctx, chatfly.Item{Key: b, Value: []byte("x"), Expires: clock.Now().Add(time.Second)}, chatfly.Always)
		require.NoError(t, err)
		clock.Advance(time.Second)
		items, err := s.GetMany(ctx, []chatfly.Key{c, a, b})
		require.NoError(t, err)
		require.Equal(t, []chatfly.Item{{Key: c}, {Key: a, Value: []byte("hello world"), Version: va}, {Key: b}}, items)

		// Value conditions.
		_, err = s.Put(ctx, chatfly.Item{Key: a, Value: []byte("y")}, chatfly.IfValue([]byte("hello")))
		require.ErrorIs(t, err, chatfly.ErrConflict)
		require.ErrorIs(t, s.Delete(ctx, a, chatfly.IfPrefix([]byte("world"))), chatfly.ErrConflict)
		require.ErrorIs(t, s.Touch(ctx, b, time.Time{}, chatfly.IfPrefix(nil)), chatfly.ErrConflict, "expired")
		require.NoError(t, s.Touch(ctx, a, clock.Now().Add(time.Hour), chatfly.IfPrefix([]byte("hello "))))
		v, err := s.Put(ctx, chatfly.Item{Key: a, Value: []byte("y")}, chatfly.IfValue([]byte("hello world")))
		require.NoError(t, err)
		require.Equal(t, va+1, v, "Touch leaves the version alone")
		require.NoError(t, s.Delete(ctx, a, chatfly.IfValue([]byte("y"))))

		// WriteMany: a new lifetime per Put, N 0; deletes.
		n, err := s.Add(ctx, c, 5, time.Time{})
		require.NoError(t, err)
		require.Equal(t, int64(5), n)
		old, err := s.Get(ctx, c)
		require.NoError(t, err)
		require.NoError(t, s.WriteMany(ctx, []chatfly.Write{
			{Item: chatfly.Item{Key: c, Value: []byte("c")}},
			{Item: chatfly.Item{Key: a, Value: []byte("a")}},
			{Item: chatfly.Item{Key: b}, Delete: true},
		}))
		items, err = s.GetMany(ctx, []chatfly.Key{a, b, c})
		require.NoError(t, err)
		require.Equal(t, []byte("a"), items[0].Value)
		require.Greater(t, items[0].Version, v, "a's new lifetime")
		require.Equal(t, chatfly.Item{Key: b}, items[1])
		require.Equal(t, []byte("c"), items[2].Value)
		require.Zero(t, items[2].N)
		require.Greater(t, items[2].Version, old.Version, "c's new lifetime")
		require.ErrorIs(t, s.Delete(ctx, c, chatfly.IfVersion(old.Version)), chatfly.ErrConflict)

	})
}
