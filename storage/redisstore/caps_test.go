package redisstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/redistest"
	"github.com/chatfly/chatfly/storage/redisstore"
	"github.com/chatfly/chatfly/storage/storagetest"
)

// Versions are above 2^40 and below 2^53, the largest integer a double
// (a Lua number, a number in JSON or JavaScript: the game's version on the
// wire) holds exactly; the scripts compare them exactly, so IfVersion of a
// neighbour fails.
func TestVersionsExact(t *testing.T) {
	forEachServer(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := t.Context()
		s := newStore(t, client, nil)
		k := chatfly.Key{Partition: "room#v", Sort: "meta"}
		v, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("a")}, chatfly.IfAbsent)
		require.NoError(t, err)
		require.Greater(t, v, int64(1)<<40)
		require.Less(t, v, int64(1)<<53)
		for _, other := range []int64{v - 1, v + 1, v + 2} {
			_, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("b")}, chatfly.IfVersion(other))
			require.ErrorIs(t, err, chatfly.ErrConflict, "IfVersion(%d) over %d", other, v)
			require.ErrorIs(t, s.Delete(ctx, k, chatfly.IfVersion(other)), chatfly.ErrConflict)
			require.ErrorIs(t, s.Touch(ctx, k, time.Time{}, chatfly.IfVersion(other)), chatfly.ErrConflict)
		}
		v2, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("b")}, chatfly.IfVersion(v))
		require.NoError(t, err)
		require.Equal(t, v+1, v2)
		it, err := s.Get(ctx, k)
		require.NoError(t, err)
		require.Equal(t, v2, it.Version)
	})
}

// Items written before versions had generations keep their small
// versions and go on counting from them; a new lifetime of their key gets
// a generation, greater than any of them. A deleted item leaves a
// tombstone, and an item that expires soon a hash, that Redis keeps for
// 10 s, so that the next lifetime continues from its version.
func TestVersionsOldData(t *testing.T) {
	forEachServer(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := t.Context()
		prefix := redistest.Prefix(t)
		s, err := redisstore.New(client, &redisstore.Options{Prefix: prefix})
		require.NoError(t, err)
		k := chatfly.Key{Partition: "room#old", Sort: "seq"}
		hash := prefix + "{room#old}:seq"
		require.NoError(t, client.HSet(ctx, hash, "n", "4", "r", "5").Err(), "an item of an older redisstore")
		n, err := s.Add(ctx, k, 1, time.Time{})
		require.NoError(t, err)
		require.Equal(t, int64(5), n)
		it, err := s.Get(ctx, k)
		require.NoError(t, err)
		require.Equal(t, int64(6), it.Version, "the old item counts on from its version")

		require.NoError(t, s.Delete(ctx, k, chatfly.IfVersion(6)))
		requireTombstone(t, client, hash)
		v, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("new"), Expires: time.Now().Add(time.Second)}, chatfly.IfAbsent)
		require.NoError(t, err)
		require.GreaterOrEqual(t, v, int64(1)<<40, "a new lifetime has a generation")
		at := expireTime(t, client, hash)
		require.WithinDuration(t, time.Now().Add(10*time.Second), at, 2*time.Second, "Redis keeps an item 10 s at least")

		// Redis deleted the item long ago: the next lifetime starts from
		// the server's clock, above every version of the old scheme.
		require.NoError(t, client.Del(ctx, hash).Err())
		v2, err := s.Put(ctx, chatfly.Item{Key: k}, chatfly.IfAbsent)
		require.NoError(t, err)
		require.GreaterOrEqual(t, v2, int64(1)<<40)
	})
}

