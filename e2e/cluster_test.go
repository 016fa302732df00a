package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/internal/redistest"
	"github.com/chatfly/chatfly/internal/scenario"
	"github.com/chatfly/chatfly/relay/memrelay"
	"github.com/chatfly/chatfly/relay/redisrelay"
	"github.com/chatfly/chatfly/storage/dynamostore/dynamotest"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/transport/wstransport"
)

// Two standalone servers over one Storage must not evict each other's
// connections: a fan-out from node A reaches a member on node B, and A's
// transport must not answer that B's connection is gone (it once did, and
// Hub A then deleted Bob's state: Bob was closed with 1001 "session state
// lost" at his next frame). No relay here: Bob misses Alice's frames, but
// keeps his place.
func TestTwoNodesDoNotEvictEachOther(t *testing.T) {
	store := memstore.New(nil)
	a := startServer(t, serverConfig{store: store})
	b := startServer(t, serverConfig{store: store})
	bob := b.dial("Bob", nil)
	join(t, bob, "lobby")
	alice := a.dial("Alice", nil)
	join(t, alice, "lobby") // a presence fan-out from A to Bob's connection
	if _, err := alice.Send(ctx(t), "lobby", "hi Bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Send(ctx(t), "lobby", "hi Alice"); err != nil {
		t.Fatalf("Bob, on the other node, after Alice joined: %v (close code %d)", err, bob.CloseCode())
	}
	if _, err := alice.Send(ctx(t), "lobby", "still here?"); err != nil {
		t.Fatalf("Alice after Bob's message: %v (close code %d)", err, alice.CloseCode())
	}
	cy := a.dial("Cy", nil)
	j := join(t, cy, "lobby")
	if len(j.Members) != 3 {
		t.Fatalf("Cy sees members %v, want Alice, Bob and Cy", j.Members)
	}
}

// clusterBackend is what the nodes of a cluster share: one Storage and one
// Relay. Each row of clusterBackends runs every cluster test.
type clusterBackend struct {
	name string
	// open returns a new, empty Storage and a Relay for the nodes of one
	// test; their clean-up belongs to open (t.Cleanup).
	open func(t *testing.T) (chatfly.Storage, chatfly.Relay)
	// emulated: storage calls are requests to an emulator or server.
	emulated bool
}

// clusterBackends are the backends of the cluster tests: memory; Redis for
// both (storage/redisstore and relay/redisrelay) on miniredis, always, and
// on redis-server when installed (see internal/redistest); and DynamoDB
// (minidyn) with the Redis relay.
var clusterBackends = []clusterBackend{
	{name: "memstore+memrelay", open: func(*testing.T) (chatfly.Storage, chatfly.Relay) {
		return memstore.New(nil), memrelay.New(nil)
	}},
	{name: "redisstore+redisrelay/miniredis", open: func(t *testing.T) (chatfly.Storage, chatfly.Relay) {
		addr := redistest.MiniredisAddr(t)
		return openRedis(t, addr), openRedisRelay(t, addr)
	}, emulated: true},
	{name: "redisstore+redisrelay/redis-server", open: func(t *testing.T) (chatfly.Storage, chatfly.Relay) {
		addr := redistest.RedisServerAddr(t)
		return openRedis(t, addr), openRedisRelay(t, addr)
	}},
	{name: "minidyn+redisrelay", open: func(t *testing.T) (chatfly.Storage, chatfly.Relay) {
		return openDynamo(t, dynamotest.Minidyn(t)), openRedisRelay(t, redistest.MiniredisAddr(t))
	}, emulated: true},
}

// openRedisRelay returns a redisrelay on the Redis at addr, under a prefix
// of t's own (the node ids of the tests repeat, the redis-server is shared).
func openRedisRelay(t *testing.T, addr string) chatfly.Relay {
	return redisrelay.New(redistest.NewClient(t, addr), &redisrelay.Options{Prefix: redistest.Prefix(t) + "relay:"})
}

