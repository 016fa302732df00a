// Package browsertest drives a headless chromium (Debian's, by default) with
// chromedp for the examples' browser tests: one browser per test, pages in
// their own browser contexts, watched for dialogs, exceptions, console
// errors and Content-Security-Policy violations.
//
// Without chromium the tests skip, unless CHATFLY_REQUIRE_CHROMIUM=1 (CI),
// which fails them; CHATFLY_CHROMIUM names another binary.
package browsertest

import (
	"context"
	"fmt"
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
)

// ChromiumPath finds Debian's chromium, or skips the test (fails it with
// CHATFLY_REQUIRE_CHROMIUM=1). CHATFLY_CHROMIUM names another binary.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHATFLY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "chromium not found (apt-get install chromium)"
	if os.Getenv("CHATFLY_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + ", and CHATFLY_REQUIRE_CHROMIUM=1")
	}
	t.Skip(msg + ", skipping")
	return ""
}

// NewBrowser starts a headless chromium with a fresh profile and returns its
// context. The browser is killed, and its profile removed, when the test ends.
func NewBrowser(t testing.TB) context.Context {
	t.Helper()
	exe := ChromiumPath(t)
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

// Tab is a page in its own browser context (like an incognito window: its
// own cookies and storage), watched for dialogs, exceptions, console errors
// and Content-Security-Policy violations.
type Tab struct {
	T     testing.TB
	Name  string
	Ctx   context.Context
	Close context.CancelFunc // closes the tab and its browser context

	expected *regexp.Regexp // log entries a test provokes on purpose

	mu       sync.Mutex
	dialogs  []string
	problems []string
}

// violations are recorded by the page itself, from the first script on.
const watchCSP = `window.__csp = []; document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI), true);`

// NewTab opens a tab named name (for messages) in a new browser context of
// browser. Error log entries that match expected (if not nil) are ones the
// test provokes on purpose, not problems.
func NewTab(t testing.TB, browser context.Context, name string, expected *regexp.Regexp) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	tb := &Tab{T: t, Name: name, Ctx: ctx, Close: cancel, expected: expected}
	t.Cleanup(func() {
		if t.Failed() {
			tb.Screenshot()
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
			if e.Level == cdplog.EntryLevelError && (tb.expected == nil || !tb.expected.MatchString(e.Text)) {
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

// Do runs actions with a timeout, failing the test on error.
func (tb *Tab) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.T.Fatalf("%s: %s: %v", tb.Name, what, err)
	}
}

// Eval evaluates a JavaScript expression (awaiting a promise) into T.
func Eval[T any](tb *Tab, expr string) T {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.T.Fatalf("%s: evaluating %s: %v", tb.Name, expr, err)
	}
	return v
}

// WaitJS waits until the expression is truthy.
func (tb *Tab) WaitJS(what, expr string) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, 25*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		tb.T.Fatalf("%s: waiting for %s (%s): %v\npage text:\n%s", tb.Name, what, expr, err, tb.Text())
	}
}

// ClickJS waits until the expression el evaluates to an element that is
// enabled, then clicks it in the same evaluation: a node that the page
// re-renders between finding and clicking it (a game card redrawn by a
// state update) cannot swallow the click.
func (tb *Tab) ClickJS(what, el string) {
	tb.T.Helper()
	tb.WaitJS(what, `(() => { const el = `+el+`; if (!el || el.disabled || !el.checkVisibility()) return false; el.click(); return true; })()`)
}

// Text is the page's visible text, for failure messages.
func (tb *Tab) Text() string {
	ctx, cancel := context.WithTimeout(tb.Ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// Check fails the test if the page opened a dialog, threw, logged an error
// or violated its Content-Security-Policy.
func (tb *Tab) Check() {
	tb.T.Helper()
	csp := Eval[[]string](tb, `window.__csp || []`)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.dialogs) > 0 {
		tb.T.Errorf("%s: dialogs opened: %q", tb.Name, tb.dialogs)
	}
	for _, p := range tb.problems {
		tb.T.Errorf("%s: %s", tb.Name, p)
	}
	for _, v := range csp {
		tb.T.Errorf("%s: CSP violation: %s", tb.Name, v)
	}
}

// Screenshot saves the page as a PNG in the temporary directory and prints
// the path; a failed test calls it.
func (tb *Tab) Screenshot() {
	ctx, cancel := context.WithTimeout(tb.Ctx, 5*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.T.Logf("%s: no screenshot: %v", tb.Name, err)
		return
	}
	dir := filepath.Join(os.TempDir(), "chatfly-browser-tests")
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(tb.T.Name()+"-"+tb.Name, "_") + ".png"
	err = os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), buf, 0o644)
	}
	if err != nil {
		tb.T.Logf("%s: saving screenshot: %v", tb.Name, err)
		return
	}
	tb.T.Logf("%s: screenshot of the failure: %s", tb.Name, filepath.Join(dir, name))
}

// JSString quotes s as a JavaScript string literal.
func JSString(s string) string {
	return fmt.Sprintf("%q", s) // Go's quoting is valid JS for the strings used here
}
