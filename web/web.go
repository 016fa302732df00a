package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	chatflyjs "github.com/chatfly/chatfly/clients/js"
)

//go:embed static/index.html static/*.js static/*.css static/lib/*.js static/views/*.js static/views/*.css
var static embed.FS

// DefaultWebSocketURL is the endpoint the page connects to when
// Options.WebSocketURL is empty: /ws on the page's own host.
const DefaultWebSocketURL = "/ws"

// Options configures Handler, Files and WriteFiles. A nil *Options means the
// defaults.
type Options struct {
	// WebSocketURL is the chatfly endpoint the page connects to: a path on
	// the page's host ("/ws", "/chat/ws"), or an absolute ws://, wss://,
	// http:// or https:// URL (for example an API Gateway endpoint,
	// "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"); http(s)
	// becomes ws(s). Default DefaultWebSocketURL.
	WebSocketURL string

	// FrameAncestors are the pages that may show the app in a frame, as
	// sources of the Content-Security-Policy directive frame-ancestors that
	// Handler sends: "'self'", "'none'", or origins such as
	// "https://app.example.com" or "https://*.example.com". Default
	// DefaultFrameAncestors: same-origin pages only, so that another site
	// cannot frame the app under a decoy to make people click its buttons
	// (clickjacking). Handler also sends the matching X-Frame-Options
	// (DENY for 'none', SAMEORIGIN for 'self'; none for a list of origins,
	// which it cannot express and which frame-ancestors overrides in
	// browsers that know it). Files cannot carry it (browsers ignore
	// frame-ancestors in a <meta> policy): configure static hosting to send
	// these headers.
	FrameAncestors []string

	// Title is the page's title, after the current screen's ("Rooms ·
	// Acme chat"). Default "chatfly".
	Title string
	// Brand is the name and logo in the page's header. Default: Title,
	// without a logo.
	Brand Brand
	// Theme sets colours of the light scheme (the default), and DarkTheme
	// those of the dark scheme (visitors whose system prefers dark), by the
	// name of the app's CSS custom property without "--":
	//
	//	Theme: map[string]string{"accent": "#0a7d55", "accent-fg": "#fff"}
	//
	// The names are bg (page background), fg (text), muted (secondary
	// text), card (panels), line (borders), accent (buttons and links),
	// accent-fg (text on accent), mine (your messages), ok, warn, error
	// (status lines) and focus (the focus ring). A value must be a CSS
	// colour: #rgb, #rgba, #rrggbb, #rrggbbaa, a colour keyword (letters
	// only: "teal", "transparent") or a colour function (rgb, rgba, hsl,
	// hsla, hwb, lab, lch, oklab, oklch, color) of numbers, percentages,
	// spaces, commas and slashes; anything else is an error, so no other
	// CSS gets in. They reach the page in a <style> element that its
	// Content-Security-Policy allows by its hash.
	Theme, DarkTheme map[string]string
	// Hide hides screens of the app. Default: all are shown.
	Hide Screens
	// Home is the screen shown after the name step and at "#/": "rooms"
	// (the default), "roulette", "room/<id>" for a room, or a screen that
	// a module registers (see Modules). Required when Hide.Rooms is set.
	Home string
	// IdentifiedUsers tells the app that the server's
	// chatfly.Options.Identify verifies visitors (from their cookies, for
	// example): the app then connects at once without asking for a name
	// (the server names a verified user), and shows the name step only if
	// the server does not identify the visitor. Without it the app asks
	// everyone for a name, which the server ignores for a verified user.
	IdentifiedUsers bool
	// Modules are the URLs of JavaScript modules (ES modules) that the app
	// loads before its first screen to extend it, each a path on the
	// page's host ("/ext/chess.js"), a path relative to the page
	// ("./ext/chess.js", for static hosting under a prefix) or an https://
	// URL (which must answer with CORS: Access-Control-Allow-Origin). The
	// page's Content-Security-Policy allows scripts (and stylesheets) from
	// exactly these modules' origins. A module's default export is called with the app's
	// extension API: registerGame(name, renderer) draws a chatfly.Game the
	// app does not know, registerScreen(name, view, opts) adds a screen
	// (README: Embedding and theming the web app). A module that fails to
	// load is reported in the page's status line; the app still starts.
	// A module runs with the page's rights (it sees the session and its
	// resume token): name only code you control.
	Modules []string
}