// forEachCluster runs f as a subtest of t per cluster backend.
func forEachCluster(t *testing.T, f func(t *testing.T, b clusterBackend)) {
	for _, b := range clusterBackends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// clusterSecret is the Secret of every node of a cluster: a token signed by
// one node is accepted by the others.
var clusterSecret = []byte("cluster-test-secret-of-32-bytes!")

// cluster is several nodes (each its own Hub, wstransport and HTTP server on
// 127.0.0.1) over one Storage and one Relay, and a round-robin TCP balancer
// in front of them.
type cluster struct {
	t     *testing.T
	store chatfly.Storage
	relay chatfly.Relay
	opts  *chatfly.Options
	nodes []*node
	lb    *balancer
}

// node is one server of a cluster.
type node struct {
	t    *testing.T
	id   string
	url  string
	hub  *chatfly.Hub
	ws   *wstransport.Transport
	srv  *httptest.Server
	dead atomic.Bool // killed: its Hub no longer runs

	mu    sync.Mutex
	conns map[net.Conn]struct{} // its sockets, hijacked ones included
}

// startCluster starts n nodes on backend b, whose Hubs get a copy of opts
// each (nil: defaults) with the shared Secret.
func startCluster(t *testing.T, b clusterBackend, n int, opts *chatfly.Options) *cluster {
	t.Helper()
	store, relay := b.open(t)
	if opts == nil {
		opts = &chatfly.Options{Rooms: chatfly.DefaultRooms()}
	}
	c := &cluster{t: t, store: store, relay: relay, opts: opts}
	for i := range n {
		c.nodes = append(c.nodes, c.startNode(i))
	}
	c.lb = startBalancer(t, c.nodes)
	return c
}

// restart replaces node i, killed, with a new one of the same node id (the
// balancer keeps sending to the old one's address: dial the new one).
func (c *cluster) restart(i int) *node {
	c.nodes[i] = c.startNode(i)
	return c.nodes[i]
}

func (c *cluster) startNode(i int) *node {
	o := *c.opts
	o.Secret = clusterSecret
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return startNode(c.t, "node"+itoa(i), c.store, c.relay, &o)
}

func startNode(t *testing.T, id string, store chatfly.Storage, relay chatfly.Relay, opts *chatfly.Options) *node {
	ws := wstransport.New(&wstransport.Options{NodeID: id, Relay: relay, RelayGrace: -1, Logger: opts.Logger})
	nd := &node{t: t, id: id, ws: ws, conns: make(map[net.Conn]struct{})}
	nd.hub = chatfly.New(store, ws, opts)
	mux := http.NewServeMux()
	mux.Handle("/ws", ws.Handler(killableHub{nd}))
	nd.srv = httptest.NewUnstartedServer(mux)
	nd.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		nd.mu.Lock()
		defer nd.mu.Unlock()
		switch s {
		case http.StateNew:
			nd.conns[c] = struct{}{}
		case http.StateClosed:
			delete(nd.conns, c)
		}
	}
	nd.srv.Start()
	nd.url = "ws" + strings.TrimPrefix(nd.srv.URL, "http") + "/ws"
	t.Cleanup(nd.stop)
	return nd
}

func (nd *node) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = nd.ws.Shutdown(ctx)
	nd.srv.Close()
}

// kill ends the node as a crash would: its Hub stops (no Disconnect for
// its connections), its listener and every socket close without a close
// handshake, and its relay subscription ends.
func (nd *node) kill() {
	nd.dead.Store(true)
	nd.srv.Listener.Close()
	nd.mu.Lock()
	for c := range nd.conns {
		c.Close()
	}
	nd.mu.Unlock()
	nd.stop() // the subscription and the Transport's goroutines
}

// dial connects a client named name to this node.
func (nd *node) dial(name string, opts *client.Options) *client.Client {
	nd.t.Helper()
	return dialURL(nd.t, nd.url, name, opts)
}

// killableHub is a node's Hub until the node is killed; then nothing of it
// runs, as after a crash.
type killableHub struct{ nd *node }

func (h killableHub) Connect(ctx context.Context, req *chatfly.ConnectRequest) error {
	if h.nd.dead.Load() {
		return chatfly.ErrUnavailable
	}
	return h.nd.hub.Connect(ctx, req)
}

func (h killableHub) Receive(ctx context.Context, connID string, frame []byte) error {
	if h.nd.dead.Load() {
		return nil
	}
	return h.nd.hub.Receive(ctx, connID, frame)
}

func (h killableHub) Disconnect(ctx context.Context, connID string) error {
	if h.nd.dead.Load() {
		return nil
	}
	return h.nd.hub.Disconnect(ctx, connID)
}

