package wstransport

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/chatfly/chatfly"
)

// Transport is a [chatfly.Transport] and [chatfly.Broadcaster] over the
// WebSocket connections accepted by its [Transport.Handler].
//
// Every connection has a bounded send queue, drained by a writer goroutine
// that runs only while the queue is not empty: Send and SendMany only append
// to queues (starting the writer if none runs) and never wait for a client.
// A connection whose queue is full is closed with 4000
// (chatfly.CloseSlowConsumer). The writer joins every frame queued at the
// time it writes into one WebSocket text message, separated by '\n'.
//
// A Transport is safe for concurrent use by multiple goroutines. Its methods
// may be called from within the Hub's Connect, Receive and Disconnect.
type Transport struct {
	opts  Options
	log   *slog.Logger
	epoch time.Time
	bufs  sync.Pool // *[]byte, write buffers shared by all writers

	mu          sync.RWMutex
	conns       map[string]*conn
	shutdown    bool
	active      int           // handlers, connections and keepalive goroutine running
	drained     chan struct{} // closed when shutdown && active == 0
	janitorStop chan struct{} // non-nil while the keepalive goroutine runs

	minHello     atomic.Int64 // the shortest hello timeout of its Handlers, ns; 0: none
	warnedRemote atomic.Bool  // dropRemote has logged

	// The relay (see relay.go), guarded by mu.
	quit        chan struct{}        // closed when Shutdown begins
	unsubscribe func() error         // stops the subscription; nil: none
	missing     map[string]time.Time // nodes without subscriber, since
	hubs        []Hub                // of its Handlers, told of dead connections
	dead        map[string]bool      // own dead connections named by other nodes, to disconnect
	reaping     bool                 // a goroutine disconnects the dead ones
}

var (
	_ chatfly.Transport   = (*Transport)(nil)
	_ chatfly.Broadcaster = (*Transport)(nil)
	_ chatfly.HelloTimer  = (*Transport)(nil)
)

// New returns a Transport. A nil opts uses the defaults of [Options].
//
// New starts no goroutine: the Transport's single keepalive goroutine runs
// only while it has connections. With Options.Relay, New subscribes to the
// node's inbox (the relay may run goroutines of its own); if that fails, it
// logs the error and retries every second in a goroutine until it works or
// Shutdown begins.
func New(opts *Options) *Transport {
	o := opts.withDefaults()
	t := &Transport{
		opts:    o,
		log:     o.Logger,
		epoch:   time.Now(),
		conns:   make(map[string]*conn),
		quit:    make(chan struct{}),
		missing: make(map[string]time.Time),
		dead:    make(map[string]bool),
	}
	t.bufs.New = func() any {
		b := make([]byte, 0, o.MaxWriteBytes)
		return &b
	}
	if o.Relay != nil {
		t.subscribe()
	}
	return t
}

// NodeID returns the node id that prefixes the ids of this Transport's
// connections (see Options.NodeID).
func (t *Transport) NodeID() string { return t.opts.NodeID }

// Send queues frame for connection connID and returns without waiting for
// the client. It returns an error wrapping [chatfly.ErrGone] if the
// connection is this node's and does not exist or is closing, or if its
// queue was full (the connection is then closed with 4000,
// chatfly.CloseSlowConsumer). A connection of another node is never
// reported gone by its id alone (see Options.NodeID): the frame is
// published to its node with Options.Relay (and Send waits for the relay's
// Publish, bounded by ctx); Send returns ErrGone only if the relay has had
// no subscriber for that node for Options.RelayGrace, and other relay
// errors as they are. frame is not modified and may be shared with other
// connections; the caller must not modify it afterwards. A local Send never
// blocks.
func (t *Transport) Send(ctx context.Context, connID string, frame []byte) error {
	t.mu.RLock()
	c := t.conns[connID]
	t.mu.RUnlock()
	if c == nil {
		if !t.owns(connID) {
			return t.sendRemote(ctx, connID, frame)
		}
		return fmt.Errorf("wstransport: send to unknown connection %q: %w", connID, chatfly.ErrGone)
	}
	switch c.enqueue(frame) {
	case sendGone:
		return fmt.Errorf("wstransport: send to closed connection %q: %w", connID, chatfly.ErrGone)
	case sendOverflow:
		return fmt.Errorf("wstransport: send queue of connection %q is full, closed as too slow: %w", connID, chatfly.ErrGone)
	}
	return nil
}

// SendMany queues frame for every connection in connIDs, as Send does, and
// returns the ids of the connections that are gone: this node's unknown,
// closing, or just closed because their queue was full, and those of the
// nodes that the relay reports gone (see Send). The connections of other
// nodes are grouped by node, one relay message per node, published after
// the local ones are queued. It never blocks on a client; its error joins
// the relay's other errors. A slow connection costs the others nothing.
func (t *Transport) SendMany(ctx context.Context, connIDs []string, frame []byte) (gone []string, err error) {
	var remote map[string][]string // by node
	t.mu.RLock()
	for _, id := range connIDs {
		c := t.conns[id]
		switch {
		case c != nil:
			if c.enqueue(frame) != sendOK {
				gone = append(gone, id)
			}
		case t.owns(id):
			gone = append(gone, id)
		default:
			if remote == nil {
				remote = make(map[string][]string)
			}
			node := nodeOf(id)
			remote[node] = append(remote[node], id)
		}
	}
	t.mu.RUnlock()
	if remote != nil {
		g, err := t.sendRemoteMany(ctx, remote, frame)
		return append(gone, g...), err
	}
	return gone, nil
}

