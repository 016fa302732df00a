package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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

// forEachServer runs f on each backend and on a one-node cluster.
func forEachServer(t *testing.T, f func(t *testing.T, client redis.UniversalClient)) {
	redistest.ForEach(t, func(t *testing.T, client *redis.Client) { f(t, client) })
	t.Run("cluster", func(t *testing.T) { f(t, redistest.Cluster(t)) })
}

// Partition names with the characters of hash tags and of their escaping
// are kept apart, and every key of each stays in one hash slot (a cluster
// refuses a script across slots with CROSSSLOT).
func TestPartitionNames(t *testing.T) {
	forEachServer(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := t.Context()
		s := newStore(t, client, nil)
		parts := []string{"a}b", "a%7Db", "a%b", "a%25b", "}", "{", "{}", "x{y}z", "%"}
		for i, p := range parts {
			_, err := s.Put(ctx, chatfly.Item{Key: chatfly.Key{Partition: p, Sort: "k"}, Value: []byte(p)}, chatfly.IfAbsent)
			require.NoError(t, err, "Put in partition %q", p)
			_, err = s.Add(ctx, chatfly.Key{Partition: p, Sort: "n"}, int64(i+1), time.Time{})
			require.NoError(t, err)
		}
		for i, p := range parts {
			items, err := s.Query(ctx, chatfly.Query{Partition: p})
			require.NoError(t, err, "Query of partition %q", p)
			require.Len(t, items, 2, "partition %q", p)
			require.Equal(t, p, string(items[0].Value), "partition %q", p)
			require.Equal(t, int64(i+1), items[1].N, "partition %q", p)
			require.NoError(t, s.Delete(ctx, chatfly.Key{Partition: p, Sort: "k"}, chatfly.IfExists))
		}
	})
}

// New refuses a prefix that would break the hash tags, and the Store
// refuses an empty partition (which would have none).
func TestInvalid(t *testing.T) {
	client := redistest.NewClient(t, redistest.MiniredisAddr(t))
	for _, p := range []string{"a{", "}"} {
		_, err := redisstore.New(client, &redisstore.Options{Prefix: p})
		require.Error(t, err, "Prefix %q", p)
	}
	s := newStore(t, client, nil)
	_, err := s.Put(t.Context(), chatfly.Item{Key: chatfly.Key{Sort: "a"}}, chatfly.Always)
	require.ErrorContains(t, err, "empty partition")
}

