package redisrelay_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/redistest"
	"github.com/chatfly/chatfly/relay/redisrelay"
	"github.com/chatfly/chatfly/relay/relaytest"
)

// wait bounds every wait for a message: long enough for a loaded machine,
// never part of what is asserted.
const wait = 20 * time.Second

// inbox collects what a subscription receives.
type inbox struct {
	mu   sync.Mutex
	msgs []chatfly.RelayMessage
	got  chan struct{}
}

func newInbox() *inbox { return &inbox{got: make(chan struct{}, 1)} }

func (b *inbox) f(m chatfly.RelayMessage) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
	select {
	case b.got <- struct{}{}:
	default:
	}
}

// waitFor waits until n messages have arrived and returns them.
func (b *inbox) waitFor(t *testing.T, n int) []chatfly.RelayMessage {
	t.Helper()
	deadline := time.After(wait)
	for {
		b.mu.Lock()
		msgs := append([]chatfly.RelayMessage(nil), b.msgs...)
		b.mu.Unlock()
		if len(msgs) >= n {
			return msgs
		}
		select {
		case <-b.got:
		case <-deadline:
			t.Fatalf("got %d messages, want %d", len(msgs), n)
		}
	}
}

func subscribe(t *testing.T, r chatfly.Relay, node string, f func(chatfly.RelayMessage)) func() error {
	t.Helper()
	stop, err := r.Subscribe(context.Background(), node, f)
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop() })
	return stop
}

// harness makes relays on one Redis, each with its own client.
func harness(addr string) relaytest.Harness {
	return relaytest.HarnessFunc(func(_ context.Context, t *testing.T) (chatfly.Relay, error) {
		return redisrelay.New(redistest.NewClient(t, addr), nil), nil
	})
}

func TestConformance(t *testing.T) {
	for _, b := range redistest.Backends() {
		t.Run(b.Name, func(t *testing.T) { relaytest.Run(t, harness(b.Addr(t))) })
	}
}

// Sharded pub/sub (SPUBLISH, SSUBSCRIBE: Redis 7; miniredis has none)
// passes the suite on redis-server, and on a one-node Redis Cluster.
func TestSharded(t *testing.T) {
	addr := redistest.RedisServerAddr(t)
	prefix := redistest.Prefix(t)
	t.Run("redis-server", func(t *testing.T) {
		relaytest.Run(t, relaytest.HarnessFunc(func(_ context.Context, t *testing.T) (chatfly.Relay, error) {
			return redisrelay.New(redistest.NewClient(t, addr), &redisrelay.Options{Prefix: prefix, Sharded: true}), nil
		}))
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.Cluster(t) // New shards by itself on a ClusterClient
		relaytest.Run(t, relaytest.HarnessFunc(func(context.Context, *testing.T) (chatfly.Relay, error) {
			return redisrelay.New(c, nil), nil
		}))
	})
}

// A relay with its own prefix (two clusters on one Redis) passes too, and
// never sees the other's nodes.
func TestPrefix(t *testing.T) {
	addr := redistest.RedisServerAddr(t)
	prefix := redistest.Prefix(t)
	relaytest.Run(t, relaytest.HarnessFunc(func(_ context.Context, t *testing.T) (chatfly.Relay, error) {
		return redisrelay.New(redistest.NewClient(t, addr), &redisrelay.Options{Prefix: prefix}), nil
	}))
	c := redistest.NewClient(t, addr)
	one := redisrelay.New(c, &redisrelay.Options{Prefix: prefix + "one:"})
	two := redisrelay.New(c, &redisrelay.Options{Prefix: prefix + "two:"})
	in := newInbox()
	subscribe(t, one, "n", in.f)
	m := chatfly.RelayMessage{Frame: []byte("x")}
	assert.ErrorIs(t, two.Publish(context.Background(), "n", m), chatfly.ErrGone)
	require.NoError(t, one.Publish(context.Background(), "n", m))
	in.waitFor(t, 1)
}

