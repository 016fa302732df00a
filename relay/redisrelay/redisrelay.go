package redisrelay

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatfly/chatfly"
)

// Default values of [Options].
const (
	// DefaultPrefix starts the name of every channel and key of the relay.
	DefaultPrefix = "chatfly:relay:"
	// DefaultAliveTTL is how long a node counts as alive after its
	// subscriber last said so.
	DefaultAliveTTL = 15 * time.Second
	// DefaultBuffer is how many received messages may wait for the
	// subscriber's callback.
	DefaultBuffer = 1024
)

// cleanupTimeout bounds the deletion of a node's liveness key when its
// subscription stops (the caller's context may be long gone by then).
const cleanupTimeout = 5 * time.Second

// ErrLost is returned (wrapped) by [Relay.Publish] when the node is alive
// but had no subscription on Redis when the message was published: its
// subscriber is reconnecting, and the message is lost. It is not
// [chatfly.ErrGone]: the node's connections still exist.
var ErrLost = errors.New("redisrelay: the node is reconnecting to Redis, message lost")

// Options configures a [Relay]. A nil *Options, and every zero field, means
// the documented default; [New] applies the defaults and copies the Options.
type Options struct {
	// Prefix starts the relay's names in Redis: node n listens on the
	// channel Prefix+"{n}" and says it is alive in the key
	// Prefix+"{n}:alive". Nodes of one cluster must use the same Prefix;
	// two clusters on one Redis need different ones. Default
	// DefaultPrefix.
	Prefix string
	// AliveTTL is how long a node counts as alive after its subscriber
	// last refreshed its liveness key (it does so every AliveTTL/3 while
	// subscribed, and deletes the key when stopped). A node that crashed
	// is reported gone ([chatfly.ErrGone]) at most AliveTTL after its last
	// refresh. Default DefaultAliveTTL.
	AliveTTL time.Duration
	// Buffer is how many received messages may wait while the
	// subscriber's callback runs. When it stays full for a minute, go-redis
	// drops messages; before that, Redis itself disconnects a subscriber
	// that has fallen 32 MB behind (client-output-buffer-limit pubsub).
	// Default DefaultBuffer.
	Buffer int
	// Logger receives the relay's logs (malformed messages, failed
	// liveness refreshes). Default: slog.Default().
	Logger *slog.Logger
	// Sharded uses sharded pub/sub (SPUBLISH and SSUBSCRIBE, Redis 7 or
	// later): a node's channel lives on the server of its hash slot, so
	// Redis Cluster counts its receivers exactly (plain PUBLISH counts only
	// those on the server that took it). New turns it on for a
	// *redis.ClusterClient.
	Sharded bool
}

// Relay is a [chatfly.Relay] over Redis pub/sub. It is safe for concurrent
// use; it holds no state of its own besides its Options, so any number of
// Relays (one per process) share one Redis.
type Relay struct {
	client   redis.UniversalClient
	prefix   string
	aliveTTL time.Duration
	buffer   int
	log      *slog.Logger
	sharded  bool
}

var _ chatfly.Relay = (*Relay)(nil)

