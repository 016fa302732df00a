package js_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/transport/wstransport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node returns the path of node, skipping the test when it is not installed
// (failing with CHATFLY_REQUIRE_NODE set, as in CI).
func node(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CHATFLY_REQUIRE_NODE") != "" {
			t.Fatal("CHATFLY_REQUIRE_NODE is set but node is not installed")
		}
		t.Skip("node not installed")
	}
	return p
}

// nodeFlags are the flags node needs for the client's tests: Node 20 has
// a global WebSocket only behind --experimental-websocket (22 has it on).
func nodeFlags(t *testing.T, bin string) []string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	major, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(strings.TrimSpace(string(out)), ".", 2)[0], "v"))
	if major < 20 {
		t.Fatalf("node %s: the client's tests need node 20 or later", out)
	}
	if major < 22 {
		return []string{"--experimental-websocket"}
	}
	return nil
}

// TestNode runs the client's node tests (test/*.test.js): the unit tests
// against a fake WebSocket, and server.test.js against the real server
// below, whose URL it gets in CHATFLY_TEST_URL.
func TestNode(t *testing.T) {
	bin := node(t)
	files, err := filepath.Glob("test/*.test.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no node tests: %v", err)
	}
	srv := startServer(t)
	args := append(nodeFlags(t, bin), "--test")
	cmd := exec.Command(bin, append(args, files...)...)
	cmd.Env = append(os.Environ(), "CHATFLY_TEST_URL="+srv.URL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A test that leaves a client open keeps node running: bound it.
	timer := time.AfterFunc(40*time.Second, func() { _ = cmd.Process.Kill() })
	err = cmd.Wait()
	timer.Stop()
	t.Logf("node --test:\n%s", out.String())
	if err != nil {
		t.Fatalf("node --test: %v", err)
	}
	if !strings.Contains(out.String(), "# fail 0") || strings.Contains(out.String(), "# pass 0\n") {
		t.Fatal("node --test did not report passing tests")
	}
}

// testServer is a chatfly server (memory storage, the WebSocket transport)
// on loopback, with control endpoints the node tests drive:
//
//	POST /ctl/down          every connection is closed with 1001, as in a
//	                        restart, and new ones are refused until /ctl/up
//	POST /ctl/up            a new Hub and Transport over the same storage
//	POST /ctl/post?room=&n= the application posts n messages in room
//	POST /ctl/wipe?room=    the room's messages and sequence are deleted, as
//	                        a storage that lost them would have it
type testServer struct {
	*httptest.Server
	store *memstore.Store
	mu    sync.Mutex
	hub   *chatfly.Hub
	ws    *wstransport.Transport // nil while down
}

func startServer(t *testing.T) *testServer {
	s := &testServer{store: memstore.New(nil)}
	s.up()
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ws, hub := s.ws, s.hub
		s.mu.Unlock()
		if ws == nil {
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		ws.Handler(hub).ServeHTTP(w, r)
	})
	mux.HandleFunc("POST /ctl/down", func(w http.ResponseWriter, r *http.Request) { s.down() })
	mux.HandleFunc("POST /ctl/up", func(w http.ResponseWriter, r *http.Request) { s.up() })
	mux.HandleFunc("POST /ctl/post", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.FormValue("n"))
		s.mu.Lock()
		hub := s.hub
		s.mu.Unlock()
		room, err := hub.Room(r.Context(), r.FormValue("room"))
		for i := 0; err == nil && i < n; i++ {
			_, err = room.Post(r.Context(), chatfly.Member{}, "posted "+strconv.Itoa(i+1))
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /ctl/wipe", func(w http.ResponseWriter, r *http.Request) {
		part := "room#" + r.FormValue("room") // keys.go
		items, err := s.store.Query(r.Context(), chatfly.Query{Partition: part})
		for _, it := range items {
			if it.Key.Sort == "seq" || strings.HasPrefix(it.Key.Sort, "msg#") {
				err = s.store.Delete(r.Context(), it.Key, chatfly.Always)
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.down()
		s.Close()
	})
	return s
}

// secret signs the resume tokens of every Hub of the server, so that they
// hold across a restart.
var secret = []byte("chatfly js client tests, 32 bytes or more")

func (s *testServer) up() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ws == nil {
		s.ws = wstransport.New(nil)
		s.hub = chatfly.New(s.store, s.ws, &chatfly.Options{Rooms: chatfly.DefaultRooms(), MaxTextRunes: 50, Secret: secret})
	}
}

func (s *testServer) down() {
	s.mu.Lock()
	ws := s.ws
	s.ws = nil
	s.mu.Unlock()
	if ws != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = ws.Shutdown(ctx)
	}
}
