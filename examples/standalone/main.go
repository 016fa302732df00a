// Command standalone runs a chatfly server: the chat engine on memory
// storage (or on a DynamoDB table, with -table: see storage.go), its
// WebSocket endpoint at /ws and the chat app (package web) at /,
// with the browser client module at /chatfly.js. Besides the built-in
// games it has one of its own, Nim: a chatfly.Game in nim.go, and its
// renderer for the app in ext/nim.js, served at /ext/ and loaded by the app
// through web.Options.Modules.
//
//	go run ./examples/standalone -addr :8080
//
// With -table, every server on the table needs the same secret, in
// $CHATFLY_SECRET or -secret (at least 32 bytes: openssl rand -base64 32).
//
// Behind a reverse proxy, tell it which proxies to believe about the
// client's address (the key of the per-address limits and address bans):
//
//	go run ./examples/standalone -trusted-proxies 10.0.0.0/8 -client-ip-header X-Forwarded-For
//
// With -metrics, Prometheus metrics (package observe/promexporter) are
// served at /metrics.
//
// Several servers behind a load balancer make a cluster: they share the
// storage and a relay over Redis (-redis; with -table too, Redis is the
// relay only), each with its own -node-id (cluster.go, README: Running a
// cluster):
//
//	go run ./examples/standalone -addr :8081 -redis redis://127.0.0.1:6379 -node-id n1
//
// Open http://localhost:8080 in two browser windows, pick names and talk.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/builtin"
	"github.com/chatfly/chatfly/internal/listenurl"
	"github.com/chatfly/chatfly/internal/storageflags"
	"github.com/chatfly/chatfly/observe/promexporter"
	"github.com/chatfly/chatfly/transport/wstransport"
	"github.com/chatfly/chatfly/web"
)

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	origins := flag.String("origins", "", "extra allowed WebSocket origin pattern (e.g. example.com), besides same-origin")
	storage := storageflags.Add(flag.CommandLine, "") // -table, -dynamodb-endpoint, -create-table, -secret
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (see pprof.go)")
	var proxies proxyFlags
	flag.Var(&proxies.trusted, "trusted-proxies", "comma-separated networks (CIDR) of the reverse proxies in front of the server, e.g. 10.0.0.0/8,::1/128; only they may name the client in -client-ip-header")
	flag.StringVar(&proxies.header, "client-ip-header", "", `header in which the trusted proxies name the client, e.g. "X-Forwarded-For" or "X-Real-IP" (ignored without -trusted-proxies)`)
	limits := limitFlags(flag.CommandLine) // -max-conns, -max-conns-per-addr (server.go)
	nodeID := flag.String("node-id", "", "this server's name in a cluster (letters, digits, - and _, at most 32; default: random at each start); give each server its own, stable across restarts")
	metrics := flag.Bool("metrics", false, "serve Prometheus metrics at /metrics (on the public address: hide it at the reverse proxy; see metrics.go)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *pprofAddr != "" {
		go servePprof(*pprofAddr, log)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	secret, err := storage.HubSecret(log) // -secret or $CHATFLY_SECRET
	if err != nil {
		log.Error("secret", "err", err)
		os.Exit(2)
	}
	if err := checkNodeID(*nodeID); err != nil {
		log.Error("flags", "err", err)
		os.Exit(2)
	}
	store, err := storage.Open(ctx)
	if err != nil {
		log.Error("storage", "err", err)
		os.Exit(1)
	}
	relay, closeRelay, err := openRelay(ctx, storage, log) // -redis
	if err != nil {
		log.Error("relay", "err", err)
		os.Exit(1)
	}
	defer closeRelay()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	behindProxies(flag.CommandLine, limits, len(proxies.trusted))
	ln = wstransport.LimitListener(ln, limits)
	if err := run(ctx, ln, &config{origins: *origins, proxies: proxies, log: log, store: store, hub: &chatfly.Options{Secret: secret}, metrics: *metrics, nodeID: *nodeID, relay: relay}); err != nil {
		log.Error("server", "err", err)
		os.Exit(1)
	}
}

type config struct {
	origins string
	proxies proxyFlags
	log     *slog.Logger
	hub     *chatfly.Options // nil: defaults
	store   chatfly.Storage  // nil: memory storage
	metrics bool             // serve Prometheus metrics at /metrics (metrics.go)
	nodeID  string           // -node-id; empty: random
	relay   chatfly.Relay    // nil: a single server (cluster.go)
	web     *web.Options     // nil: the app with the example's modules (appOptions)
}

// appOptions are the web app's options by default: it loads the example's
// module, which draws its custom game, Nim (nim.go).
func appOptions() *web.Options {
	return &web.Options{Modules: []string{"/ext/nim.js"}}
}

// run serves until ctx is done, then shuts down gracefully: WebSocket
// clients are closed with 1001 so they reconnect to the next process.
func run(ctx context.Context, ln net.Listener, cfg *config) error {
	wsOpts := &wstransport.Options{Logger: cfg.log, TrustedProxies: cfg.proxies.trusted, ClientIPHeader: cfg.proxies.header, NodeID: cfg.nodeID, Relay: cfg.relay}
	if cfg.origins != "" {
		wsOpts.OriginPatterns = []string{cfg.origins}
	}
	ws := wstransport.New(wsOpts)
	hubOpts := cfg.hub
	if hubOpts == nil {
		hubOpts = &chatfly.Options{}
	}
	hubOpts.Logger = cfg.log
	if hubOpts.Rooms == nil {
		hubOpts.Rooms = chatfly.DefaultRooms() // lobby, random, games
	}
	if hubOpts.Games == nil {
		// tic-tac-toe, Connect Four, rock-paper-scissors, word guess, and
		// the example's own game (nim.go)
		hubOpts.Games = append(builtin.All(), nimGame{})
	}
	appOpts := cfg.web
	if appOpts == nil {
		appOpts = appOptions()
	}
	mux := http.NewServeMux()
	var exp *promexporter.Exporter
	if cfg.metrics {
		var err error
		if exp, err = serveMetrics(mux, hubOpts); err != nil {
			return err
		}
	}
	hub := chatfly.New(cfg.storage(), ws, hubOpts)
	defer startSweep(ctx, hub, cfg.log)()
	if exp != nil {
		exp.Watch(hub)
	}

	mux.Handle("/ws", ws.Handler(hub))
	mux.Handle("/ext/", extHandler())     // the app's modules (nim.go)
	mux.Handle("/", web.Handler(appOpts)) // the app connects to /ws on the same host
	srv := newHTTPServer(mux)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	cfg.log.Info("chatfly listening", "url", listenurl.Of("http", ln.Addr()))

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	cfg.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ws.Shutdown(sctx); err != nil {
		cfg.log.Warn("closing websockets", "err", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// proxyFlags are the -trusted-proxies and -client-ip-header flags: behind a
// reverse proxy, the client's address (on which per-address limits and
// address bans key) comes from the proxy's header.
type proxyFlags struct {
	trusted prefixList
	header  string
}

// prefixList is a flag.Value of comma-separated CIDR networks.
type prefixList []netip.Prefix

func (l *prefixList) String() string {
	var s []string
	for _, p := range *l {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}

func (l *prefixList) Set(v string) error {
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return fmt.Errorf("%q is not a network in CIDR notation (10.0.0.0/8, 2001:db8::/32): %w", f, err)
		}
		*l = append(*l, p.Masked())
	}
	return nil
}