// Touch moves the item in its partition's expiries and gives the item
// hash and the partition's sets their new Redis expiry; a Touch to a time
// already past removes the item as an expired Put would.
func TestTouchExpiries(t *testing.T) {
	forEachServer(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := t.Context()
		clock := storagetest.NewFakeClock(time.Now())
		prefix := redistest.Prefix(t)
		s, err := redisstore.New(client, &redisstore.Options{Prefix: prefix, Now: clock.Now})
		require.NoError(t, err)
		p := "room#t"
		idx, exps := prefix+"{"+p+"}", prefix+"{"+p+"}~"
		k := chatfly.Key{Partition: p, Sort: "member#a"}
		t0 := clock.Now()
		v, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("a"), Expires: t0.Add(time.Minute)}, chatfly.Always)
		require.NoError(t, err)

		later := t0.Add(time.Hour)
		require.NoError(t, s.Touch(ctx, k, later, chatfly.IfVersion(v)))
		score, err := client.ZScore(ctx, exps, k.Sort).Result()
		require.NoError(t, err)
		require.Equal(t, float64(later.UnixMilli()), score)
		for _, key := range []string{idx + ":" + k.Sort, idx, exps} {
			requireNear(t, later, expireTime(t, client, key), key)
		}
		it, err := s.Get(ctx, k)
		require.NoError(t, err)
		require.Equal(t, v, it.Version)
		require.Equal(t, later.UnixMilli(), it.Expires.UnixMilli())

		require.NoError(t, s.Touch(ctx, k, time.Time{}, chatfly.IfExists), "never expires")
		require.ErrorIs(t, client.ZScore(ctx, exps, k.Sort).Err(), redis.Nil, "left in the expiries")
		requireNear(t, time.Time{}, expireTime(t, client, idx), "the index")

		require.NoError(t, s.Touch(ctx, k, t0.Add(-time.Second), chatfly.Always), "already past")
		_, err = s.Get(ctx, k)
		require.ErrorIs(t, err, chatfly.ErrNotFound)
		n, err := client.ZCard(ctx, idx).Result()
		require.NoError(t, err)
		require.Zero(t, n, "left in the index")
		require.ErrorIs(t, s.Touch(ctx, k, later, chatfly.Always), chatfly.ErrConflict, "absent")
	})
}

// shardCounter counts round trips per node: pipelines, and single
// commands.
type shardCounter struct {
	pipelines, cmds, singles atomic.Int64
}

func (c *shardCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *shardCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.singles.Add(1)
		return next(ctx, cmd)
	}
}

func (c *shardCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.pipelines.Add(1)
		c.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func (c *shardCounter) reset() {
	c.pipelines.Store(0)
	c.cmds.Store(0)
	c.singles.Store(0)
}

// countRoundTrips adds a counter to the client, or to each node client of
// a cluster, where the round trips are.
func countRoundTrips(t *testing.T, client redis.UniversalClient) *shardCounter {
	c := new(shardCounter)
	cc, ok := client.(*redis.ClusterClient)
	if !ok {
		client.AddHook(c)
		return c
	}
	var mu sync.Mutex
	require.NoError(t, cc.ForEachShard(t.Context(), func(_ context.Context, node *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		node.AddHook(c)
		return nil
	}))
	return c
}

// GetMany and WriteMany of keys in 40 partitions (40 hash slots) are one
// pipeline to the node that owns them, of one command per key; after the
// server lost its scripts, WriteMany sends a second pipeline with EVAL of
// the writes it refused.
func TestBatchRoundTrips(t *testing.T) {
	run := func(t *testing.T, client redis.UniversalClient) {
		ctx := t.Context()
		s := newStore(t, client, nil)
		const n = 40
		keys := make([]chatfly.Key, n)
		puts := make([]chatfly.Write, n)
		for i := range keys {
			keys[i] = chatfly.Key{Partition: fmt.Sprintf("conn#%d", i), Sort: "conn"}
			puts[i] = chatfly.Write{Item: chatfly.Item{Key: keys[i], Value: []byte{byte(i)}}}
		}
		require.NoError(t, s.WriteMany(ctx, puts), "loads the script")
		calls := countRoundTrips(t, client)
		check := func(what string, pipelines int64) {
			t.Helper()
			require.Equal(t, pipelines, calls.pipelines.Load(), "pipelines of %s", what)
			require.Equal(t, int64(n)*pipelines, calls.cmds.Load(), "commands of %s", what)
			require.Zero(t, calls.singles.Load(), "single commands of %s", what)
			calls.reset()
		}
		items, err := s.GetMany(ctx, keys)
		require.NoError(t, err)
		for i, it := range items {
			require.Equal(t, []byte{byte(i)}, it.Value)
		}
		check("GetMany", 1)
		require.NoError(t, s.WriteMany(ctx, puts))
		check("WriteMany", 1)
		if cc, ok := client.(*redis.ClusterClient); ok {
			require.NoError(t, cc.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
				return node.ScriptFlush(ctx).Err()
			}))
		} else {
			require.NoError(t, client.ScriptFlush(ctx).Err())
		}
		calls.reset()
		require.NoError(t, s.WriteMany(ctx, puts), "after SCRIPT FLUSH")
		check("WriteMany after SCRIPT FLUSH", 2)
	}
	t.Run("redis-server", func(t *testing.T) {
		run(t, redistest.NewClient(t, redistest.RedisServerAddr(t)))
	})
	t.Run("cluster", func(t *testing.T) { run(t, redistest.Cluster(t)) })
}