// expireTime returns the time at which Redis deletes key, zero if never,
// and fails t if there is no key.
func expireTime(t *testing.T, client redis.UniversalClient, key string) time.Time {
	t.Helper()
	ms, err := client.Do(t.Context(), "PEXPIRETIME", key).Int64()
	require.NoError(t, err)
	require.NotEqual(t, int64(-2), ms, "key %q does not exist", key)
	if ms == -1 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func requireNear(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	if want.IsZero() || got.IsZero() {
		require.Equal(t, want.IsZero(), got.IsZero(), "%s: expiry %v, want %v", what, got, want)
		return
	}
	require.WithinDuration(t, want, got, time.Second, what)
}

// Expired items leave Redis: each item gets its Expires as its Redis
// expiry; writes drop the expired sort keys of their partition's index a
// few at a time; a Query drops those it meets; and the index expires with
// the last item of its partition, so a partition whose items all expire
// leaves no key behind, however many items it had.
func TestExpiredItemsLeave(t *testing.T) {
	forEachServer(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := t.Context()
		clock := storagetest.NewFakeClock(time.Time{})
		prefix := redistest.Prefix(t)
		s, err := redisstore.New(client, &redisstore.Options{Prefix: prefix, Now: clock.Now})
		require.NoError(t, err)
		p := "room#r"
		idx, exps := prefix+"{"+p+"}", prefix+"{"+p+"}~"
		t0 := clock.Now()
		put := func(sort string, exp time.Time) {
			t.Helper()
			_, err := s.Put(ctx, chatfly.Item{Key: chatfly.Key{Partition: p, Sort: sort}, Value: []byte("v"), Expires: exp}, chatfly.Always)
			require.NoError(t, err)
		}
		card := func() int64 {
			t.Helper()
			n, err := client.ZCard(ctx, idx).Result()
			require.NoError(t, err)
			return n
		}
		for i := range 50 {
			put(fmt.Sprintf("a%02d", i), t0.Add(time.Minute))
		}
		put("z", t0.Add(10*time.Minute))
		require.Equal(t, int64(51), card())
		requireNear(t, t0.Add(time.Minute), expireTime(t, client, idx+":a00"), "an item")
		requireNear(t, t0.Add(10*time.Minute), expireTime(t, client, idx), "the index")
		requireNear(t, t0.Add(10*time.Minute), expireTime(t, client, exps), "the expiries")

		// An item that never expires keeps the index; without it the
		// index follows the latest expiry again.
		put("forever", time.Time{})
		requireNear(t, time.Time{}, expireTime(t, client, idx), "the index with an item that never expires")
		require.NoError(t, s.Delete(ctx, chatfly.Key{Partition: p, Sort: "forever"}, chatfly.IfExists))
		requireNear(t, t0.Add(10*time.Minute), expireTime(t, client, idx), "the index")

		// The a items expire: a few writes remove them and their hashes.
		clock.Advance(2 * time.Minute)
		for i := range 7 {
			put(fmt.Sprintf("b%02d", i), t0.Add(5*time.Minute))
		}
		require.Equal(t, int64(8), card(), "7 b items and z")
		for _, k := range []string{idx + ":a00", idx + ":a25", idx + ":a49"} {
			requireTombstone(t, client, k)
		}

		// Everything expires: a Query finds nothing and leaves only
		// tombstones, which Redis deletes by its own clock.
		clock.Advance(time.Hour)
		_, err = s.Put(ctx, chatfly.Item{Key: chatfly.Key{Partition: "other", Sort: "x"}}, chatfly.Always)
		require.NoError(t, err)
		items, err := s.Query(ctx, chatfly.Query{Partition: p})
		require.NoError(t, err)
		require.Empty(t, items)
		keys, err := scanKeys(ctx, client, prefix+"{"+p+"}*")
		require.NoError(t, err)
		require.Len(t, keys, 50+1+1+7, "the tombstones of the a, forever, z and b items: no index, no expiries")
		for _, k := range keys {
			requireTombstone(t, client, k)
		}
	})
}

// requireTombstone checks that key is the tombstone of an item: its
// version only, marked expired, that Redis deletes within 10 s.
func requireTombstone(t *testing.T, client redis.UniversalClient, key string) {
	t.Helper()
	f, err := client.HGetAll(t.Context(), key).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"e", "r"}, slices.Sorted(maps.Keys(f)), "fields of %q", key)
	require.Equal(t, "0", f["e"], key)
	at := expireTime(t, client, key)
	require.False(t, at.IsZero(), "%q never expires", key)
	require.WithinDuration(t, time.Now().Add(10*time.Second), at, 2*time.Second, "Redis expiry of %q", key)
}

