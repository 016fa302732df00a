package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxPageWeight is the budget for the initial page: HTML + JS + CSS,
// uncompressed.
const maxPageWeight = 50 * 1024

func get(t *testing.T, h http.Handler, method, target string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPageWeight keeps the first page small: index.html and every file it
// makes the browser load at start — its stylesheet, its module script and
// the modules it preloads — within the budget, uncompressed. It also checks
// that those are all the page needs at start: every module that a start
// module imports statically is preloaded (so counted). The other files are
// loaded on demand, with a dynamic import(), and are only logged.
func TestPageWeight(t *testing.T) {
	page := string(body(t, get(t, Handler(nil), "GET", "/")))
	refs := regexp.MustCompile(`<link rel="(?:stylesheet|modulepreload)" href="\.([^"?]+)\?v=[0-9a-f]+">|<script type="module" src="\.([^"?]+)\?v=[0-9a-f]+">`)
	start := map[string]bool{"/index.html": true}
	for _, m := range refs.FindAllStringSubmatch(page, -1) {
		start[m[1]+m[2]] = true
	}
	if !start["/app.js"] || !start["/app.css"] {
		t.Fatalf("the page does not load app.js and app.css:\n%s", page)
	}
	// Static imports, anywhere in a line: import x from "./y.js", import
	// "./y.js", export { x } from "./y.js" (but not import("./y.js")).
	imports := regexp.MustCompile(`(?:from|import)\s*"(\.\.?/[^"]+)"`)
	for p := range start {
		if !strings.HasSuffix(p, ".js") {
			continue
		}
		a := staticAssets()[p]
		for _, m := range imports.FindAllSubmatch(a.body, -1) {
			if dep := path.Join(path.Dir(p), string(m[1])); !start[dep] {
				t.Errorf("%s imports %s, which the page does not load at start", p, dep)
			}
		}
	}

	files, err := Files(nil)
	if err != nil {
		t.Fatal(err)
	}
	total, gz, lazy := 0, 0, 0
	for _, f := range files {
		if !start["/"+f.Path] {
			lazy += len(f.Body)
			t.Logf("%-18s %6d bytes, on demand", f.Path, len(f.Body))
			continue
		}
		if f.Path == "index.html" {
			f.Body = body(t, get(t, Handler(nil), "GET", "/")) // Handler's page, a few bytes longer
		}
		total += len(f.Body)
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(f.Body)
		_ = zw.Close()
		gz += b.Len()
		t.Logf("%-18s %6d bytes", f.Path, len(f.Body))
	}
	t.Logf("at start %d bytes (%d gzipped), budget %d; %d bytes more on demand", total, gz, maxPageWeight, lazy)
	if total > maxPageWeight {
		t.Errorf("page weight %d bytes, over the %d-byte budget", total, maxPageWeight)
	}
}

// TestIndex checks the page's head: the configured endpoint, the CSP whose
// hash matches the import map, and versioned URLs for every asset.
func TestIndex(t *testing.T) {
	h := Handler(&Options{WebSocketURL: "wss://example.com/prod?x=\"><script>"})
	res := get(t, h, "GET", "/")
	page := string(body(t, res))
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(page, `<meta name="chatfly-ws" content="wss://example.com/prod?x=&#34;&gt;&lt;script&gt;">`) {
		t.Errorf("the WebSocket URL is not in the page, escaped:\n%s", page)
	}
	m := regexp.MustCompile(`<script type="importmap">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no import map:\n%s", page)
	}
	sum := sha256.Sum256([]byte(m[1]))
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(page)
	if csp == nil {
		t.Fatalf("no CSP:\n%s", page)
	}
	policy := html.UnescapeString(csp[1])
	if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(policy, "script-src 'self' "+hash+";") {
		t.Errorf("the CSP does not allow the import map by its hash %s: %s", hash, policy)
	}
	if !strings.Contains(policy, "connect-src 'self' wss://example.com;") {
		t.Errorf("the CSP does not allow the WebSocket origin:\n%s", page)
	}
	for p, a := range staticAssets() {
		if !strings.Contains(page, "."+p+"?v="+a.version) {
			t.Errorf("page does not refer to %s?v=%s", p, a.version)
		}
	}
	if strings.Contains(page, "chatfly:head") {
		t.Error("head marker left in the page")
	}
	// Modules loaded at start are preloaded; those loaded on demand are
	// only in the import map.
	for p, want := range map[string]bool{"/chatfly.js": true, "/views/rooms.js": true, "/views/chat.js": false, "/views/games.js": false, "/views/roulette.js": false, "/lib/ext.js": false} {
		tag := `<link rel="modulepreload" href=".` + p + "?v="
		if got := strings.Contains(page, tag); got != want {
			t.Errorf("%s preloaded: %v, want %v", p, got, want)
		}
	}
	if !strings.Contains(page, `"./views/more.css":"./views/more.css?v=`) {
		t.Error("the lazy stylesheet is not in the import map")
	}
}

// TestRoomLinks checks the shareable room links: web.Handler answers
// /r/{id} with a relative redirect to the app's #/r/{id}, and tells the app
// so; static hosting has no /r/ path, so its page makes #/r/{id} links.
func TestRoomLinks(t *testing.T) {
	h := Handler(nil)
	for _, method := range []string{"GET", "HEAD"} {
		res := get(t, h, method, "/r/q2V7xYb_-9")
		if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "../#/r/q2V7xYb_-9" {
			t.Errorf("%s /r/q2V7xYb_-9: status %d, Location %q", method, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// Under a prefix the relative Location still lands on the app.
	mux := http.NewServeMux()
	mux.Handle("/chat/", http.StripPrefix("/chat", h))
	res := get(t, mux, "GET", "/chat/r/abc")
	base, _ := url.Parse("http://example.com/chat/r/abc")
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound || base.ResolveReference(loc).String() != "http://example.com/chat/#/r/abc" {
		t.Errorf("under /chat/: status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, target := range []string{"/r/", "/r/a/b", "/r/a%20b", "/r/" + strings.Repeat("a", 65), "/r"} {
		if res := get(t, h, "GET", target); res.StatusCode != 404 {
			t.Errorf("GET %s: status %d, want 404", target, res.StatusCode)
		}
	}
	if res := get(t, h, "POST", "/r/abc"); res.StatusCode != 405 {
		t.Errorf("POST /r/abc: status %d", res.StatusCode)
	}

	page := string(body(t, get(t, h, "GET", "/")))
	if !strings.Contains(page, `<meta name="chatfly-links" content="r/">`) {
		t.Errorf("Handler's page does not say that it serves /r/ links")
	}
	files, err := Files(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(files[0].Body, []byte(`<meta name="chatfly-links" content="#/r/">`)) {
		t.Errorf("the static page does not make #/r/ links:\n%s", files[0].Body)
	}
}

func TestHeaders(t *testing.T) {
	h := Handler(nil)
	app := staticAssets()["/app.js"]
	tests := []struct {
		name, target, cache, ctype string
	}{
		{"index", "/", "no-cache", "text/html; charset=utf-8"},
		{"index.html", "/index.html", "no-cache", "text/html; charset=utf-8"},
		{"client module", "/chatfly.js", "no-cache", "text/javascript; charset=utf-8"},
		{"versioned", "/app.js?v=" + app.version, "public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		{"stale version", "/app.js?v=0123456789abcdef", "no-cache", "text/javascript; charset=utf-8"},
		{"css", "/app.css", "no-cache", "text/css; charset=utf-8"},
		{"view", "/views/chat.js", "no-cache", "text/javascript; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, h, "GET", tt.target)
			b := body(t, res)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			for k, want := range map[string]string{
				"Cache-Control":          tt.cache,
				"Content-Type":           tt.ctype,
				"Vary":                   "Accept-Encoding",
				"X-Content-Type-Options": "nosniff",
				"Content-Encoding":       "",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			wantACAO := "*"
			if strings.HasPrefix(tt.name, "index") {
				wantACAO = ""
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != wantACAO {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, wantACAO)
			}
			etag := res.Header.Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(etag) {
				t.Errorf("ETag %q", etag)
			}
			if cl := res.Header.Get("Content-Length"); cl != strconv.Itoa(len(b)) {
				t.Errorf("Content-Length %s for %d bytes", cl, len(b))
			}

			// 304 for the same ETag, with the caching headers and no body.
			res = get(t, h, "GET", tt.target, "If-None-Match", `"nope", `+etag)
			if res.StatusCode != 304 || len(body(t, res)) != 0 {
				t.Errorf("If-None-Match %s: status %d", etag, res.StatusCode)
			}
			if res.Header.Get("ETag") != etag || res.Header.Get("Cache-Control") != tt.cache {
				t.Errorf("304 headers: %v", res.Header)
			}
			if res := get(t, h, "GET", tt.target, "If-None-Match", `"other"`); res.StatusCode != 200 {
				t.Errorf("other ETag: status %d", res.StatusCode)
			}

			// gzip when accepted, precompressed, same content.
			res = get(t, h, "GET", tt.target, "Accept-Encoding", "br, gzip;q=0.8")
			gz := body(t, res)
			if res.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("no gzip: %v", res.Header)
			}
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(plain, b) {
				t.Errorf("gunzipped body differs (err %v)", err)
			}
			gzTag := res.Header.Get("ETag")
			if gzTag == etag || res.Header.Get("Content-Length") != strconv.Itoa(len(gz)) {
				t.Errorf("gzip ETag %s (plain %s), Content-Length %s for %d bytes", gzTag, etag, res.Header.Get("Content-Length"), len(gz))
			}
			if res := get(t, h, "GET", tt.target, "Accept-Encoding", "gzip", "If-None-Match", "W/"+gzTag); res.StatusCode != 304 {
				t.Errorf("If-None-Match W/%s: status %d", gzTag, res.StatusCode)
			}
		})
	}
}

func TestNotServed(t *testing.T) {
	h := Handler(nil)
	for _, target := range []string{"/nope.js", "/static/app.js", "/views/", "/lib"} {
		if res := get(t, h, "GET", target); res.StatusCode != 404 {
			t.Errorf("GET %s: status %d, want 404", target, res.StatusCode)
		}
	}
	res := get(t, h, "POST", "/")
	if res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
	res = get(t, h, "HEAD", "/chatfly.js")
	if res.StatusCode != 200 || len(body(t, res)) != 0 || res.Header.Get("Content-Length") == "0" {
		t.Errorf("HEAD: status %d, Content-Length %s", res.StatusCode, res.Header.Get("Content-Length"))
	}
}

func TestAcceptsGzip(t *testing.T) {
	for v, want := range map[string]bool{
		"":                     false,
		"gzip":                 true,
		"GZIP":                 true,
		"deflate, gzip":        true,
		"gzip;q=0":             false,
		"gzip; q=0.001":        true,
		"br":                   false,
		"*":                    true,
		"*;q=0":                false,
		"gzip;q=0, *":          false,
		"identity, *;q=0.5":    true,
		"x-gzip":               true,
		"gzip;q=bogus, br;q=1": false,
	} {
		if got := acceptsGzip([]string{v}); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestWebSocketURLOption(t *testing.T) {
	for ws, want := range map[string]string{
		"/ws":                         "",
		"/chat/ws":                    "",
		"ws://127.0.0.1:8080/ws":      " ws://127.0.0.1:8080",
		"https://chat.example.com/ws": " wss://chat.example.com",
		"wss://abc.execute-api.eu-west-1.amazonaws.com/prod": " wss://abc.execute-api.eu-west-1.amazonaws.com",
	} {
		got, err := connectSource(ws)
		if err != nil || got != want {
			t.Errorf("connectSource(%q) = %q, %v; want %q", ws, got, err, want)
		}
	}
	for _, ws := range []string{"ws", "javascript:alert(1)", "ftp://x/y", "wss:///path", "//host/ws", "wss://a b/"} {
		if _, err := connectSource(ws); err == nil {
			t.Errorf("connectSource(%q): no error", ws)
		}
		if _, err := Files(&Options{WebSocketURL: ws}); err == nil {
			t.Errorf("Files with WebSocketURL %q: no error", ws)
		}
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	const ws = "wss://abc.execute-api.eu-west-1.amazonaws.com/prod"
	if err := WriteFiles(dir, &Options{WebSocketURL: ws}); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := Files(&Options{WebSocketURL: ws})
	if len(got) != len(files) {
		t.Errorf("wrote %q, want %d files", got, len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(b, f.Body) {
			t.Errorf("%s: %v", f.Path, err)
		}
	}
	index, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if !bytes.Contains(index, []byte(`<meta name="chatfly-ws" content="`+ws+`">`)) {
		t.Errorf("index.html lacks the endpoint:\n%s", index)
	}
}

// TestNoHTMLSinks keeps user text out of the HTML parser: the app never uses
// the APIs that parse strings as HTML.
func TestNoHTMLSinks(t *testing.T) {
	sinks := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser|eval\(|new Function`)
	for _, src := range appSources() {
		err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
				return err
			}
			b, err := fs.ReadFile(src, p)
			if err != nil {
				return err
			}
			for i, line := range strings.Split(string(b), "\n") {
				if sinks.MatchString(line) {
					t.Errorf("%s:%d: %s", p, i+1, strings.TrimSpace(line))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The page is served with security headers: the page's Content-Security-
// Policy plus frame-ancestors (Options.FrameAncestors, default 'self') and
// the X-Frame-Options that matches it, nosniff, no referrer.
func TestSecurityHeaders(t *testing.T) {
	cases := []struct {
		frames    []string
		ancestors string
		xfo       string
	}{
		{nil, "'self'", "SAMEORIGIN"},
		{[]string{"'none'"}, "'none'", "DENY"},
		{[]string{"'self'", "https://app.example.com"}, "'self' https://app.example.com", ""},
	}
	for _, c := range cases {
		h := Handler(&Options{WebSocketURL: "wss://chat.example.com/prod", FrameAncestors: c.frames})
		res := get(t, h, "GET", "/")
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none';", "script-src 'self' 'sha256-", "connect-src 'self' wss://chat.example.com;", "; frame-ancestors " + c.ancestors} {
			if !strings.Contains(csp, want) {
				t.Errorf("FrameAncestors %q: CSP %q lacks %q", c.frames, csp, want)
			}
		}
		if !strings.HasSuffix(csp, "frame-ancestors "+c.ancestors) {
			t.Errorf("FrameAncestors %q: CSP %q", c.frames, csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": c.xfo, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("FrameAncestors %q: %s %q, want %q", c.frames, k, got, want)
			}
		}
		// The same on a 304.
		if res := get(t, h, "GET", "/", "If-None-Match", res.Header.Get("ETag")); res.StatusCode != 304 || res.Header.Get("Content-Security-Policy") != csp {
			t.Errorf("304: status %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
		}
	}
	for _, bad := range [][]string{{"'none'", "'self'"}, {"https://a.example; script-src *"}, {""}, {"'unsafe-inline'"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("FrameAncestors %q: no panic", bad)
				}
			}()
			Handler(&Options{FrameAncestors: bad})
		}()
	}
}