// New returns a Relay over client. The Relay does not close client.
func New(client redis.UniversalClient, o *Options) *Relay {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.AliveTTL <= 0 {
		opts.AliveTTL = DefaultAliveTTL
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if _, ok := client.(*redis.ClusterClient); ok {
		opts.Sharded = true
	}
	return &Relay{client: client, prefix: opts.Prefix, aliveTTL: opts.AliveTTL, buffer: opts.Buffer, log: opts.Logger, sharded: opts.Sharded}
}

// The braces are a Redis Cluster hash tag: a node's channel and key hash to
// the same slot.
func (r *Relay) channel(node string) string  { return r.prefix + "{" + node + "}" }
func (r *Relay) aliveKey(node string) string { return r.prefix + "{" + node + "}:alive" }

// Publish sends m to node's subscriber with one PUBLISH (SPUBLISH if
// Sharded). If Redis counted no receiver, one EXISTS of the node's liveness
// key tells a node that is gone (an error wrapping [chatfly.ErrGone]) from
// one that is reconnecting ([ErrLost]).
func (r *Relay) Publish(ctx context.Context, node string, m chatfly.RelayMessage) error {
	publish := r.client.Publish
	if r.sharded {
		publish = r.client.SPublish
	}
	n, err := publish(ctx, r.channel(node), encode(m)).Result()
	if err != nil {
		return fmt.Errorf("redisrelay: publish to node %q: %w", node, err)
	}
	if n > 0 {
		return nil
	}
	alive, err := r.client.Exists(ctx, r.aliveKey(node)).Result()
	switch {
	case err != nil:
		return fmt.Errorf("redisrelay: publish to node %q reached no subscriber, and its liveness is unknown: %w", node, err)
	case alive == 0:
		return fmt.Errorf("redisrelay: node %q: %w", node, chatfly.ErrGone)
	default:
		return fmt.Errorf("redisrelay: node %q: %w", node, ErrLost)
	}
}

// Subscribe marks node alive, subscribes to its channel and returns once
// Redis has confirmed the subscription, so that a Publish that starts
// after Subscribe returns reaches f. It then calls f with each message, one
// at a time, in the order Redis received them, until stop is called. ctx
// bounds the setup only.
//
// If the subscription's connection breaks, go-redis reconnects and
// subscribes again on its own (it also pings every 3 seconds to notice a
// silent break). What was published meanwhile is lost: the publisher gets
// [ErrLost], and the clients repair the gap from the room's history.
//
// stop unsubscribes, waits until f has returned, and deletes the node's
// liveness key (publishers get [chatfly.ErrGone] from then on). It is
// idempotent, and must not be called from f.
func (r *Relay) Subscribe(ctx context.Context, node string, f func(chatfly.RelayMessage)) (stop func() error, err error) {
	token := newToken()
	if err := r.client.Set(ctx, r.aliveKey(node), token, r.aliveTTL).Err(); err != nil {
		return nil, fmt.Errorf("redisrelay: mark node %q alive: %w", node, err)
	}
	subscribe := r.client.Subscribe
	if r.sharded {
		subscribe = r.client.SSubscribe
	}
	ps := subscribe(ctx, r.channel(node))
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		r.forget(node, token)
		return nil, fmt.Errorf("redisrelay: subscribe node %q: %w", node, err)
	}
	s := &subscription{r: r, node: node, token: token, ps: ps, quit: make(chan struct{}), unsubscribed: make(chan struct{})}
	s.wg.Add(2)
	go s.deliver(ps.ChannelWithSubscriptions(redis.WithChannelSize(r.buffer)), f)
	go s.keepAlive()
	return s.stop, nil
}

// forget deletes node's liveness key if it still holds token (a newer
// subscriber of the same node keeps its own).
func (r *Relay) forget(node, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := forgetScript.Run(ctx, r.client, []string{r.aliveKey(node)}, token).Err(); err != nil {
		r.log.Warn("redisrelay: delete liveness key", "node", node, "err", err)
	}
}

var forgetScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// subscription is one running Subscribe.
type subscription struct {
	r           *Relay
	node, token string
	ps          *redis.PubSub
	quit        chan struct{}
	wg          sync.WaitGroup

	// unsubscribed is closed when Redis confirms the UNSUBSCRIBE sent by
	// stop: from then on a PUBLISH counts no receiver here.
	unsubscribed chan struct{}

	once    sync.Once
	stopErr error
}

// deliver hands each message to f until the PubSub is closed. After stop it
// keeps draining (go-redis closes ch only once its reader is done).
func (s *subscription) deliver(ch <-chan any, f func(chatfly.RelayMessage)) {
	defer s.wg.Done()
	unsubscribed := false
	for msg := range ch {
		switch msg := msg.(type) {
		case *redis.Subscription:
			if (msg.Kind == "unsubscribe" || msg.Kind == "sunsubscribe") && s.stopping() && !unsubscribed {
				unsubscribed = true
				close(s.unsubscribed)
			}
		case *redis.Message:
			m, err := decode(msg.Payload)
			if err != nil {
				s.r.log.Warn("redisrelay: dropped a message", "node", s.node, "bytes", len(msg.Payload), "err", err)
			} else if !s.stopping() {
				f(m)
			}
		}
	}
}

func (s *subscription) stopping() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// keepAlive refreshes the node's liveness key every AliveTTL/3.
func (s *subscription) keepAlive() {
	defer s.wg.Done()
	t := time.NewTicker(s.r.aliveTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.r.aliveTTL/3)
		err := s.r.client.Set(ctx, s.r.aliveKey(s.node), s.token, s.r.aliveTTL).Err()
		cancel()
		if err != nil {
			s.r.log.Warn("redisrelay: refresh liveness key", "node", s.node, "err", err)
		}
	}
}

// stop unsubscribes and waits (up to cleanupTimeout) for Redis to confirm,
// so that a Publish made after stop has returned counts no receiver.
func (s *subscription) stop() error {
	s.once.Do(func() {
		close(s.quit)
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		unsubscribe := s.ps.Unsubscribe
		if s.r.sharded {
			unsubscribe = s.ps.SUnsubscribe
		}
		if err := unsubscribe(ctx, s.r.channel(s.node)); err == nil {
			select {
			case <-s.unsubscribed:
			case <-ctx.Done():
			}
		}
		s.stopErr = s.ps.Close()
		s.wg.Wait()
		s.r.forget(s.node, s.token)
	})
	return s.stopErr
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
