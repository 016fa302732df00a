// Command chatfly-bench is chatfly's load generator. It connects many
// clients (package chatfly/client) to a server on this machine and
// measures delivery latency, throughput, loss, the server's CPU per
// delivery and its memory per idle connection, in scenarios:
//
//   - s1: many small rooms, 100 rooms × 10 clients, each sending 1 msg/s;
//   - s2: one big room of 500 clients, 20 msgs/s in all from random senders;
//   - s3: throughput ramp: the s1 shape with the per-client rate stepped
//     up (1, 2, 4, 6, 8, 12, 16, ...) until p99 exceeds 50 ms or anything
//     is lost;
//   - s4: idle memory: 5,000 then 10,000 idle connections over 100 rooms,
//     and the server's RSS growth per connection;
//   - roulette: clients join the chat roulette and press next as soon as
//     they are matched: requests and matches per second, time to match;
//   - game: pairs of players play tic-tac-toe games back to back: moves
//     per second and move round trips.
//
// The roulette and game scenarios report "not available" against a server
// that answers unknown_action to those actions (the floor has neither).
//
// Every message carries its sender's index, a per-sender sequence number
// and its scheduled send time, so every other member of the room accounts
// the latency, loss, duplicates and reordering of every delivery. The first
// seconds of each phase are a warm-up whose deliveries are accounted but
// not measured.
//
// Each scenario runs against chatfly (examples/standalone's setup: memstore
// and wstransport, with the rate limit off) and against the floor: a
// bare-minimum broadcast server on coder/websocket built into this tool
// (see floor.go), speaking the same frames. Both run as child processes of
// the tool (it re-executes itself as "serve-chatfly" or "serve-floor"), so
// their CPU and memory are measured apart from the load generator's, and
// every chatfly figure is also given as a ratio to the floor's.
//
// Lambda path (-targets lambda; see lambda.go): chatfly behind the API
// Gateway emulator, with apigw Lambda handlers writing back with
// PostToConnection, as examples/lambda runs locally. -storage-latency adds
// a latency to every storage call of every chatfly target (3ms±1ms is the
// order of an in-region DynamoDB call) and -post-latency to every
// PostToConnection (about 5 ms on AWS); S1 and S2 then also report the
// storage calls, round trips and estimated DynamoDB read and write units
// per message (storage/latencystore counts them; latency.go).
//
// Cluster mode (-targets single,cluster; see cluster.go): chatfly on Redis
// (storage/redisstore, relay/redisrelay), one node against -cluster nodes
// (default 3) in the same run, the clients spread over the nodes; the Redis
// is the one of -redis, or a redis-server the tool starts. Their server CPU
// is the nodes' and that redis-server's together.
//
// Usage:
//
//	chatfly-bench [run] [flags]           run scenarios (see -h)
//	chatfly-bench serve-chatfly [flags]   serve chatfly for benchmarks
//	chatfly-bench serve-lambda [flags]    serve chatfly's serverless path (lambda.go)
//	chatfly-bench serve-floor [flags]     serve the floor (alias: floor)
//
// Only loopback targets are accepted unless -allow-remote is given.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var selfPID = os.Getpid()

func main() {
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runMain(args)
	case "serve-chatfly":
		err = serveMain("chatfly", args)
	case "serve-lambda":
		err = serveMain("lambda", args)
	case "serve-floor", "floor":
		err = serveMain("floor", args)
	default:
		err = fmt.Errorf("unknown command %q (want run, serve-chatfly, serve-lambda, serve-floor or floor)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatfly-bench:", err)
		os.Exit(1)
	}
}

