package wstransport_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/transport/wstransport"
)

var bg = context.Background()

func TestConnectRejected(t *testing.T) {
	for _, tc := range []struct {
		name        string
		err         error
		status      int
		code, msg   string
		wantMessage bool
	}{
		{"chatfly error", chatfly.Errorf(chatfly.ErrRejected, "no bots allowed"), 403, "rejected", "no bots allowed", true},
		{"wrapped chatfly error", fmt.Errorf("identify: %w", chatfly.ErrForbidden), 403, "forbidden", "forbidden", true},
		{"plain error", errors.New("database password is hunter2"), 500, "internal", "", false},
		{"storage timed out", fmt.Errorf("%w: %w", chatfly.ErrUnavailable, context.DeadlineExceeded), 503, "unavailable", chatfly.ErrUnavailable.Message, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			e.hub.reject = tc.err
			_, resp, err := websocket.Dial(bg, e.url, e.dialOptions(nil))
			if err == nil {
				t.Fatal("dial succeeded")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("response %v, want %d", resp, tc.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct{ Code, Message string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body: %v", err)
			}
			if body.Code != tc.code {
				t.Errorf("code %q, want %q", body.Code, tc.code)
			}
			if tc.wantMessage && body.Message != tc.msg {
				t.Errorf("message %q, want %q", body.Message, tc.msg)
			}
			if strings.Contains(body.Message, "hunter2") {
				t.Errorf("message leaks the error: %q", body.Message)
			}
			if n := e.hub.connectCount(); n != 1 {
				t.Errorf("Connect called %d times", n)
			}
			if e.hub.receiveCount() != 0 || e.hub.totalDisconnects() != 0 {
				t.Errorf("Receive or Disconnect called for a rejected connection")
			}
			if e.tr.Len() != 0 {
				t.Errorf("Len %d", e.tr.Len())
			}
		})
	}
}

func TestNotAnUpgrade(t *testing.T) {
	e := newEnv(t, envConfig{})
	resp, err := e.client.Get(e.srv.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("status %d, want 426", resp.StatusCode)
	}
	if e.hub.connectCount() != 0 {
		t.Error("Connect called for a plain GET")
	}
}

func TestAcceptFailsAfterConnect(t *testing.T) {
	e := newEnv(t, envConfig{})
	req, _ := http.NewRequest("GET", e.srv.URL+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "12") // Accept refuses it
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
	if e.hub.connectCount() != 1 {
		t.Fatal("Connect not called")
	}
	if n := e.hub.disconnectCount(e.hub.req(0).ConnID); n != 1 {
		t.Errorf("Disconnect called %d times, want 1", n)
	}
}

func TestReceiveInOrder(t *testing.T) {
	e := newEnv(t, envConfig{})
	h := http.Header{"X-Test": {"yes"}}
	c, id := e.dial(e.url+"?room=lobby&name=ann", e.dialOptions(h))

	req := e.hub.req(0)
	if node, rest, _ := strings.Cut(req.ConnID, "."); node != e.tr.NodeID() || len(rest) != 22 {
		t.Errorf("ConnID %q, want the node id, a dot and 22 base64url characters", req.ConnID)
	}
	if req.Header.Get("X-Test") != "yes" || req.Query.Get("room") != "lobby" || req.Query.Get("name") != "ann" {
		t.Errorf("ConnectRequest %+v", req)
	}
	if !strings.HasPrefix(req.RemoteAddr, "127.0.0.1:") {
		t.Errorf("RemoteAddr %q", req.RemoteAddr)
	}

	var want []string
	for i := range 200 {
		f := fmt.Sprintf(`{"action":"say","n":%d}`, i)
		want = append(want, f)
		write(t, c, f)
	}
	waitUntil(t, "frames received", func() bool { return len(e.hub.framesOf(id)) == len(want) })
	if got := e.hub.framesOf(id); !slices.Equal(got, want) {
		t.Errorf("frames out of order or changed")
	}

	c.Close(websocket.StatusNormalClosure, "bye")
	waitUntil(t, "Disconnect", func() bool { return e.hub.disconnectCount(id) == 1 })
	if e.tr.Len() != 0 {
		t.Errorf("Len %d after disconnect", e.tr.Len())
	}
	if err := e.tr.Send(bg, id, []byte("x")); !errors.Is(err, chatfly.ErrGone) {
		t.Errorf("Send after disconnect: %v", err)
	}
}

func TestEcho(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.hub.echo = true
	c, _ := e.dial(e.url, nil)
	var want []string
	for i := range 100 {
		f := fmt.Sprintf(`{"n":%d}`, i)
		want = append(want, f)
		write(t, c, f)
	}
	got, _ := readFrames(t, c, len(want))
	if !slices.Equal(got, want) {
		t.Errorf("echo: got %q, want %q", got, want)
	}
}

func TestReadLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  *wstransport.Options
		limit int
	}{
		{"hub MaxFrameBytes", nil, 1000},
		{"Options.ReadLimit wins", &wstransport.Options{ReadLimit: 300}, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{
				opts: tc.opts,
				wrap: func(h *fakeHub) wstransport.Hub { return limitHub{h, 1000} },
			})
			c, id := e.dial(e.url, nil)
			write(t, c, strings.Repeat("a", tc.limit)) // at the limit: fine
			waitUntil(t, "frame at the limit", func() bool { return len(e.hub.framesOf(id)) == 1 })
			write(t, c, strings.Repeat("b", tc.limit+1))
			err := readUntilClose(c)
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusMessageTooBig || ce.Reason == "" {
				t.Fatalf("read error %v, want close 1009 with a reason", err)
			}
			waitUntil(t, "Disconnect", func() bool { return e.hub.disconnectCount(id) == 1 })
			if n := len(e.hub.framesOf(id)); n != 1 {
				t.Errorf("%d frames received, want 1", n)
			}
		})
	}
}

