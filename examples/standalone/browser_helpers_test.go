package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/browsertest"
)

// testServer is the example's real run function serving on a loopback
// listener.
type testServer struct {
	t      testing.TB
	addr   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startServer runs the standalone server on addr ("127.0.0.1:0" for any
// port) with the given resume-token secret, and the Hub options changed by
// opts. It stops at the end of the test.
func startServer(t testing.TB, addr string, secret []byte, opts ...func(*chatfly.Options)) *testServer {
	t.Helper()
	hub := &chatfly.Options{Secret: secret}
	for _, o := range opts {
		o(hub)
	}
	return startServerWith(t, addr, &config{hub: hub})
}

// startServerWith runs the standalone server on addr with cfg, whose log is
// set to the tests'.
func startServerWith(t testing.TB, addr string, cfg *config) *testServer {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // a restart may race the old socket's release
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{t: t, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg.log = log
	go func() { s.done <- run(ctx, ln, cfg) }()
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) url() string   { return "http://" + s.addr }
func (s *testServer) wsURL() string { return "ws://" + s.addr + "/ws" }

// stop shuts the server down as SIGTERM would: WebSocket clients are closed
// with 1001.
func (s *testServer) stop() {
	s.once.Do(func() {
		s.cancel()
		select {
		case err := <-s.done:
			if err != nil {
				s.t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			s.t.Errorf("run did not return 15s after shutdown")
		}
	})
}

// tab is a page of a browser test (internal/browsertest).
type tab = browsertest.Tab

// newBrowser starts a headless chromium for the test, or skips it.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	return browsertest.NewBrowser(t)
}

// expectedLog matches console entries that a test provokes on purpose: the
// WebSocket errors while the server restarts.
var expectedLog = regexp.MustCompile(`WebSocket connection to .* failed`)

// newTab opens a page in a new browser context, watched for problems.
func newTab(t testing.TB, browser context.Context, name string) *tab {
	t.Helper()
	return browsertest.NewTab(t, browser, name, expectedLog)
}

// eval evaluates a JavaScript expression (awaiting a promise) into T.
func eval[T any](tb *tab, expr string) T {
	tb.T.Helper()
	return browsertest.Eval[T](tb, expr)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string { return browsertest.JSString(s) }

// loadTiming is what a page reports about its load, in milliseconds since
// navigation start (Navigation Timing), plus the bytes it fetched.
type loadTiming struct {
	ResponseEnd      float64 `json:"responseEnd"`      // index.html received
	DOMContentLoaded float64 `json:"domContentLoaded"` // domContentLoadedEventEnd: modules ran
	Load             float64 `json:"load"`             // loadEventEnd
	Ready            float64 `json:"ready"`            // the app's "chatfly:ready" mark: first screen up
	FirstMessage     float64 `json:"firstMessage"`     // the app's "chatfly:first-message" mark
	Transferred      float64 `json:"transferred"`      // bytes over the wire, headers included
	Decoded          float64 `json:"decoded"`          // bytes after gzip
}

const jsLoadTiming = `(() => {
	const n = performance.getEntriesByType("navigation")[0];
	const f = performance.getEntriesByName("chatfly:first-message")[0];
	const ready = performance.getEntriesByName("chatfly:ready")[0];
	const all = [n, ...performance.getEntriesByType("resource")];
	return {
		responseEnd: n.responseEnd, domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd,
		ready: ready ? ready.startTime : -1,
		firstMessage: f ? f.startTime : -1,
		transferred: all.reduce((s, e) => s + e.transferSize, 0),
		decoded: all.reduce((s, e) => s + e.decodedBodySize, 0),
	};
})()`

// openChat opens the app in tb as name and joins room with the mouse, as a
// first-time visitor, and returns the page's timing and the wall time from
// the navigation to the first message on screen.
func openChat(tb *tab, base, name, room string) (loadTiming, time.Duration) {
	tb.T.Helper()
	start := time.Now()
	tb.Do("open the app", chromedp.Navigate(base+"/"))
	tb.Do("pick a name",
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
	)
	tb.Do("join "+room, chromedp.Click(chromedp.CSS(`a.room[data-room="`+room+`"]`)))
	tb.WaitJS("the first message", `document.querySelector(".msgs li.msg")`)
	wall := time.Since(start)
	return eval[loadTiming](tb, jsLoadTiming), wall
}
