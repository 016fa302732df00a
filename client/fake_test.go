package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeServer is a scripted chatfly server: each accepted connection runs
// script, which reads the client's frames and writes whatever replies the
// test wants. It listens on 127.0.0.1 only.
type fakeServer struct {
	t      testing.TB
	srv    *httptest.Server
	URL    string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// errAbort unwinds a script after a failed check (t.FailNow may not be
// called from a handler goroutine).
var errAbort = errors.New("script aborted")

func newFakeServer(t testing.TB, script func(s *sconn)) *fakeServer {
	t.Helper()
	return newFakeHTTPServer(t, func(w http.ResponseWriter, r *http.Request, f *fakeServer) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer ws.CloseNow()
		s := &sconn{t: t, ws: ws, ctx: f.ctx, req: r}
		defer func() {
			if v := recover(); v != nil && v != errAbort {
				panic(v)
			}
		}()
		script(s)
	})
}

func newFakeHTTPServer(t testing.TB, h func(http.ResponseWriter, *http.Request, *fakeServer)) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.wg.Add(1)
		defer f.wg.Done()
		h(w, r, f)
	}))
	f.URL = "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws"
	t.Cleanup(func() {
		f.cancel() // unblocks scripts still reading
		f.srv.Close()
		f.wg.Wait()
	})
	return f
}

// sconn is the server side of one connection.
type sconn struct {
	t   testing.TB
	ws  *websocket.Conn
	ctx context.Context
	req *http.Request
}

// in is a frame the client sent.
type in struct {
	raw []byte
	m   map[string]json.RawMessage
}

func (f in) str(key string) string {
	var s string
	json.Unmarshal(f.m[key], &s)
	return s
}

func (f in) has(key string) bool { _, ok := f.m[key]; return ok }

func (f in) id() string { return string(f.m["id"]) }

func (s *sconn) fail(format string, args ...any) {
	s.t.Helper()
	s.t.Errorf("server: "+format, args...)
	panic(errAbort)
}

// readRaw reads one frame. If the client closed, it aborts the script.
func (s *sconn) readRaw() []byte {
	s.t.Helper()
	typ, b, err := s.ws.Read(s.ctx)
	if err != nil {
		s.fail("read: %v", err)
	}
	if typ != websocket.MessageText {
		s.fail("client sent a %v frame", typ)
	}
	return b
}

// read reads one frame and checks its action.
func (s *sconn) read(action string) in {
	s.t.Helper()
	b := s.readRaw()
	f := in{raw: b}
	if err := json.Unmarshal(b, &f.m); err != nil {
		s.fail("client frame %q: %v", b, err)
	}
	if got := f.str("action"); got != action {
		s.fail("client sent action %q, want %q (frame %s)", got, action, b)
	}
	return f
}

// write writes one frame made of lines joined by '\n'.
func (s *sconn) write(lines ...string) {
	s.t.Helper()
	if err := s.ws.Write(s.ctx, websocket.MessageText, []byte(strings.Join(lines, "\n"))); err != nil {
		s.fail("write: %v", err)
	}
}

// reply returns the line {"type":typ,"id":<f's id>,fields...}.
func reply(f in, typ string, fields string) string {
	line := fmt.Sprintf(`{"type":%q,"id":%s`, typ, f.id())
	if fields != "" {
		line += "," + fields
	}
	return line + "}"
}

func errorReply(f in, code, message string) string {
	return reply(f, "error", fmt.Sprintf(`"code":%q,"message":%q`, code, message))
}

// hello answers the hello with a welcome for name.
func (s *sconn) hello() in {
	s.t.Helper()
	h := s.read("hello")
	s.write(reply(h, "welcome", fmt.Sprintf(`"session":"S-%s","name":%q,"token":"T-%s","protocol":1`, h.str("name"), h.str("name"), h.str("name"))))
	return h
}

// waitClose reads until the client closes and returns the close status.
func (s *sconn) waitClose() websocket.StatusCode {
	for {
		_, _, err := s.ws.Read(s.ctx)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

// closeWith closes the connection from the server side.
func (s *sconn) closeWith(code websocket.StatusCode, reason string) {
	s.ws.Close(code, reason)
}

// testCtx returns a context for one test's calls.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