func TestDefaultReadLimit(t *testing.T) {
	e := newEnv(t, envConfig{}) // fakeHub has no MaxFrameBytes
	c, id := e.dial(e.url, nil)
	write(t, c, strings.Repeat("a", chatfly.DefaultMaxFrameBytes))
	write(t, c, strings.Repeat("a", chatfly.DefaultMaxFrameBytes+1))
	if err := readUntilClose(c); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("read error %v, want 1009", err)
	}
	waitUntil(t, "Disconnect", func() bool { return e.hub.disconnectCount(id) == 1 })
	if n := len(e.hub.framesOf(id)); n != 1 {
		t.Errorf("%d frames received, want 1", n)
	}
}

func TestSlowConsumer(t *testing.T) {
	const queue = 16
	e := newEnv(t, envConfig{
		opts:         &wstransport.Options{QueueSize: queue, PingInterval: -1},
		smallBuffers: true,
	})
	fast, fastID := e.dial(e.url, nil)
	slow, slowID := e.dial(e.url, nil)

	var (
		mu        sync.Mutex
		fastGot   []string
		fastCount atomic.Int64
		fastErr   = make(chan error, 1)
	)
	go func() {
		for {
			m, err := readMessage(fast)
			if err != nil {
				fastErr <- err
				return
			}
			parts := strings.Split(m, "\n")
			mu.Lock()
			fastGot = append(fastGot, parts...)
			mu.Unlock()
			fastCount.Add(int64(len(parts)))
		}
	}()

	frame := func(i int) []byte {
		return fmt.Appendf(nil, `{"type":"message","n":%06d,"pad":"%s"}`, i, strings.Repeat("x", 1000))
	}
	var sent []string
	send := func(i int) {
		// Keep the fast client within half its queue; the slow one does
		// not read at all.
		waitUntil(t, "fast client to keep up", func() bool { return fastCount.Load() >= int64(i-queue/2) })
		f := frame(i)
		sent = append(sent, string(f))
		if err := e.tr.Send(bg, fastID, f); err != nil {
			t.Fatalf("Send to the fast client, frame %d: %v", i, err)
		}
	}
	overflowAt := -1
	for i := 0; i < 100000; i++ {
		send(i)
		if err := e.tr.Send(bg, slowID, frame(i)); err != nil {
			if !errors.Is(err, chatfly.ErrGone) {
				t.Fatalf("Send to the slow client: %v, want ErrGone", err)
			}
			overflowAt = i
			break
		}
	}
	if overflowAt < 0 {
		t.Fatal("the slow client's queue never overflowed")
	}
	t.Logf("slow client overflowed at frame %d", overflowAt)
	if err := e.tr.Send(bg, slowID, frame(0)); !errors.Is(err, chatfly.ErrGone) {
		t.Errorf("Send after overflow: %v, want ErrGone", err)
	}
	gone, _ := e.tr.SendMany(bg, []string{fastID, slowID}, frame(overflowAt+1))
	sent = append(sent, string(frame(overflowAt+1)))
	if !slices.Equal(gone, []string{slowID}) {
		t.Errorf("SendMany gone = %q, want the slow client", gone)
	}
	for i := overflowAt + 2; i < overflowAt+100; i++ {
		send(i)
	}

	// The fast client got everything, in order.
	waitUntil(t, "fast client to get every frame", func() bool { return fastCount.Load() >= int64(len(sent)) })
	mu.Lock()
	if !slices.Equal(fastGot, sent) {
		t.Errorf("fast client got %d frames, want the %d sent, in order", len(fastGot), len(sent))
	}
	mu.Unlock()

	// The slow client, once it reads again, finds the data that was in
	// flight and then the close frame.
	err := readUntilClose(slow)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusCode(chatfly.CloseSlowConsumer) || ce.Reason != "too slow" {
		t.Fatalf("slow client: %v, want close 4000 \"too slow\"", err)
	}
	waitUntil(t, "Disconnect of the slow client", func() bool { return e.hub.disconnectCount(slowID) == 1 })
	if e.hub.disconnectCount(fastID) != 0 {
		t.Error("fast client disconnected")
	}
	fast.Close(websocket.StatusNormalClosure, "")
	<-fastErr
}