// A payload that is not a relay message is dropped; the subscription goes
// on.
func TestMalformedDropped(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, c *redis.Client) {
		r := redisrelay.New(c, &redisrelay.Options{Logger: slog.New(slog.DiscardHandler)})
		in := newInbox()
		subscribe(t, r, "n", in.f)
		ctx := context.Background()
		for _, junk := range []string{"", "hello", "\x01\xff", "\x01\x00\x00\x05ab"} {
			require.NoError(t, c.Publish(ctx, redisrelay.DefaultPrefix+"{n}", junk).Err())
		}
		m := chatfly.RelayMessage{Conns: []string{"n.1"}, Frame: []byte("ok")}
		require.NoError(t, r.Publish(ctx, "n", m))
		assert.Equal(t, []chatfly.RelayMessage{m}, in.waitFor(t, 1))
	})
}

// A node whose subscriber crashed (no stop: its liveness key stays until
// it expires) is reported lost, not gone, until AliveTTL has passed.
func TestCrashedNodeGoneAfterTTL(t *testing.T) {
	mr := redistest.Miniredis(t)
	c := redistest.NewClient(t, mr.Addr())
	r := redisrelay.New(c, &redisrelay.Options{AliveTTL: 30 * time.Second})
	require.NoError(t, c.Set(context.Background(), redisrelay.DefaultPrefix+"{dead}:alive", "t", 30*time.Second).Err())
	m := chatfly.RelayMessage{Frame: []byte("x")}
	err := r.Publish(context.Background(), "dead", m)
	assert.ErrorIs(t, err, redisrelay.ErrLost)
	assert.False(t, errors.Is(err, chatfly.ErrGone))
	mr.FastForward(31 * time.Second)
	assert.ErrorIs(t, r.Publish(context.Background(), "dead", m), chatfly.ErrGone)
}

// The subscriber refreshes its liveness key: a subscribed node is never
// reported gone, however long it lives.
func TestLivenessRefreshed(t *testing.T) {
	mr := redistest.Miniredis(t)
	c := redistest.NewClient(t, mr.Addr())
	const ttl = 300 * time.Millisecond
	r := redisrelay.New(c, &redisrelay.Options{AliveTTL: ttl})
	in := newInbox()
	subscribe(t, r, "n", in.f)
	key := redisrelay.DefaultPrefix + "{n}:alive"
	require.Equal(t, ttl, mr.TTL(key))
	mr.FastForward(ttl / 2)
	deadline := time.Now().Add(wait)
	for mr.TTL(key) <= ttl/2 {
		require.True(t, time.Now().Before(deadline), "the liveness key was never refreshed")
		time.Sleep(10 * time.Millisecond)
	}
	mr.FastForward(ttl * 3 / 4) // past the first TTL
	require.NoError(t, r.Publish(context.Background(), "n", chatfly.RelayMessage{Frame: []byte("x")}))
	in.waitFor(t, 1)
}

// When Redis drops the subscriber's connection, go-redis subscribes again
// on its own; messages published meanwhile are lost (ErrLost), later ones
// arrive.
func TestReconnect(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		mr := redistest.Miniredis(t)
		testReconnect(t, redistest.NewClient(t, mr.Addr()), func() {
			mr.Close()
			require.NoError(t, mr.Restart())
		})
	})
	t.Run("redis-server", func(t *testing.T) {
		c := redistest.NewClient(t, redistest.StartServer(t).Addr)
		testReconnect(t, c, func() {
			require.NoError(t, c.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err())
		})
	})
}

func testReconnect(t *testing.T, c *redis.Client, drop func()) {
	r := redisrelay.New(c, nil)
	in := newInbox()
	subscribe(t, r, "n", in.f)
	ctx := context.Background()
	require.NoError(t, r.Publish(ctx, "n", chatfly.RelayMessage{Frame: []byte("before")}))
	in.waitFor(t, 1)
	drop()
	deadline := time.Now().Add(wait)
	for {
		err := r.Publish(ctx, "n", chatfly.RelayMessage{Frame: []byte("after")})
		if err == nil {
			break
		}
		if !errors.Is(err, redisrelay.ErrLost) {
			t.Logf("while the subscriber reconnects: %v", err) // the publisher's own connection may have been dropped too
		}
		require.True(t, time.Now().Before(deadline), "the subscriber never came back")
		time.Sleep(20 * time.Millisecond)
	}
	got := in.waitFor(t, 2)
	assert.Equal(t, "after", string(got[len(got)-1].Frame))
}