// Brand is the name and logo in the header of the app's page.
type Brand struct {
	// Name is the text of the header's home link. Default: Options.Title,
	// or none with a Logo (whose alternative text is then the Title).
	Name string
	// Logo is the URL of an image shown before the Name, 28 px high: a
	// path on the page's host, a path relative to the page, or an https://
	// URL (the page's Content-Security-Policy then allows images from its
	// origin).
	Logo string
}

// Screens are the parts of the app that Options.Hide can hide. Hiding is
// the page's choice only: the server still offers what it offers (a Hub
// without games, say, has no games to show anyway).
type Screens struct {
	// Rooms is the list of public rooms (and its links, "All rooms"); then
	// Options.Home must name the screen to show instead.
	Rooms bool
	// CustomRooms is the "New room" button. Links to custom rooms that
	// exist still open them.
	CustomRooms bool
	// Roulette is the roulette screen and its link.
	Roulette bool
	// Games is the games panel of rooms.
	Games bool
}

// DefaultFrameAncestors is the frame-ancestors source of the app's pages
// when Options.FrameAncestors is empty.
const DefaultFrameAncestors = "'self'"

// File is one file of the app, as Files returns it.
type File struct {
	// Path is the file's path relative to the app's root, without a leading
	// slash: "index.html", "chatfly.js", "views/chat.js".
	Path string
	// ContentType is its media type, for the Content-Type header.
	ContentType string
	// Body is its content. It must not be modified.
	Body []byte
}

// asset is a file ready to serve.
type asset struct {
	ctype   string
	body    []byte
	gz      []byte // gzip of body, nil when that is not smaller
	version string // content hash, the ?v= of its immutable URL
	etag    string // of body
	etagGz  string // of gz
}

func newAsset(name string, body []byte) *asset {
	sum := sha256.Sum256(body)
	v := hex.EncodeToString(sum[:8])
	a := &asset{ctype: contentType(name), body: body, version: v, etag: `"` + v + `"`, etagGz: `"` + v + `-gz"`}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write(body)
	_ = zw.Close()
	if b.Len() < len(body) {
		a.gz = b.Bytes()
	}
	return a
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	}
	return "application/octet-stream"
}

// staticAssets are the embedded files other than index.html, by URL path
// ("/chatfly.js"), built once: static/ and, at the root, the browser client
// (chatfly.js, chatfly-gaps.js), whose one source is the npm package in
// clients/js.
var staticAssets = sync.OnceValue(func() map[string]*asset {
	m := map[string]*asset{}
	for _, src := range appSources() {
		err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || p == "index.html" {
				return err
			}
			b, err := fs.ReadFile(src, p)
			if err != nil {
				return err
			}
			m["/"+p] = newAsset(p, b)
			return nil
		})
		if err != nil {
			panic("chatfly/web: reading embedded files: " + err.Error())
		}
	}
	return m
})

// appSources are the file trees of the app, each rooted where its files are
// served: static/ (the app) and the client package.
func appSources() []fs.FS {
	app, err := fs.Sub(static, "static")
	if err != nil {
		panic("chatfly/web: " + err.Error())
	}
	return []fs.FS{app, chatflyjs.Files}
}

// site is the app for one set of Options: the index page built for them and
// the shared static assets.
type site struct {
	index   *asset
	assets  map[string]*asset
	headers http.Header // the security headers of the index page
}

// staticImport matches a static import (or re-export) of a relative module
// at the start of a line: import x from "./y.js", import "./y.js",
// export { x } from "../y.js". Dynamic import("./y.js") does not match.
var staticImport = regexp.MustCompile(`(?m)^[ \t]*(?:import|export)[ \t]+(?:[\w*{}$,\s]+?[ \t]+from[ \t]*)?"(\.\.?/[^"]+)"`)