func TestCoalescing(t *testing.T) {
	small := []string{`{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":4}`, `{"n":5}`}
	for _, tc := range []struct {
		name string
		opts *wstransport.Options
		want []string // messages after the big one
	}{
		{"default", nil, []string{strings.Join(small, "\n")}},
		{"MaxFramesPerWrite", &wstransport.Options{MaxFramesPerWrite: 2},
			[]string{small[0] + "\n" + small[1], small[2] + "\n" + small[3], small[4]}},
		{"MaxWriteBytes", &wstransport.Options{MaxWriteBytes: 3*7 + 2},
			[]string{strings.Join(small[:3], "\n"), strings.Join(small[3:], "\n")}},
		{"no coalescing", &wstransport.Options{MaxFramesPerWrite: 1}, small},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{opts: tc.opts, smallBuffers: true})
			c, id := e.dial(e.url, nil)
			c.SetReadLimit(-1)
			// The writer blocks on this frame: it is far larger than the
			// socket buffers and the client is not reading yet.
			big := strings.Repeat("B", 1<<20)
			bigFrame := []byte(big)
			if err := e.tr.Send(bg, id, bigFrame); err != nil {
				t.Fatal(err)
			}
			// Only once the writer has taken the big frame (a new writer
			// first lets ready goroutines run, so it could take some of
			// the small ones with it otherwise).
			waitUntil(t, "the writer blocks on the big frame", func() bool { return e.tr.Writing(id) })
			for _, f := range small {
				if err := e.tr.Send(bg, id, []byte(f)); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for len(got) < 1+len(tc.want) {
				m, err := readMessage(c)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, m)
			}
			if got[0] != big {
				t.Fatalf("first message is not the big frame alone (%d bytes)", len(got[0]))
			}
			if !slices.Equal(got[1:], tc.want) {
				t.Errorf("messages %q, want %q", got[1:], tc.want)
			}
			var split []string
			for _, m := range got[1:] {
				split = append(split, strings.Split(m, "\n")...)
			}
			if !slices.Equal(split, small) {
				t.Errorf("split %q, want %q", split, small)
			}
			if string(bigFrame) != big {
				t.Error("the Transport modified a sent frame")
			}
		})
	}
}

