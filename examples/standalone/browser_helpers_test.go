package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/chatfly/chatfly"
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
	hub := &chatfly.Options{Secret: secret}
	for _, o := range opts {
		o(hub)
	}
	go func() { s.done <- run(ctx, ln, &config{log: log, hub: hub}) }()
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

// chromiumPath finds Debian's chromium, or skips the test (fails it with
// CHATFLY_REQUIRE_CHROMIUM=1). CHATFLY_CHROMIUM names another binary.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHATFLY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "examples/standalone: chromium not found (apt-get install chromium)"
	if os.Getenv("CHATFLY_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + ", and CHATFLY_REQUIRE_CHROMIUM=1")
	}
	t.Skip(msg + ", skipping")
	return ""
}

// newBrowser starts a headless chromium with a fresh profile and returns its
// context. The browser is killed, and its profile removed, when the test ends.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	dir := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1024, 768),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel()
		acancel() // waits for the browser process to exit
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx
}

// tab is a page in its own browser context (like an incognito window: its
// own cookies and storage), watched for dialogs, exceptions, console errors
// and Content-Security-Policy violations.
type tab struct {
	t     testing.TB
	name  string
	ctx   context.Context
	close context.CancelFunc // closes the tab and its browser context

	mu       sync.Mutex
	dialogs  []string
	problems []string
}

// violations are recorded by the page itself, from the first script on.
const watchCSP = `window.__csp = []; document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI), true);`

// expectedLog matches console entries that a test provokes on purpose: the
// WebSocket errors while the server restarts.
var expectedLog = regexp.MustCompile(`WebSocket connection to .* failed`)

func newTab(t testing.TB, browser context.Context, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	tb := &tab{t: t, name: name, ctx: ctx, close: cancel}
	t.Cleanup(func() {
		if t.Failed() {
			tb.screenshot()
		}
		cancel()
	})
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatalf("%s: opening a tab: %v", name, err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			tb.dialogs = append(tb.dialogs, string(ev.Type)+": "+ev.Message)
			go func() { // never leave a dialog blocking the page
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text += " " + d.Exception.Description
			}
			tb.problems = append(tb.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				tb.problems = append(tb.problems, "console.error: "+strings.Join(parts, " "))
			}
		case *cdplog.EventEntryAdded:
			e := ev.Entry
			if e.Level == cdplog.EntryLevelError && !expectedLog.MatchString(e.Text) {
				tb.problems = append(tb.problems, fmt.Sprintf("log %s: %s %s", e.Source, e.Text, e.URL))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchCSP}); err != nil {
		t.Fatal(err)
	}
	return tb
}

// do runs actions with a timeout, failing the test on error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: evaluating %s: %v", tb.name, expr, err)
	}
	return v
}

// waitJS waits until the expression is truthy.
func (tb *tab) waitJS(what, expr string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 25*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		tb.t.Fatalf("%s: waiting for %s (%s): %v\npage text:\n%s", tb.name, what, expr, err, tb.text())
	}
}

// text is the page's visible text, for failure messages.
func (tb *tab) text() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// check fails the test if the page opened a dialog, threw, logged an error
// or violated its Content-Security-Policy.
func (tb *tab) check() {
	tb.t.Helper()
	csp := eval[[]string](tb, `window.__csp || []`)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.dialogs) > 0 {
		tb.t.Errorf("%s: dialogs opened: %q", tb.name, tb.dialogs)
	}
	for _, p := range tb.problems {
		tb.t.Errorf("%s: %s", tb.name, p)
	}
	for _, v := range csp {
		tb.t.Errorf("%s: CSP violation: %s", tb.name, v)
	}
}

// screenshot saves the page as a PNG in the temporary directory and prints
// the path; a failed test calls it.
func (tb *tab) screenshot() {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Logf("%s: no screenshot: %v", tb.name, err)
		return
	}
	dir := filepath.Join(os.TempDir(), "chatfly-browser-tests")
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(tb.t.Name()+"-"+tb.name, "_") + ".png"
	err = os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), buf, 0o644)
	}
	if err != nil {
		tb.t.Logf("%s: saving screenshot: %v", tb.name, err)
		return
	}
	tb.t.Logf("%s: screenshot of the failure: %s", tb.name, filepath.Join(dir, name))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return fmt.Sprintf("%q", s) // Go's quoting is valid JS for the strings used here
}

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
	tb.t.Helper()
	start := time.Now()
	tb.do("open the app", chromedp.Navigate(base+"/"))
	tb.do("pick a name",
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
	)
	tb.do("join "+room, chromedp.Click(chromedp.CSS(`a.room[data-room="`+room+`"]`)))
	tb.waitJS("the first message", `document.querySelector(".msgs li.msg")`)
	wall := time.Since(start)
	return eval[loadTiming](tb, jsLoadTiming), wall
}