// startModules returns the modules the page loads at start: app.js and,
// transitively, what it imports statically. Modules loaded with a dynamic
// import() (views and panels that are not needed for the first screen) are
// not among them: they are in the import map, so they load with their
// versioned URL, but they are not preloaded.
func startModules(assets map[string]*asset) map[string]bool {
	seen := map[string]bool{}
	var visit func(p string)
	visit = func(p string) {
		a := assets[p]
		if seen[p] || a == nil {
			return
		}
		seen[p] = true
		for _, m := range staticImport.FindAllSubmatch(a.body, -1) {
			visit(path.Join(path.Dir(p), string(m[1])))
		}
	}
	visit("/app.js")
	return seen
}

// newSite builds the app for opts. routes: the index page is served by
// Handler, which also answers the /r/{id} room links; static hosting
// (Files) has only the files, so the app makes its links #/r/{id}.
func newSite(opts *Options, routes bool) (*site, error) {
	ws := DefaultWebSocketURL
	if opts != nil && opts.WebSocketURL != "" {
		ws = opts.WebSocketURL
	}
	connect, err := connectSource(ws)
	if err != nil {
		return nil, err
	}
	assets := staticAssets()
	tmpl, err := static.ReadFile("static/index.html")
	if err != nil {
		return nil, err
	}
	const marker, brandMarker, htmlTag = "<!--chatfly:head-->", "<!--chatfly:brand-->", `<html lang="en">`
	for _, m := range []string{marker, brandMarker, htmlTag} {
		if !bytes.Contains(tmpl, []byte(m)) {
			return nil, errors.New("chatfly/web: index.html has no " + m)
		}
	}
	look, err := lookOf(opts)
	if err != nil {
		return nil, err
	}

	paths := make([]string, 0, len(assets))
	for p := range assets {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	vurl := func(p string) string { return "." + p + "?v=" + assets[p].version }
	// Every module and stylesheet but app.css is in the import map: lazy
	// modules find their stylesheets' versioned URLs with import.meta.resolve.
	imports := map[string]string{}
	for _, p := range paths {
		if path.Ext(p) == ".js" || (path.Ext(p) == ".css" && p != "/app.css") {
			imports["."+p] = vurl(p)
		}
	}
	start := startModules(assets)
	importMap, err := json.Marshal(map[string]any{"imports": imports})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(importMap)
	csp := "default-src 'none'; script-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'" + look.scripts + "; " +
		"style-src 'self'" + look.styles + "; img-src 'self' data:" + look.images + "; connect-src 'self'" + connect + "; base-uri 'none'; form-action 'self'"

	frames, err := frameAncestors(opts)
	if err != nil {
		return nil, err
	}
	headers := http.Header{
		"Content-Security-Policy": {csp + "; frame-ancestors " + frames},
		"Referrer-Policy":         {"no-referrer"},
	}
	switch frames {
	case "'none'":
		headers.Set("X-Frame-Options", "DENY")
	case "'self'":
		headers.Set("X-Frame-Options", "SAMEORIGIN")
	}

	var head strings.Builder
	fmt.Fprintf(&head, "<meta http-equiv=\"Content-Security-Policy\" content=\"%s\">\n", html.EscapeString(csp))
	fmt.Fprintf(&head, "<meta name=\"chatfly-ws\" content=\"%s\">\n", html.EscapeString(ws))
	links := "#/r/"
	if routes {
		links = "r/"
	}
	fmt.Fprintf(&head, "<meta name=\"chatfly-links\" content=\"%s\">\n", links)
	if look.config != nil {
		fmt.Fprintf(&head, "<meta name=\"chatfly-app\" content=\"%s\">\n", html.EscapeString(string(look.config)))
	}
	fmt.Fprintf(&head, "<title>%s</title>\n", html.EscapeString(look.title))
	head.WriteString("<link rel=\"icon\" href=\"data:,\">\n")
	fmt.Fprintf(&head, "<link rel=\"stylesheet\" href=\"%s\">\n", vurl("/app.css"))
	if look.style != "" {
		fmt.Fprintf(&head, "<style>%s</style>\n", look.style) // after app.css: its colours win
	}
	// The import map comes before any module load, then preloads for every
	// module loaded at start so that the browser fetches them in parallel,
	// not one import level at a time.
	fmt.Fprintf(&head, "<script type=\"importmap\">%s</script>\n", importMap)
	for _, p := range paths {
		if start[p] && p != "/app.js" {
			fmt.Fprintf(&head, "<link rel=\"modulepreload\" href=\"%s\">\n", vurl(p))
		}
	}
	fmt.Fprintf(&head, "<script type=\"module\" src=\"%s\"></script>", vurl("/app.js"))
	page := bytes.Replace(tmpl, []byte(marker), []byte(head.String()), 1)
	page = bytes.Replace(page, []byte(brandMarker), []byte(look.brand), 1)
	if look.hide != "" {
		page = bytes.Replace(page, []byte(htmlTag), []byte(`<html lang="en" data-hide="`+look.hide+`">`), 1)
	}
	return &site{index: newAsset("index.html", page), assets: assets, headers: headers}, nil
}

// frameAncestors validates opts.FrameAncestors and returns the directive's
// value.
func frameAncestors(opts *Options) (string, error) {
	if opts == nil || len(opts.FrameAncestors) == 0 {
		return DefaultFrameAncestors, nil
	}
	for _, src := range opts.FrameAncestors {
		switch {
		case src == "'self'" || src == "'none'":
			if src == "'none'" && len(opts.FrameAncestors) > 1 {
				return "", errors.New("chatfly/web: FrameAncestors: 'none' cannot be combined with other sources")
			}
		case src == "" || strings.ContainsAny(src, " \t\r\n;,'\""):
			return "", fmt.Errorf("chatfly/web: FrameAncestors: %q is not a CSP source ('self', 'none' or an origin such as https://app.example.com)", src)
		}
	}
	return strings.Join(opts.FrameAncestors, " "), nil
}

// connectSource validates the WebSocket URL and returns what it adds to the
// CSP's connect-src: nothing for a path on the page's host (CSP's 'self'
// covers ws: and wss: to it), else the URL's origin.
func connectSource(ws string) (string, error) {
	u, err := url.Parse(ws)
	if err != nil {
		return "", fmt.Errorf("chatfly/web: WebSocketURL %q: %w", ws, err)
	}
	switch u.Scheme {
	case "":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return "", fmt.Errorf("chatfly/web: WebSocketURL %q: want a path starting with / or an absolute URL", ws)
		}
		return "", nil
	case "ws", "wss", "http", "https":
		if u.Host == "" {
			return "", fmt.Errorf("chatfly/web: WebSocketURL %q has no host", ws)
		}
		scheme := map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
		if scheme == "" {
			scheme = u.Scheme
		}
		if strings.ContainsAny(u.Host, " ;'\"") {
			return "", fmt.Errorf("chatfly/web: WebSocketURL %q: bad host", ws)
		}
		return " " + scheme + "://" + u.Host, nil
	}
	return "", fmt.Errorf("chatfly/web: WebSocketURL %q: scheme must be ws, wss, http or https", ws)
}