func TestSendManySharedFrame(t *testing.T) {
	e := newEnv(t, envConfig{})
	var clients []*websocket.Conn
	var ids []string
	for range 5 {
		c, id := e.dial(e.url, nil)
		clients = append(clients, c)
		ids = append(ids, id)
	}
	frame := []byte(`{"type":"message","text":"hi all"}`)
	unknown := e.tr.NodeID() + ".unknown"
	gone, err := e.tr.SendMany(bg, append(ids, unknown), frame)
	if err != nil || !slices.Equal(gone, []string{unknown}) {
		t.Fatalf("SendMany = %q, %v", gone, err)
	}
	for _, c := range clients {
		if got, _ := readFrames(t, c, 1); got[0] != string(frame) {
			t.Errorf("got %q", got[0])
		}
	}
}

func TestSendUnknown(t *testing.T) {
	tr := wstransport.New(&wstransport.Options{NodeID: "n1"})
	if err := tr.Send(bg, "n1.nope", []byte("x")); !errors.Is(err, chatfly.ErrGone) {
		t.Errorf("Send to unknown: %v, want ErrGone", err)
	}
	if chatfly.CodeOf(tr.Send(bg, "n1.nope", nil)) != "gone" {
		t.Error("CodeOf(Send error) is not gone")
	}
	if err := tr.Close(bg, "n1.nope", chatfly.CloseNormal, ""); err != nil {
		t.Errorf("Close unknown: %v", err)
	}
	if tr.Len() != 0 {
		t.Error("Len != 0")
	}
	if err := tr.Shutdown(bg); err != nil {
		t.Errorf("Shutdown of an unused Transport: %v", err)
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t, envConfig{})
	c, id := e.dial(e.url, nil)
	if err := e.tr.Send(bg, id, []byte("last words")); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 100) // 200 bytes: cut to fit a close frame
	for range 2 {                    // idempotent
		if err := e.tr.Close(bg, id, chatfly.CloseReplaced, long); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.tr.Send(bg, id, []byte("too late")); !errors.Is(err, chatfly.ErrGone) {
		t.Errorf("Send after Close: %v, want ErrGone", err)
	}
	write(t, c, "client still talking") // the Hub must not get it
	if m, err := readMessage(c); err != nil || m != "last words" {
		t.Fatalf("read %q, %v: frames queued before Close must arrive", m, err)
	}
	_, err := readMessage(c)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusCode(chatfly.CloseReplaced) {
		t.Fatalf("read error %v, want close 4001", err)
	}
	if len(ce.Reason) > 123 || !strings.HasPrefix(long, ce.Reason) || ce.Reason == "" {
		t.Errorf("reason %q not cut on a character boundary", ce.Reason)
	}
	waitUntil(t, "Disconnect", func() bool { return e.hub.disconnectCount(id) == 1 })
	if n := e.hub.receiveCount(); n != 0 {
		t.Errorf("Receive called %d times after Close", n)
	}
	if err := e.tr.Close(bg, id, chatfly.CloseNormal, ""); err != nil {
		t.Errorf("Close after disconnect: %v", err)
	}
}