// scanKeys returns the keys that match pattern, on every node.
func scanKeys(ctx context.Context, client redis.UniversalClient, pattern string) ([]string, error) {
	if c, ok := client.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		var all []string
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			keys, err := scanKeys(ctx, node, pattern)
			mu.Lock()
			defer mu.Unlock()
			all = append(all, keys...)
			return err
		})
		return all, err
	}
	var keys []string
	iter := client.Scan(ctx, 0, pattern, 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// counter is a go-redis hook that counts the commands sent, by name.
type counter struct {
	n      atomic.Int64
	evals  atomic.Int64 // EVAL, the fallback of EVALSHA
	others atomic.Int64 // in pipelines
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		if strings.EqualFold(cmd.Name(), "eval") {
			c.evals.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.others.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// Every method is one round trip; after the server's script cache is
// flushed (a restart, a failover), the next write loads its script again
// (EVALSHA, then EVAL) and succeeds.
func TestRoundTrips(t *testing.T) {
	client := redistest.NewClient(t, redistest.RedisServerAddr(t))
	calls := new(counter)
	client.AddHook(calls)
	s := newStore(t, client, nil)
	ctx := t.Context()
	k := chatfly.Key{Partition: "room#trips", Sort: "msg#1"}
	exp := time.Now().Add(time.Hour)
	ops := []struct {
		name string
		op   func() error
	}{
		{"Put", func() error {
			_, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("v"), Expires: exp}, chatfly.Always)
			return err
		}},
		{"Get", func() error { _, err := s.Get(ctx, k); return err }},
		{"Add", func() error {
			_, err := s.Add(ctx, chatfly.Key{Partition: k.Partition, Sort: "seq"}, 1, exp)
			return err
		}},
		{"Query", func() error {
			_, err := s.Query(ctx, chatfly.Query{Partition: k.Partition, Prefix: "msg#", Reverse: true, Limit: 50})
			return err
		}},
		{"Touch", func() error { return s.Touch(ctx, k, exp, chatfly.IfPrefix([]byte("v"))) }},
		{"Delete", func() error { return s.Delete(ctx, k, chatfly.Always) }},
	}
	for _, o := range ops {
		require.NoError(t, o.op(), o.name) // loads the script
		calls.n.Store(0)
		calls.others.Store(0) // a new connection's HELLO and CLIENT SETINFO
		require.NoError(t, o.op(), o.name)
		require.Equal(t, int64(1), calls.n.Load(), "commands sent by %s", o.name)
		require.Zero(t, calls.others.Load(), "pipelined commands sent by %s", o.name)
	}
	require.NoError(t, client.ScriptFlush(ctx).Err())
	calls.evals.Store(0)
	_, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("again")}, chatfly.IfAbsent)
	require.NoError(t, err, "Put after SCRIPT FLUSH")
	require.Equal(t, int64(1), calls.evals.Load(), "EVALs after SCRIPT FLUSH")
}

// A value over MaxItemBytes is refused with ErrTooLarge before it is sent,
// and the item stays as it was.
func TestTooLarge(t *testing.T) {
	client := redistest.NewClient(t, redistest.MiniredisAddr(t))
	s := newStore(t, client, &redisstore.Options{MaxItemBytes: 1000})
	ctx := t.Context()
	k := chatfly.Key{Partition: "p", Sort: "s"}
	_, err := s.Put(ctx, chatfly.Item{Key: k, Value: make([]byte, 998)}, chatfly.Always)
	require.NoError(t, err, "998 bytes and 2 of keys")
	_, err = s.Put(ctx, chatfly.Item{Key: k, Value: make([]byte, 999)}, chatfly.Always)
	require.ErrorIs(t, err, chatfly.ErrTooLarge)
	it, err := s.Get(ctx, k)
	require.NoError(t, err)
	require.Len(t, it.Value, 998)

	def := newStore(t, client, nil)
	_, err = def.Put(ctx, chatfly.Item{Key: k, Value: make([]byte, 350<<10)}, chatfly.Always)
	require.NoError(t, err, "350 KB, the most the Hub writes")
	_, err = def.Put(ctx, chatfly.Item{Key: k, Value: make([]byte, redisstore.DefaultMaxItemBytes)}, chatfly.Always)
	require.ErrorIs(t, err, chatfly.ErrTooLarge)
}