// balancer is a round-robin TCP load balancer: each new connection goes to
// the next node that is not dead, as a load balancer without stickiness
// does.
type balancer struct {
	ln    net.Listener
	url   string
	nodes []*node
	next  atomic.Uint32
	wg    sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startBalancer(t *testing.T, nodes []*node) *balancer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln, url: "ws://" + ln.Addr().String() + "/ws", nodes: nodes, conns: make(map[net.Conn]struct{})}
	b.wg.Go(b.serve)
	t.Cleanup(b.close)
	return b
}

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Go(func() { b.proxy(c) })
	}
}

// proxy copies between client connection c and the next live node.
func (b *balancer) proxy(c net.Conn) {
	var up net.Conn
	for range b.nodes {
		nd := b.nodes[int(b.next.Add(1)-1)%len(b.nodes)]
		if nd.dead.Load() {
			continue
		}
		var err error
		if up, err = net.Dial("tcp", nd.srv.Listener.Addr().String()); err == nil {
			break
		}
	}
	if up == nil || !b.track(c, up) {
		c.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	var once sync.Once
	end := func() { once.Do(func() { c.Close(); up.Close(); b.untrack(c, up) }) }
	b.wg.Go(func() { io.Copy(up, c); end() })
	io.Copy(c, up)
	end()
}

// track records both ends of a proxied connection; it fails once the
// balancer is closing.
func (b *balancer) track(cs ...net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil {
		return false
	}
	for _, c := range cs {
		b.conns[c] = struct{}{}
	}
	return true
}

func (b *balancer) untrack(cs ...net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range cs {
		delete(b.conns, c)
	}
}

func (b *balancer) close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.conns = nil
	b.mu.Unlock()
	b.wg.Wait()
}

// TestClusterScenarios runs the client-level scenario suite against three
// nodes behind a round-robin balancer: a scenario's consecutive clients land
// on different nodes, so its presence, typing, moderation, 4001, roulette
// and game steps cross nodes.
func TestClusterScenarios(t *testing.T) {
	forEachCluster(t, func(t *testing.T, b clusterBackend) {
		scenario.Run(t, clusterHost{b})
	})
}

type clusterHost struct{ b clusterBackend }

func (h clusterHost) Start(t *testing.T, opts *chatfly.Options) scenario.Deployment {
	opts.Logger = slog.New(slog.DiscardHandler)
	c := startCluster(t, h.b, 3, opts)
	// The application's server-side calls go through the first node's Hub
	// and reach clients on every node.
	return scenario.Deployment{URL: c.lb.url, Hub: c.nodes[0].hub}
}

