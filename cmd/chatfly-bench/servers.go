package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/tictactoe"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/transport/wstransport"
)

// roomName is the id of benchmark room i. serve-chatfly creates them.
func roomName(prefix string, i int) string { return prefix + strconv.Itoa(i) }

// server is a WebSocket server under test, started by startServer.
type server struct {
	handler  http.Handler
	shutdown func(context.Context) error
}

// newServer builds the server of the given kind ("chatfly" or "floor").
// The chatfly server is examples/standalone's setup (memstore,
// wstransport with default options) with the rate limit off, since the
// scenarios send faster than a person, and the per-address limits off,
// since every simulated client comes from loopback; tic-tac-toe for the game
// scenario, and rooms rooms named prefix+i.
func newServer(kind string, rooms int, prefix string, rf redisFlags) (*server, error) {
	switch kind {
	case "floor":
		return &server{handler: newFloor(), shutdown: func(context.Context) error { return nil }}, nil
	case "chatfly":
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		var store chatfly.Storage = memstore.New(nil)
		wsOpts := &wstransport.Options{Logger: log}
		closeRedis := func() {}
		if rf.url != "" { // a node of a cluster (cluster.go)
			var err error
			if store, wsOpts.Relay, closeRedis, err = rf.open(context.Background()); err != nil {
				return nil, err
			}
			wsOpts.NodeID = rf.nodeID
		}
		ws := wstransport.New(wsOpts)
		hub := chatfly.New(store, ws, &chatfly.Options{
			Secret:    []byte("chatfly-bench-secret-32-bytes-ok"),
			Logger:    log,
			RateLimit: chatfly.RateLimit{Count: -1},
			AddressLimits: chatfly.AddressLimits{
				Connections: -1, SessionsPerHour: -1, RoomsPerHour: -1,
				GamesPerMinute: -1, RouletteWaiting: -1, RoomShare: -1,
			},
			Games: []chatfly.Game{tictactoe.Game{}},
		})
		ctx := context.Background()
		for i := range rooms {
			if _, err := hub.OpenRoom(ctx, chatfly.RoomConfig{ID: roomName(prefix, i)}); err != nil {
				return nil, err
			}
		}
		shutdown := func(ctx context.Context) error {
			defer closeRedis()
			return ws.Shutdown(ctx)
		}
		return &server{handler: ws.Handler(hub), shutdown: shutdown}, nil
	}
	return nil, fmt.Errorf("unknown server kind %q (want chatfly or floor)", kind)
}

// serveMain is the serve-chatfly / serve-floor / floor subcommand: it serves
// until SIGINT or SIGTERM, or until its standard input ends (so that a
// child started by the load tool never outlives it).
func serveMain(kind string, args []string) error {
	fs := flag.NewFlagSet("serve-"+kind, flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on (loopback)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this loopback address")
	rooms := fs.Int("rooms", 1000, "benchmark rooms to create (chatfly)")
	prefix := fs.String("room-prefix", "bench-", "id prefix of the benchmark rooms")
	watchStdin := fs.Bool("stdin", false, "exit when standard input ends")
	var rf redisFlags
	fs.StringVar(&rf.url, "redis", "", "chatfly: keep the state in this Redis and relay to the other nodes over it (a cluster node)")
	fs.StringVar(&rf.prefix, "redis-prefix", "bench:", "chatfly with -redis: prefix of every key and channel")
	fs.StringVar(&rf.nodeID, "node-id", "", "chatfly with -redis: this node's id (default: random)")
	allowRemote := fs.Bool("allow-remote", false, "allow listening on a non-loopback address")
	_ = fs.Parse(args)
	raiseNoFile(1 << 16)

	if !*allowRemote {
		if err := checkLoopbackAddr(*addr); err != nil {
			return err
		}
	}
	srv, err := newServer(kind, *rooms, *prefix, rf)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		if err := checkLoopbackAddr(*pprofAddr); err != nil {
			return err
		}
		pl, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return err
		}
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() { _ = http.Serve(pl, pm) }()
		fmt.Fprintf(os.Stderr, "pprof on http://%s/debug/pprof/\n", pl.Addr())
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", srv.handler)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Printf("listening ws://%s/ws\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.shutdown(sctx)
	_ = hs.Shutdown(sctx)
	return nil
}

// target is a server the scenarios run against.
type target struct {
	name string
	url  string
	urls []string // all its nodes' URLs, url first (a cluster); nil: url only
	pids procs    // for /proc readings; none: not measured
	stop func()
}

// startChild starts this program as "serve-<kind>" in a child process, so
// that the server's CPU and memory are its own, and returns it once it
// listens.
func startChild(kind string, rooms int, prefix string, extra ...string) (*target, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve-" + kind, "-addr", "127.0.0.1:0", "-stdin",
		"-rooms", strconv.Itoa(rooms), "-room-prefix", prefix}, extra...)
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	stop := func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "listening ")
		if !ok {
			stop()
			return nil, fmt.Errorf("serve-%s said %q", kind, line)
		}
		return &target{name: kind, url: url, pids: procs{cmd.Process.Pid}, stop: stop}, nil
	case <-exited:
		return nil, fmt.Errorf("serve-%s exited before listening", kind)
	case <-time.After(30 * time.Second):
		stop()
		return nil, errors.New("serve-" + kind + " did not start within 30 s")
	}
}

// startInProcess serves a server of the given kind from this process on
// 127.0.0.1 (tests). Its CPU and memory are not measured (no pids).
func startInProcess(kind string, rooms int, prefix string, rf redisFlags) (*target, error) {
	srv, err := newServer(kind, rooms, prefix, rf)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: srv.handler, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		_ = hs.Serve(ln)
		close(done)
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.shutdown(ctx)
		_ = hs.Shutdown(ctx)
		<-done
	}
	return &target{name: kind, url: "ws://" + ln.Addr().String() + "/", stop: stop}, nil
}

// endpoints returns the URLs of the target's nodes, url first.
func (t *target) endpoints() []string {
	if len(t.urls) == 0 {
		return []string{t.url}
	}
	return t.urls
}