// everyOp calls each method of s once, all at once, and returns their
// errors by name.
func everyOp(ctx context.Context, s chatfly.Storage) map[string]error {
	k := chatfly.Key{Partition: "room#f", Sort: "a"}
	ops := map[string]func() error{
		"Get": func() error { _, err := s.Get(ctx, k); return err },
		"Put": func() error {
			_, err := s.Put(ctx, chatfly.Item{Key: k, Value: []byte("v")}, chatfly.Always)
			return err
		},
		"Delete": func() error { return s.Delete(ctx, chatfly.Key{Partition: k.Partition, Sort: "b"}, chatfly.Always) },
		"Add": func() error {
			_, err := s.Add(ctx, chatfly.Key{Partition: k.Partition, Sort: "n"}, 1, time.Time{})
			return err
		},
		"Query": func() error { _, err := s.Query(ctx, chatfly.Query{Partition: k.Partition}); return err },
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(map[string]error)
	for name, op := range ops {
		wg.Go(func() {
			err := op()
			mu.Lock()
			defer mu.Unlock()
			errs[name] = err
		})
	}
	wg.Wait()
	return errs
}

// requireWorks checks the errors of everyOp on a Store that works.
func requireWorks(t *testing.T, errs map[string]error) {
	t.Helper()
	for name, err := range errs {
		if name != "Get" || !errors.Is(err, chatfly.ErrNotFound) {
			require.NoError(t, err, name)
		}
	}
}

// A Redis that is gone makes every call fail with ErrUnavailable (after
// go-redis's own retries, not at a deadline); one that hangs makes every
// call end at its ctx deadline, with an error wrapping
// context.DeadlineExceeded; and the Store works again once it is back.
func TestFaults(t *testing.T) {
	t.Run("Stopped", func(t *testing.T) {
		srv := redistest.StartServer(t)
		s := newStore(t, redistest.NewClient(t, srv.Addr), nil)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		requireWorks(t, everyOp(ctx, s))
		srv.Stop()
		for name, err := range everyOp(ctx, s) {
			require.ErrorIs(t, err, chatfly.ErrUnavailable, name)
			require.NotErrorIs(t, err, context.DeadlineExceeded, name)
		}
	})
	t.Run("Paused", func(t *testing.T) {
		srv := redistest.StartServer(t)
		s := newStore(t, redistest.NewClient(t, srv.Addr), nil)
		require.NoError(t, srv.Pause())
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		for name, err := range everyOp(ctx, s) {
			require.ErrorIs(t, err, context.DeadlineExceeded, name)
		}
		cancel()
		require.NoError(t, srv.Resume())
		requireWorks(t, everyOp(t.Context(), s))
	})
	t.Run("Replies", func(t *testing.T) {
		m := redistest.Miniredis(t)
		s := newStore(t, redistest.NewClient(t, m.Addr()), nil)
		for _, reply := range []string{"LOADING Redis is loading the dataset in memory", "BUSY Redis is busy running a script", "CLUSTERDOWN The cluster is down"} {
			m.SetError(reply)
			for name, err := range everyOp(t.Context(), s) {
				require.ErrorIs(t, err, chatfly.ErrUnavailable, "%s answered %q", name, reply)
			}
		}
		m.SetError("ERR unknown command")
		for name, err := range everyOp(t.Context(), s) {
			require.NotErrorIs(t, err, chatfly.ErrUnavailable, name)
		}
	})
	t.Run("OutOfMemory", func(t *testing.T) {
		srv := redistest.StartServer(t, "--maxmemory", "4mb")
		s := newStore(t, redistest.NewClient(t, srv.Addr), nil)
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			_, err = s.Put(t.Context(), chatfly.Item{Key: chatfly.Key{Partition: "room#big", Sort: fmt.Sprint(i)}, Value: make([]byte, 100<<10)}, chatfly.Always)
		}
		require.ErrorIs(t, err, chatfly.ErrUnavailable)
		require.True(t, errors.Is(err, chatfly.ErrUnavailable) && strings.Contains(err.Error(), "OOM"), "%v", err)
	})
}