// TestClusterAcrossNodes: presence and typing reach another node, and a
// moderator on one node kicks a member on another.
func TestClusterAcrossNodes(t *testing.T) {
	forEachCluster(t, func(t *testing.T, b clusterBackend) {
		c := startCluster(t, b, 3, clusterOptions(b))
		owner, guest := c.nodes[0].dial("Olga", nil), c.nodes[1].dial("Gus", nil)
		ev, err := owner.Do(ctx(t), "room.create", map[string]any{"name": "Book club", "visibility": "private"})
		if err != nil {
			t.Fatal(err)
		}
		id := decodeRaw[struct {
			Room chatfly.RoomInfo `json:"room"`
		}](t, ev.Raw).Room.ID
		join(t, owner, id)
		join(t, guest, id)
		if p := next(t, owner, "presence"); p.Event != "join" || p.Member.Name != "Gus" {
			t.Fatalf("Olga's presence event: %+v", p)
		}
		if err := guest.Typing(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		if ty := next(t, owner, "typing"); ty.Member.Name != "Gus" || ty.Room != id {
			t.Fatalf("Olga's typing event: %+v", ty)
		}
		if _, err := owner.Do(ctx(t), "room.kick", map[string]any{"room": id, "member": guest.Welcome().Session}); err != nil {
			t.Fatal(err)
		}
		if m := next(t, guest, "moderation"); !strings.Contains(string(m.Raw), `"action":"kick"`) {
			t.Fatalf("Gus got %s", m.Raw)
		}
		if _, err := guest.Send(ctx(t), id, "still here?"); !errors.Is(err, chatfly.ErrNotMember) {
			t.Fatalf("kicked Gus sending: %v, want not_member", err)
		}
	})
}

// TestClusterNodeKilled: a node dies (listener and sockets closed, no
// Disconnect, relay subscription gone). Its client reconnects to another
// node with its token, resumes its identity, rejoins with after and misses
// nothing; the member that never comes back is removed at the next fan-out,
// so nobody sees a ghost.
func TestClusterNodeKilled(t *testing.T) {
	forEachCluster(t, func(t *testing.T, b clusterBackend) {
		c := startCluster(t, b, 3, clusterOptions(b))
		alice := c.nodes[0].dial("Alice", nil)
		join(t, alice, "lobby")
		bob, carol := c.nodes[1].dial("Bob", nil), c.nodes[1].dial("Carol", nil)
		join(t, bob, "lobby")
		join(t, carol, "lobby")
		if _, err := alice.Send(ctx(t), "lobby", "before"); err != nil {
			t.Fatal(err)
		}
		seen := next(t, bob, "message").Seq

		c.nodes[1].kill()
		<-bob.Done()
		<-carol.Done()
		for _, text := range []string{"during 1", "during 2"} {
			if _, err := alice.Send(ctx(t), "lobby", text); err != nil {
				t.Fatal(err)
			}
		}
		left := map[string]bool{}
		for len(left) < 2 {
			if p := next(t, alice, "presence"); p.Event == "leave" {
				left[p.Member.Name] = true
			}
		}
		if !left["Bob"] || !left["Carol"] {
			t.Fatalf("Alice saw %v leave, want Bob and Carol", left)
		}

		bob2 := c.nodes[2].dial("", &client.Options{Token: bob.Welcome().Token})
		if w := bob2.Welcome(); w.Session != bob.Welcome().Session || w.Name != "Bob" {
			t.Fatalf("Bob resumed as %+v, was %+v", w, bob.Welcome())
		}
		j, err := bob2.Join(ctx(t), "lobby", seen)
		if err != nil {
			t.Fatal(err)
		}
		var missed []string
		for _, m := range j.History {
			missed = append(missed, m.Text)
		}
		if strings.Join(missed, "|") != "during 1|during 2" {
			t.Fatalf("Bob's history after seq %d: %q", seen, missed)
		}
		if names := memberNames(j.Members); names != "Alice,Bob" {
			t.Fatalf("Bob rejoined among %s, want Alice,Bob", names)
		}
		if p := next(t, alice, "presence"); p.Event != "join" || p.Member.Name != "Bob" {
			t.Fatalf("Alice's presence event: %+v", p)
		}
		if _, err := alice.Send(ctx(t), "lobby", "welcome back"); err != nil {
			t.Fatal(err)
		}
		if m := next(t, bob2, "message"); m.Text != "welcome back" {
			t.Fatalf("Bob got %+v", m)
		}
		dan := c.lb.dial(t, "Dan")
		if names := memberNames(join(t, dan, "lobby").Members); names != "Alice,Bob,Dan" {
			t.Fatalf("Dan joined among %s, want Alice,Bob,Dan", names)
		}
	})
}

// clusterOptions are the Hub options of the cluster tests on b.
func clusterOptions(b clusterBackend) *chatfly.Options {
	o := &chatfly.Options{Rooms: chatfly.DefaultRooms()}
	if b.emulated {
		o.StorageTimeout = time.Minute // frames, not deadlines, are tested here
	}
	return o
}

// dial connects a client named name through the balancer.
func (b *balancer) dial(t *testing.T, name string) *client.Client {
	t.Helper()
	return dialURL(t, b.url, name, nil)
}

func memberNames(ms []chatfly.Member) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

func decodeRaw[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return v
}

// TestClusterNodeRestarted: a node that crashed comes back with the same
// node id, so the relay never reports it gone; it recognises the dead
// connections of its previous run when another node's fan-out names them,
// and removes them.
func TestClusterNodeRestarted(t *testing.T) {
	forEachCluster(t, func(t *testing.T, b clusterBackend) {
		c := startCluster(t, b, 2, clusterOptions(b))
		alice, carol := c.nodes[0].dial("Alice", nil), c.nodes[1].dial("Carol", nil)
		join(t, alice, "lobby")
		join(t, carol, "lobby")
		c.nodes[1].kill()
		<-carol.Done()
		c.restart(1)
		if _, err := alice.Send(ctx(t), "lobby", "anyone?"); err != nil {
			t.Fatal(err)
		}
		p := next(t, alice, "presence")
		if p.Event == "join" && p.Member.Name == "Carol" {
			p = next(t, alice, "presence")
		}
		if p.Event != "leave" || p.Member.Name != "Carol" || p.Members != 1 {
			t.Fatalf("Alice's presence event: %+v", p)
		}
	})
}
