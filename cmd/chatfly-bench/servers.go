package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/chatfly/chatfly/internal/storageflags"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/transport/wstransport"
)

// roomName is the id of benchmark room i. serve-chatfly creates them.
func roomName(prefix string, i int) string { return prefix + strconv.Itoa(i) }

// server is a WebSocket server under test, started by startServer.
type server struct {
	handler  http.Handler // serves the WebSocket endpoint at /ws
	shutdown func(context.Context) error
}

// serveOptions configure the servers of the tool.
type serveOptions struct {
	redisFlags             // a chatfly node of a cluster (cluster.go); zero: memory storage
	storageLatency latency // added to every storage call of chatfly and lambda (latency.go)
	postLatency    latency // added to every PostToConnection of lambda
	dynamo         string  // chatfly, lambda: a DynamoDB-compatible server to keep the state in (a fresh table); "": memory
}

// baseStorage returns the storage of a chatfly or lambda server: memory,
// or a fresh table on o.dynamo.
func (o serveOptions) baseStorage(ctx context.Context) (chatfly.Storage, error) {
	if o.dynamo == "" {
		return memstore.New(nil), nil
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	f := storageflags.Flags{Table: "chatfly-bench-" + hex.EncodeToString(b), Endpoint: o.dynamo, CreateTable: true, LocalCredentials: true}
	return f.Open(ctx)
}

// args returns the serve-chatfly / serve-lambda flags of o's latencies.
func (o serveOptions) args() []string {
	return []string{"-storage-latency", o.storageLatency.String(), "-post-latency", o.postLatency.String(), "-dynamodb-endpoint", o.dynamo}
}

// newServer builds the server of the given kind ("chatfly", "lambda" or
// "floor"). The chatfly server is examples/standalone's setup (memstore,
// wstransport with default options) with the Hub options of hubOptions;
// the lambda server is examples/lambda's local stack (lambda.go). Both
// keep their state in memory or, with o.dynamo, in a fresh DynamoDB table,
// create rooms rooms named prefix+i, wrap their storage in latencystore
// (o.storageLatency) and serve its counts at storageStatsPath.
func newServer(kind string, rooms int, prefix string, o serveOptions) (*server, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	mux := http.NewServeMux()
	switch kind {
	case "floor":
		mux.Handle("/ws", newFloor())
		return &server{handler: mux, shutdown: func(context.Context) error { return nil }}, nil
	case "lambda":
		base, err := o.baseStorage(context.Background())
		if err != nil {
			return nil, err
		}
		store := storageWithLatency(base, o.storageLatency)
		serveStorageStats(mux, store)
		return newLambdaServer(mux, store.Storage(), rooms, prefix, o.postLatency, log)
	case "chatfly":
		store, err := o.baseStorage(context.Background())
		if err != nil {
			return nil, err
		}
		wsOpts := &wstransport.Options{Logger: log}
		closeRedis := func() {}
		if o.url != "" { // a node of a cluster (cluster.go)
			if store, wsOpts.Relay, closeRedis, err = o.open(context.Background()); err != nil {
				return nil, err
			}
			wsOpts.NodeID = o.nodeID
		}
		ls := storageWithLatency(store, o.storageLatency)
		serveStorageStats(mux, ls)
		ws := wstransport.New(wsOpts)
		hub := chatfly.New(ls.Storage(), ws, hubOptions(log))
		if err := openRooms(hub, rooms, prefix); err != nil {
			closeRedis()
			return nil, err
		}
		shutdown := func(ctx context.Context) error {
			defer closeRedis()
			return ws.Shutdown(ctx)
		}
		mux.Handle("/ws", ws.Handler(hub))
		return &server{handler: mux, shutdown: shutdown}, nil
	}
	return nil, fmt.Errorf("unknown server kind %q (want chatfly, lambda or floor)", kind)
}

// hubOptions are the options of the benchmark's Hubs: the rate limit off,
// since the scenarios send faster than a person, and the per-address limits
// off, since every simulated client comes from loopback; tic-tac-toe for
// the game scenario.
func hubOptions(log *slog.Logger) *chatfly.Options {
	return &chatfly.Options{
		Secret:    []byte("chatfly-bench-secret-32-bytes-ok"),
		Logger:    log,
		RateLimit: chatfly.RateLimit{Count: -1},
		AddressLimits: chatfly.AddressLimits{
			Connections: -1, SessionsPerHour: -1, RoomsPerHour: -1,
			GamesPerMinute: -1, RouletteWaiting: -1, RoomShare: -1,
		},
		Games: []chatfly.Game{tictactoe.Game{}},
	}
}

// openRooms creates the benchmark rooms.
func openRooms(hub *chatfly.Hub, rooms int, prefix string) error {
	for i := range rooms {
		if _, err := hub.OpenRoom(context.Background(), chatfly.RoomConfig{ID: roomName(prefix, i)}); err != nil {
			return err
		}
	}
	return nil
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
	var o serveOptions
	rf := &o.redisFlags
	fs.Var(&o.storageLatency, "storage-latency", "chatfly, lambda: latency added to every storage call, as 3ms or 3ms±1ms")
	fs.Var(&o.postLatency, "post-latency", "lambda: latency added to every PostToConnection, as 5ms or 5ms±1ms")
	fs.StringVar(&o.dynamo, "dynamodb-endpoint", "", "chatfly, lambda: keep the state in a fresh table on this DynamoDB-compatible server (dynalite, DynamoDB Local; loopback) instead of memory")
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
		if o.dynamo != "" {
			if err := checkLoopbackURL(o.dynamo); err != nil {
				return err
			}
		}
	}
	srv, err := newServer(kind, *rooms, *prefix, o)
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
	hs := &http.Server{Handler: srv.handler, ReadHeaderTimeout: 10 * time.Second}
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
func startInProcess(kind string, rooms int, prefix string, o serveOptions) (*target, error) {
	srv, err := newServer(kind, rooms, prefix, o)
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
	return &target{name: kind, url: "ws://" + ln.Addr().String() + "/ws", stop: stop}, nil
}

// endpoints returns the URLs of the target's nodes, url first.
func (t *target) endpoints() []string {
	if len(t.urls) == 0 {
		return []string{t.url}
	}
	return t.urls
}