// Handler returns the http.Handler that serves the app and chatfly.js (see
// the package documentation for the paths and caching). Mount it at "/", or
// under a prefix with http.StripPrefix. It answers GET and HEAD only.
//
// The page is served with the security headers Content-Security-Policy
// (the page's policy, see the package documentation, plus frame-ancestors:
// Options.FrameAncestors), X-Frame-Options to match, Referrer-Policy:
// no-referrer and X-Content-Type-Options: nosniff.
//
// Handler panics if opts.WebSocketURL is not a path or a ws(s)/http(s) URL,
// if opts.FrameAncestors holds something that is not a CSP source, or if
// an option of the app's look and extensions (Theme, Brand.Logo, Home,
// Modules) is invalid: Files reports the same as an error.
// The handler is safe for concurrent use.
func Handler(opts *Options) http.Handler {
	s, err := newSite(opts, true)
	if err != nil {
		panic(err)
	}
	return s
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a := s.index
	if p := r.URL.Path; p != "/" && p != "" && p != "/index.html" {
		a = s.assets[p]
		if id, ok := strings.CutPrefix(p, "/r/"); ok && roomID.MatchString(id) {
			// A room's shareable link: the app shows the room at #/r/{id}
			// (after asking for a name). Relative, so that it works under
			// a prefix (http.StripPrefix) too.
			hd := w.Header()
			hd.Set("Location", "../#/r/"+id)
			hd.Set("Cache-Control", "no-cache")
			hd.Set("Referrer-Policy", "no-referrer")
			w.WriteHeader(http.StatusFound)
			return
		}
	}
	if a == nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	if a != s.index && r.URL.RawQuery == "v="+a.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	hd.Set("Vary", "Accept-Encoding")
	hd.Set("X-Content-Type-Options", "nosniff")
	if a == s.index {
		maps.Copy(hd, s.headers)
	} else {
		// Public files: pages on other origins may import chatfly.js, and
		// module scripts are fetched with CORS.
		hd.Set("Access-Control-Allow-Origin", "*")
	}
	body, etag, gz := a.body, a.etag, false
	if a.gz != nil && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		body, etag, gz = a.gz, a.etagGz, true
	}
	hd.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, a) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", a.ctype)
	if gz {
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// roomID matches the room ids of the protocol.
var roomID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// acceptsGzip reports whether Accept-Encoding values allow gzip: "gzip" or
// "*" with a non-zero q (an explicit gzip;q=0 wins over *).
func acceptsGzip(values []string) bool {
	star := false
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "gzip" && name != "x-gzip" && name != "*" {
				continue
			}
			ok := true
			for p := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					q, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					ok = err == nil && q > 0
				}
			}
			if name == "*" {
				star = ok
				continue
			}
			return ok
		}
	}
	return star
}