func TestShutdown(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	e := newEnv(t, envConfig{})
	type result struct {
		frames []string
		err    error
	}
	results := make(chan result, 3)
	var ids []string
	for range 3 {
		c, id := e.dial(e.url, nil)
		ids = append(ids, id)
		go func() {
			var r result
			for {
				m, err := readMessage(c)
				if err != nil {
					r.err = err
					results <- r
					return
				}
				r.frames = append(r.frames, m)
			}
		}()
	}
	gone, _ := e.tr.SendMany(bg, ids, []byte("bye soon"))
	if len(gone) != 0 {
		t.Fatalf("gone %q", gone)
	}

	ctx, cancel := context.WithTimeout(bg, 15*time.Second)
	defer cancel()
	if err := e.tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Shutdown has waited for every handler, Disconnect included.
	for _, id := range ids {
		if n := e.hub.disconnectCount(id); n != 1 {
			t.Errorf("Disconnect(%s) called %d times", id, n)
		}
	}
	if e.tr.Len() != 0 {
		t.Errorf("Len %d after Shutdown", e.tr.Len())
	}
	for range 3 {
		r := <-results
		var ce websocket.CloseError
		if !errors.As(r.err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "server shutting down" {
			t.Errorf("client got %v, want close 1001 \"server shutting down\"", r.err)
		}
		if !slices.Equal(r.frames, []string{"bye soon"}) {
			t.Errorf("client got %q before closing, want the queued frame", r.frames)
		}
	}

	// New connections are refused.
	_, resp, err := websocket.Dial(bg, e.url, e.dialOptions(nil))
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Shutdown: %v, %v; want 503", resp, err)
	}
	if err := e.tr.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}

	e.srv.Close()
	e.client.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}

func TestShutdownDeadline(t *testing.T) {
	// A client that never reads cannot complete a close handshake: when
	// Shutdown's context ends, the connection is aborted.
	e := newEnv(t, envConfig{
		opts:         &wstransport.Options{PingInterval: -1, WriteTimeout: time.Minute},
		smallBuffers: true,
	})
	_, id := e.dial(e.url, nil)
	if err := e.tr.Send(bg, id, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	if err := e.tr.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	waitUntil(t, "Disconnect", func() bool { return e.hub.disconnectCount(id) == 1 })
	if err := e.tr.Shutdown(bg); err != nil {
		t.Fatalf("Shutdown after abort: %v", err)
	}
}

func TestOrigin(t *testing.T) {
	t.Run("default same origin only", func(t *testing.T) {
		e := newEnv(t, envConfig{})
		_, resp, err := websocket.Dial(bg, e.url, e.dialOptions(http.Header{"Origin": {"http://evil.example"}}))
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-origin dial: %v, %v; want 403", resp, err)
		}
		if e.hub.connectCount() != 0 {
			t.Error("Connect called for a refused origin")
		}
		// Same origin is fine.
		e.dial(e.url, e.dialOptions(http.Header{"Origin": {e.srv.URL}}))
	})
	t.Run("allowed pattern", func(t *testing.T) {
		e := newEnv(t, envConfig{opts: &wstransport.Options{OriginPatterns: []string{"*.app.example", "https://chat.example"}}})
		e.dial(e.url, e.dialOptions(http.Header{"Origin": {"https://web.app.example"}}))
		e.dial(e.url, e.dialOptions(http.Header{"Origin": {"https://chat.example"}}))
		for _, o := range []string{"http://evil.example", "http://chat.example"} {
			_, resp, err := websocket.Dial(bg, e.url, e.dialOptions(http.Header{"Origin": {o}}))
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("origin %s: %v, %v; want 403", o, resp, err)
			}
		}
		if n := e.hub.connectCount(); n != 2 {
			t.Errorf("Connect called %d times, want 2", n)
		}
	})
}

func TestKeepalive(t *testing.T) {
	e := newEnv(t, envConfig{
		opts: &wstransport.Options{PingInterval: 20 * time.Millisecond, PingTimeout: 2 * time.Second},
	})
	var pings atomic.Int64
	opts := e.dialOptions(nil)
	opts.OnPingReceived = func(context.Context, []byte) bool { pings.Add(1); return true }
	alive, aliveID := e.dial(e.url, opts)
	readDone := make(chan error, 1)
	go func() { readDone <- readUntilClose(alive) }() // answers pings

	_, deadID := e.dial(e.url, nil) // never reads, so never answers a ping
	waitUntil(t, "the silent client to be dropped", func() bool { return e.hub.disconnectCount(deadID) == 1 })
	waitUntil(t, "pings", func() bool { return pings.Load() >= 3 })
	if e.hub.disconnectCount(aliveID) != 0 {
		t.Error("a client that answers pings was dropped")
	}
	alive.Close(websocket.StatusNormalClosure, "")
	<-readDone
}