// owns reports whether connection id is one of this node's (live or not).
func (t *Transport) owns(id string) bool {
	node, _, ok := strings.Cut(id, ".")
	return ok && node == t.opts.NodeID
}

// dropRemote notes a frame for another node's connection dropped for want
// of a relay; the first one is logged.
func (t *Transport) dropRemote() {
	if !t.warnedRemote.Swap(true) {
		t.log.Warn("wstransport: frames for connections of other nodes are dropped: give the Transport a Relay to run a cluster", "node", t.opts.NodeID)
	}
}

// Close closes connection connID with code and reason (reasons longer than
// 123 bytes are cut). Frames queued before Close are written first; frames
// sent after it are refused with ErrGone. Close returns at once: the close
// handshake runs in the connection's writer goroutine, and the Hub's
// Disconnect is called when the connection has ended. Closing an unknown or
// already closing connection of this node does nothing and returns nil. The
// close of another node's connection is published to that node with
// Options.Relay (a node that is gone is not an error; other relay errors
// are returned).
func (t *Transport) Close(ctx context.Context, connID string, code chatfly.CloseCode, reason string) error {
	t.mu.RLock()
	c := t.conns[connID]
	t.mu.RUnlock()
	switch {
	case c != nil:
		c.requestClose(websocket.StatusCode(code), reason)
	case !t.owns(connID):
		return t.closeRemote(ctx, connID, code, reason)
	}
	return nil
}

// SaidHello implements [chatfly.HelloTimer]: the Hub calls it when
// connection connID's hello was accepted, and the connection is no longer
// closed for its hello timeout. Unknown connections are ignored.
func (t *Transport) SaidHello(connID string) {
	t.mu.RLock()
	c := t.conns[connID]
	t.mu.RUnlock()
	if c != nil {
		c.helloBy.Store(0)
	}
}

// watchHello makes the keepalive goroutine tick often enough for a
// Handler's hello timeout d.
func (t *Transport) watchHello(d time.Duration) {
	for {
		cur := t.minHello.Load()
		if d <= 0 || (cur != 0 && cur <= int64(d)) || t.minHello.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// Len returns the number of open connections.
func (t *Transport) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.conns)
}

// Shutdown stops the Transport: new upgrade requests are answered with 503,
// the relay subscription (Options.Relay) is stopped, so relayed frames and
// closes no longer arrive and other nodes soon see this one gone, every
// connection is closed with 1001 (chatfly.CloseGoingAway) and reason
// "server shutting down" after its queued frames are written, and Shutdown
// waits until every handler has returned (the Hub's Disconnect calls
// included) and every goroutine of the Transport has exited. If ctx ends
// first, the remaining connections are aborted without a close handshake
// and Shutdown returns ctx.Err() without waiting further.
//
// Shutdown may be called more than once and concurrently. http.Server's
// Shutdown does not close hijacked connections, so call both (see the
// package example).
func (t *Transport) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	if !t.shutdown {
		t.shutdown = true
		close(t.quit)
		t.drained = make(chan struct{})
		if t.active == 0 {
			close(t.drained)
		}
	}
	drained := t.drained
	conns := make([]*conn, 0, len(t.conns))
	for _, c := range t.conns {
		conns = append(conns, c)
	}
	stop := t.unsubscribe
	t.unsubscribe = nil
	t.mu.Unlock()

	if stop != nil {
		t.stopRelay(stop)
	}

	for _, c := range conns {
		c.requestClose(websocket.StatusCode(chatfly.CloseGoingAway), "server shutting down")
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
	}
	t.mu.RLock()
	for _, c := range t.conns {
		c.abort("shutdown deadline")
	}
	t.mu.RUnlock()
	return ctx.Err()
}

func (t *Transport) has(id string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := t.conns[id]
	return ok
}

// acquire counts a running handler; it fails once Shutdown has begun.
func (t *Transport) acquire() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shutdown {
		return false
	}
	t.active++
	return true
}

// release undoes acquire, and the count of the keepalive goroutine.
func (t *Transport) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.active--
	if t.shutdown && t.active == 0 {
		close(t.drained)
	}
}

// register adds c. It fails if Shutdown has begun or the id is taken.
func (t *Transport) register(c *conn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shutdown {
		return errShuttingDown
	}
	if _, dup := t.conns[c.id]; dup {
		return errDuplicateID
	}
	c.nextPing.Store(t.now() + int64(t.opts.PingInterval))
	if c.helloWait > 0 {
		c.helloBy.Store(t.now() + c.helloWait)
	}
	t.conns[c.id] = c
	if t.janitorStop == nil {
		t.janitorStop = make(chan struct{})
		t.active++
		go t.keepalive(t.janitorStop)
	}
	return nil
}

func (t *Transport) unregister(c *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns[c.id] == c {
		delete(t.conns, c.id)
	}
	if len(t.conns) == 0 && t.janitorStop != nil {
		close(t.janitorStop)
		t.janitorStop = nil
	}
}

// now is a monotonic clock in nanoseconds, never 0.
func (t *Transport) now() int64 { return int64(time.Since(t.epoch)) + 1 }

func (t *Transport) getBuf() *[]byte { return t.bufs.Get().(*[]byte) }

func (t *Transport) putBuf(b *[]byte) {
	if cap(*b) > 4*t.opts.MaxWriteBytes {
		return // do not keep a rare huge buffer
	}
	t.bufs.Put(b)
}