func runMain(args []string) error {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	names := fs.String("scenarios", "s1,s2,s3,s4,roulette,game", "scenarios to run, comma-separated")
	targets := fs.String("targets", "chatfly,floor", "servers to measure: chatfly, floor (started by the tool); lambda (the serverless path: clients, the API Gateway emulator, apigw handlers, PostToConnection; see lambda.go); single and cluster (chatfly on Redis: one node, and -cluster nodes behind no balancer, clients spread over them); with -url, the external server is \"external\"")
	clusterNodes := fs.Int("cluster", 3, "nodes of the cluster target")
	redisURL := fs.String("redis", "", "Redis of the single and cluster targets (loopback only; default: the tool starts redis-server on a free port)")
	url := fs.String("url", "", "WebSocket URL of an external server to measure instead of starting chatfly (loopback only)")
	pid := fs.Int("pid", 0, "process id of the external server, for CPU and RSS readings")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback -url")
	runs := fs.Int("runs", 1, "runs of each scenario per target (the table shows medians)")
	jsonPath := fs.String("json", "", "write the JSON report to this file (- for standard output)")
	svgDir := fs.String("svg", "", "write latency histograms (SVG) into this directory")
	timeout := fs.Duration("timeout", 40*time.Minute, "stop everything after this long")
	inProcess := fs.Bool("in-process", false, "serve chatfly and the floor from this process (CPU and RSS are then not measured)")
	serverPprof := fs.String("chatfly-pprof", "", "have the chatfly (or lambda) child serve pprof on this loopback address")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's CPU profile to this file")
	var so serveOptions
	fs.Var(&so.storageLatency, "storage-latency", "latency added to every storage call of the chatfly, lambda, single and cluster targets (storage/latencystore), as 3ms or 3ms±1ms; default none")
	fs.StringVar(&so.dynamo, "dynamodb-endpoint", "", "keep the state of the chatfly and lambda targets in a fresh table on this DynamoDB-compatible server (dynalite, DynamoDB Local; loopback only) instead of memory")
	fs.Var(&so.postLatency, "post-latency", "latency added to every PostToConnection of the lambda target, as 5ms or 5ms±1ms; default none")
	fs.StringVar(&cfg.prefix, "room-prefix", cfg.prefix, "id prefix of the benchmark rooms")
	fs.IntVar(&cfg.sources, "sources", cfg.sources, "loopback source addresses to dial from (127.0.0.1 ...)")
	fs.DurationVar(&cfg.warmup, "warmup", cfg.warmup, "warm-up of s1 and s2, not measured")
	fs.DurationVar(&cfg.drain, "drain", cfg.drain, "longest wait for late deliveries after a phase")
	fs.DurationVar(&cfg.s1Duration, "s1-duration", cfg.s1Duration, "measured time of s1")
	fs.IntVar(&cfg.s1Rooms, "s1-rooms", cfg.s1Rooms, "rooms of s1 and s3")
	fs.IntVar(&cfg.s1PerRoom, "s1-clients", cfg.s1PerRoom, "clients per room of s1 and s3")
	fs.Float64Var(&cfg.s1Rate, "s1-rate", cfg.s1Rate, "msgs/s per client of s1")
	fs.DurationVar(&cfg.s2Duration, "s2-duration", cfg.s2Duration, "measured time of s2")
	fs.IntVar(&cfg.s2Clients, "s2-clients", cfg.s2Clients, "clients of s2's room")
	fs.Float64Var(&cfg.s2Total, "s2-rate", cfg.s2Total, "msgs/s in all of s2")
	rates := fs.String("s3-rates", joinFloats(cfg.s3Rates), "per-client rates of the s3 ramp")
	fs.DurationVar(&cfg.s3Warmup, "s3-warmup", cfg.s3Warmup, "warm-up of each s3 step")
	fs.DurationVar(&cfg.s3Duration, "s3-step", cfg.s3Duration, "measured time of each s3 step")
	fs.DurationVar(&cfg.s3MaxP99, "s3-max-p99", cfg.s3MaxP99, "p99 latency that ends the s3 ramp")
	counts := fs.String("s4-conns", "5000,10000", "idle connection counts of s4 (multiples of -s4-rooms)")
	fs.IntVar(&cfg.s4Rooms, "s4-rooms", cfg.s4Rooms, "rooms of s4")
	fs.DurationVar(&cfg.s4Settle, "s4-settle", cfg.s4Settle, "wait before reading the RSS in s4")
	fs.IntVar(&cfg.rouletteClients, "roulette-clients", cfg.rouletteClients, "clients of the roulette scenario")
	fs.IntVar(&cfg.gamePairs, "game-pairs", cfg.gamePairs, "pairs of players of the game scenario")
	fs.DurationVar(&cfg.featureDuration, "feature-duration", cfg.featureDuration, "measured time of the roulette and game scenarios")
	_ = fs.Parse(args)

	var err error
	if cfg.s3Rates, err = parseFloats(*rates); err != nil {
		return fmt.Errorf("-s3-rates: %w", err)
	}
	fl, err := parseFloats(*counts)
	if err != nil {
		return fmt.Errorf("-s4-conns: %w", err)
	}
	cfg.s4Counts = nil
	for _, v := range fl {
		cfg.s4Counts = append(cfg.s4Counts, int(v))
	}
	if *url != "" && !*allowRemote {
		if err := checkLoopbackURL(*url); err != nil {
			return err
		}
	}
	if so.dynamo != "" && !*allowRemote {
		if err := checkLoopbackURL(so.dynamo); err != nil {
			return err
		}
	}
	if *redisURL != "" && !*allowRemote {
		if err := checkLoopbackRedis(*redisURL); err != nil {
			return err
		}
	}
	var tnames []string
	for _, t := range strings.Split(*targets, ",") {
		t = strings.TrimSpace(t)
		if *url != "" && t == "chatfly" {
			t = "external"
		}
		if t != "" {
			tnames = append(tnames, t)
		}
	}
	var selected []*scenario
	for _, n := range strings.Split(*names, ",") {
		found := false
		for _, sc := range scenarios() {
			if sc.name == strings.TrimSpace(n) {
				selected, found = append(selected, sc), true
			}
		}
		if !found {
			return fmt.Errorf("unknown scenario %q", n)
		}
	}
	raiseNoFile(1 << 16)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	var stopAtEnd []func()
	defer func() {
		for _, s := range stopAtEnd {
			s()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	rooms := max(cfg.s1Rooms, cfg.s4Rooms, 1)
	redisPID := 0
	onRedis := func(name string, nodes int) (*target, error) {
		if *redisURL == "" {
			u, pid, stopRedis, err := startRedis()
			if err != nil {
				return nil, err
			}
			*redisURL, redisPID = u, pid
			stopAtEnd = append(stopAtEnd, stopRedis)
		}
		return startClusterTarget(name, nodes, rooms, cfg.prefix, *redisURL, redisPID, so.args()...)
	}
	start := func(name string) (*target, error) {
		switch {
		case name == "single":
			return onRedis(name, 1)
		case name == "cluster":
			return onRedis(name, *clusterNodes)
		case name == "external":
			return &target{name: name, url: *url, pids: pidsOf(*pid), stop: func() {}}, nil
		case *inProcess:
			return startInProcess(name, rooms, cfg.prefix, so)
		case name == "floor":
			return startChild(name, rooms, cfg.prefix)
		case *serverPprof != "":
			return startChild(name, rooms, cfg.prefix, append(so.args(), "-pprof", *serverPprof)...)
		default:
			return startChild(name, rooms, cfg.prefix, so.args()...)
		}
	}
	rep := &report{
		Started: time.Now().Format(time.RFC3339), Machine: thisMachine(), LoadAvgStart: loadAverage(),
		Targets: tnames, Runs: *runs, Settings: settings(fs),
	}
	progress := os.Stderr
	for _, sc := range selected {
		sr := &scenarioReport{Name: sc.name, Title: sc.title, Samples: map[string][]sample{}, sc: sc}
		n := *runs
		for run := range n {
			order := tnames
			if run%2 == 1 { // alternate who goes first
				order = reversed(tnames)
			}
			for _, tn := range order {
				if ctx.Err() != nil {
					break
				}
				fmt.Fprintf(progress, "%s %s run %d/%d on %s (load %s)\n", time.Now().Format("15:04:05"), sc.name, run+1, n, tn, loadAverage())
				t, err := start(tn)
				var s sample
				if err != nil {
					s = failed(err)
				} else {
					s = sc.run(ctx, &cfg, t)
					t.stop()
				}
				sr.Samples[tn] = append(sr.Samples[tn], s)
			}
		}
		sr.summarize(tnames)
		rep.Scenarios = append(rep.Scenarios, sr)
	}
	rep.LoadAvgEnd = loadAverage()
	rep.printTable(os.Stdout)
	if *svgDir != "" {
		files, err := rep.writeSVGs(*svgDir)
		if err != nil {
			return err
		}
		for _, f := range files {
			fmt.Fprintln(os.Stdout, "wrote", f)
		}
	}
	if *jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		b = append(b, '\n')
		if *jsonPath == "-" {
			_, err = os.Stdout.Write(b)
		} else {
			err = os.WriteFile(*jsonPath, b, 0o644)
		}
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

func settings(fs *flag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { m[f.Name] = f.Value.String() })
	return m
}

func reversed(s []string) []string {
	r := make([]string, len(s))
	for i, v := range s {
		r[len(s)-1-i] = v
	}
	return r
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strings.Join(s, ",")
}