// etagMatch reports whether an If-None-Match value names a's content, in
// either encoding (weak comparison, as RFC 9110 asks for If-None-Match).
func etagMatch(inm string, a *asset) bool {
	if strings.TrimSpace(inm) == "*" {
		return true
	}
	for t := range strings.SplitSeq(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == a.etag || t == a.etagGz {
			return true
		}
	}
	return false
}

// Files returns the files of the app configured by opts, for uploading to
// static hosting: index.html first, then the rest sorted by path. Serve
// index.html with Cache-Control: no-cache; the page refers to the other files
// with a ?v=<content hash> query, so they may be cached for long. Also serve
// index.html with the headers Handler sends (X-Frame-Options: SAMEORIGIN or
// a Content-Security-Policy with frame-ancestors, X-Content-Type-Options:
// nosniff, Referrer-Policy: no-referrer; for example with a CloudFront
// response headers policy): its <meta> policy cannot forbid framing.
func Files(opts *Options) ([]File, error) {
	s, err := newSite(opts, false)
	if err != nil {
		return nil, err
	}
	files := []File{{Path: "index.html", ContentType: s.index.ctype, Body: s.index.body}}
	paths := make([]string, 0, len(s.assets))
	for p := range s.assets {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		a := s.assets[p]
		files = append(files, File{Path: strings.TrimPrefix(p, "/"), ContentType: a.ctype, Body: a.body})
	}
	return files, nil
}

// WriteFiles writes the files of the app configured by opts into dir,
// creating directories as needed, for example to upload them to S3:
//
//	web.WriteFiles("dist", &web.Options{WebSocketURL: "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"})
func WriteFiles(dir string, opts *Options) error {
	files, err := Files(opts)
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Body, 0o644); err != nil {
			return err
		}
	}
	return nil
}