func TestWriteTimeout(t *testing.T) {
	e := newEnv(t, envConfig{
		opts:         &wstransport.Options{WriteTimeout: 100 * time.Millisecond, PingInterval: -1},
		smallBuffers: true,
	})
	_, id := e.dial(e.url, nil) // never reads
	if err := e.tr.Send(bg, id, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the stalled connection to be dropped", func() bool { return e.hub.disconnectCount(id) == 1 })
	if err := e.tr.Send(bg, id, []byte("x")); !errors.Is(err, chatfly.ErrGone) {
		t.Errorf("Send: %v, want ErrGone", err)
	}
}

func TestDuplicateConnID(t *testing.T) {
	e := newEnv(t, envConfig{opts: &wstransport.Options{NewConnID: func() string { return "same" }}})
	first, id := e.dial(e.url, nil)
	if id != e.tr.NodeID()+".same" {
		t.Fatalf("connection id %q, want the node id, a dot and NewConnID's", id)
	}
	_, resp, err := websocket.Dial(bg, e.url, e.dialOptions(nil))
	if err == nil || resp == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("second connection: %v, %v; want 500", resp, err)
	}
	if n := e.hub.connectCount(); n != 1 {
		t.Errorf("Connect called %d times, want 1", n)
	}
	if e.hub.disconnectCount(id) != 0 {
		t.Error("Disconnect called for the live connection's id")
	}
	if err := e.tr.Send(bg, id, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if m, err := readMessage(first); err != nil || m != "still here" {
		t.Errorf("first connection: %q, %v", m, err)
	}
}

func TestHubPanics(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.hub.panic = "boom"
	c, id := e.dial(e.url, nil)
	write(t, c, "boom")
	if _, err := readMessage(c); err == nil {
		t.Fatal("connection survived a panic of the Hub")
	}
	waitUntil(t, "Disconnect", func() bool { return e.hub.disconnectCount(id) == 1 })
	if e.tr.Len() != 0 {
		t.Errorf("Len %d", e.tr.Len())
	}
}

// TestConcurrentUse runs sends, broadcasts and closes from many goroutines
// while clients come and go, for the race detector.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, envConfig{opts: &wstransport.Options{QueueSize: 8, PingInterval: 5 * time.Millisecond}})
	e.hub.echo = true
	var ids []string
	var clients []*websocket.Conn
	for range 8 {
		c, id := e.dial(e.url, nil)
		ids = append(ids, id)
		clients = append(clients, c)
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for j := 0; ; j++ {
				if j < 50 {
					c.Write(bg, websocket.MessageText, []byte("ping"))
				}
				if _, err := readMessage(c); err != nil {
					return
				}
				if i == 0 && j == 20 {
					c.Close(websocket.StatusNormalClosure, "")
				}
			}
		})
	}
	for g := range 4 {
		wg.Go(func() {
			for k := range 300 {
				e.tr.SendMany(bg, ids, []byte("fan-out"))
				e.tr.Send(bg, ids[k%len(ids)], []byte("one"))
				if g == 0 && k == 150 {
					e.tr.Close(bg, ids[1], chatfly.ClosePolicy, "go away")
				}
				_ = e.tr.Len()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(bg, 15*time.Second)
	defer cancel()
	if err := e.tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, id := range ids {
		if n := e.hub.disconnectCount(id); n != 1 {
			t.Errorf("Disconnect(%s) called %d times, want 1", id, n)
		}
	}
}
