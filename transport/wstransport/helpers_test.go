package wstransport_test

import (
	"context"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/transport/wstransport"
)

// fakeHub records what the Handler calls and can reject connections or echo
// frames back through the Transport.
type fakeHub struct {
	tr     *wstransport.Transport
	reject error  // returned by Connect
	echo   bool   // Receive sends the frame back
	panic  string // Receive panics on this frame

	mu          sync.Mutex
	reqs        []chatfly.ConnectRequest
	frames      map[string][]string
	receives    int
	disconnects map[string]int
}

func newFakeHub(tr *wstransport.Transport) *fakeHub {
	return &fakeHub{tr: tr, frames: map[string][]string{}, disconnects: map[string]int{}}
}

func (h *fakeHub) Connect(ctx context.Context, req *chatfly.ConnectRequest) error {
	h.mu.Lock()
	h.reqs = append(h.reqs, *req)
	h.mu.Unlock()
	return h.reject
}

func (h *fakeHub) Receive(ctx context.Context, connID string, frame []byte) error {
	h.mu.Lock()
	h.frames[connID] = append(h.frames[connID], string(frame))
	h.receives++
	h.mu.Unlock()
	if h.panic != "" && string(frame) == h.panic {
		panic("fake hub: " + h.panic)
	}
	if h.echo {
		return h.tr.Send(ctx, connID, frame)
	}
	return nil
}

func (h *fakeHub) Disconnect(ctx context.Context, connID string) error {
	if ctx.Err() != nil {
		panic("Disconnect got a dead context")
	}
	h.mu.Lock()
	h.disconnects[connID]++
	h.mu.Unlock()
	return nil
}

func (h *fakeHub) connectCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reqs)
}

func (h *fakeHub) req(i int) chatfly.ConnectRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reqs[i]
}

func (h *fakeHub) framesOf(id string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.frames[id]...)
}

func (h *fakeHub) receiveCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.receives
}

func (h *fakeHub) disconnectCount(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.disconnects[id]
}

func (h *fakeHub) totalDisconnects() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.disconnects {
		n += c
	}
	return n
}

// limitHub is a fakeHub that announces its own frame limit, as *chatfly.Hub does.
type limitHub struct {
	*fakeHub
	max int
}

func (h limitHub) MaxFrameBytes() int { return h.max }

// env is a Transport served by an httptest server on 127.0.0.1.
type env struct {
	t      testing.TB
	tr     *wstransport.Transport
	hub    *fakeHub
	srv    *httptest.Server
	url    string
	client *http.Client
}

type envConfig struct {
	opts *wstransport.Options
	// wrap, if set, turns the fake hub into the Hub given to Handler.
	wrap func(*fakeHub) wstransport.Hub
	// smallBuffers shrinks the server's kernel send buffers, so that a
	// client that stops reading blocks the server's writes after a few
	// hundred kilobytes. (A small receive buffer on the client would do
	// too, but makes loopback transfers crawl.)
	smallBuffers bool
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	var opts wstransport.Options
	if cfg.opts != nil {
		opts = *cfg.opts
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	tr := wstransport.New(&opts)
	hub := newFakeHub(tr)
	var h wstransport.Hub = hub
	if cfg.wrap != nil {
		h = cfg.wrap(hub)
	}
	srv := httptest.NewUnstartedServer(tr.Handler(h))
	srv.Config.ErrorLog = log.New(t.Output(), "http: ", 0)
	if cfg.smallBuffers {
		srv.Listener = smallBufListener{srv.Listener}
	}
	srv.Start()
	ht := &http.Transport{DisableKeepAlives: true}
	e := &env{
		t: t, tr: tr, hub: hub, srv: srv,
		url:    "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws",
		client: &http.Client{Transport: ht},
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := tr.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		srv.Close()
		ht.CloseIdleConnections()
	})
	return e
}

type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(4096)
	}
	return c, err
}

func (e *env) dialOptions(h http.Header) *websocket.DialOptions {
	return &websocket.DialOptions{HTTPClient: e.client, HTTPHeader: h}
}

// dial connects a client and returns it with its connection id, once the
// Transport has registered the connection. Clients must be dialed one at a
// time.
func (e *env) dial(url string, opts *websocket.DialOptions) (*websocket.Conn, string) {
	e.t.Helper()
	if opts == nil {
		opts = e.dialOptions(nil)
	}
	n, before := e.hub.connectCount(), e.tr.Len()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { c.CloseNow() })
	waitUntil(e.t, "connection registered", func() bool { return e.tr.Len() == before+1 })
	return c, e.hub.req(n).ConnID
}

// waitUntil polls cond until it holds, failing the test after 15 s. It is a
// deadline against hanging, not a timing assertion.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// readMessage reads one message with a 15 s deadline.
func readMessage(c *websocket.Conn) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	return string(b), err
}

// readFrames reads messages until n frames (split on '\n') have arrived.
func readFrames(t testing.TB, c *websocket.Conn, n int) (frames []string, messages int) {
	t.Helper()
	for len(frames) < n {
		m, err := readMessage(c)
		if err != nil {
			t.Fatalf("read after %d frames: %v", len(frames), err)
		}
		messages++
		frames = append(frames, strings.Split(m, "\n")...)
	}
	return frames, messages
}

// readUntilClose reads and discards messages until the connection ends and
// returns the error that ended it.
func readUntilClose(c *websocket.Conn) error {
	for {
		if _, err := readMessage(c); err != nil {
			return err
		}
	}
}

func write(t testing.TB, c *websocket.Conn, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}
