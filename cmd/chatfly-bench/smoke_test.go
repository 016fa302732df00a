package main

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chatfly/chatfly/storage/dynamostore/dynamotest"
)

// TestSmoke runs a tiny S1 and S2 against an in-process chatfly server and
// the floor on 127.0.0.1, and checks that every message reached every other
// member, once, with sane latencies.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cfg := tinyConfig()
	ctx := context.Background()
	for _, kind := range []string{"chatfly", "floor"} {
		t.Run(kind, func(t *testing.T) {
			tg, err := startInProcess(kind, cfg.s1Rooms, cfg.prefix, serveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.stop()
			for name, run := range map[string]func(context.Context, *config, *target) sample{"s1": runS1, "s2": runS2} {
				s := run(ctx, &cfg, tg)
				r := checkPhase(t, kind+" "+name, s)
				if !(0 < r.P50ms && r.P50ms <= r.P90ms && r.P90ms <= r.P99ms && r.P99ms <= r.MaxMs) || math.IsNaN(r.MeanMs) {
					t.Errorf("%s: latencies not ordered: %+v", name, r)
				}
				if r.CPUPerDelivUs != -1 {
					t.Errorf("%s: CPU measured without a server pid", name)
				}
				if _, counted := s.Metrics["storage_calls_per_msg"]; counted != (kind == "chatfly") {
					t.Errorf("%s: storage calls counted: %v (the floor has no storage)", name, counted)
				}
			}
		})
	}
}

// TestFeatures runs a tiny roulette and game scenario against chatfly, and
// checks that the floor reports them not available.
func TestFeatures(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cfg := defaultConfig()
	cfg.sources = 2
	cfg.rouletteClients, cfg.gamePairs = 6, 2
	cfg.warmup, cfg.featureDuration = 200*time.Millisecond, time.Second
	ctx := context.Background()
	for _, kind := range []string{"chatfly", "floor"} {
		tg, err := startInProcess(kind, 4, cfg.prefix, serveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range []struct {
			name string
			run  func(context.Context, *config, *target) sample
			rate string
		}{{"roulette", runRoulette, "matches_per_sec"}, {"game", runGame, "moves_per_sec"}} {
			s := sc.run(ctx, &cfg, tg)
			t.Logf("%s %s: %v %s", kind, sc.name, s.Metrics, s.Note)
			if s.Error != "" {
				t.Errorf("%s %s: %s", kind, sc.name, s.Error)
				continue
			}
			if kind == "floor" {
				if !strings.HasPrefix(s.Note, "not available") {
					t.Errorf("floor %s: %q, want not available", sc.name, s.Note)
				}
				continue
			}
			if s.Metrics[sc.rate] <= 0 || s.Metrics["errors"] != 0 || s.Metrics["p50_ms"] <= 0 {
				t.Errorf("chatfly %s: %v", sc.name, s.Metrics)
			}
		}
		tg.stop()
	}
}

// TestReport checks the summary, the table and the SVG on made-up samples.
func TestReport(t *testing.T) {
	var h histogram
	for i := 1; i <= 100; i++ {
		h.record(time.Duration(i) * 10 * time.Microsecond)
	}
	sc := scenarios()[0]
	sr := &scenarioReport{Name: sc.name, Title: sc.title, sc: sc, Samples: map[string][]sample{
		"chatfly": {{Metrics: map[string]float64{"p99_ms": 2}, hist: &h}, {Metrics: map[string]float64{"p99_ms": 4}}, {Metrics: map[string]float64{"p99_ms": 3}}},
		"floor":   {{Metrics: map[string]float64{"p99_ms": 1}, hist: &h}, {Metrics: map[string]float64{"p99_ms": 2}}, {Metrics: map[string]float64{"p99_ms": 2}}},
	}}
	targets := []string{"chatfly", "floor"}
	sr.summarize(targets)
	if sr.Median["chatfly"]["p99_ms"] != 3 || sr.Ratio["p99_ms"] != 1.5 {
		t.Fatalf("median %v, ratio %v", sr.Median, sr.Ratio)
	}
	rep := &report{Targets: targets, Runs: 3, Scenarios: []*scenarioReport{sr}}
	var b strings.Builder
	rep.printTable(&b)
	if !strings.Contains(b.String(), "p99 latency (ms)") || !strings.Contains(b.String(), "1.50") {
		t.Errorf("table:\n%s", b.String())
	}
	svg := histogramSVG("S1", targets, map[string]*histogram{"chatfly": &h, "floor": &h})
	if !strings.HasPrefix(svg, "<svg") || strings.Count(svg, "<polyline") != 2 {
		t.Errorf("svg:\n%s", svg)
	}
}

// tinyConfig is a few seconds of S1 and S2 with a dozen clients.
func tinyConfig() config {
	cfg := defaultConfig()
	cfg.sources = 2
	cfg.s1Rooms, cfg.s1PerRoom, cfg.s1Rate = 3, 4, 4
	cfg.warmup, cfg.s1Duration, cfg.drain = 300*time.Millisecond, time.Second, 10*time.Second
	cfg.s2Clients, cfg.s2Total, cfg.s2Duration = 8, 20, time.Second
	return cfg
}

// checkPhase checks that the run measured something and that every
// message reached every other member of its room once, in order, and
// returns its result.
func checkPhase(t *testing.T, name string, s sample) *phaseResult {
	t.Helper()
	if s.Error != "" {
		t.Fatalf("%s: %s", name, s.Error)
	}
	r := s.Detail.(*phaseResult)
	t.Logf("%s: %d msgs, %d deliveries, p50 %.2f ms, p99 %.2f ms, max %.2f ms", name, r.Messages, r.Deliveries, r.P50ms, r.P99ms, r.MaxMs)
	if r.Messages == 0 || r.Deliveries == 0 || r.Expected == 0 {
		t.Errorf("%s: nothing measured: %+v", name, r)
	}
	if r.Lost != 0 || r.Duplicated != 0 || r.Reordered != 0 || r.Disconnects != 0 || r.SendFailed != 0 || !r.Drained {
		t.Errorf("%s: lost %d, duplicated %d, reordered %d, disconnects %d, failed %d, drained %v",
			name, r.Lost, r.Duplicated, r.Reordered, r.Disconnects, r.SendFailed, r.Drained)
	}
	return r
}

// TestLambdaSmoke runs a tiny S1 on the serverless path and on the
// standalone server, with and without injected latency, and checks that
// every message reached every other member, and that the storage calls were
// counted and delayed as asked.
func TestLambdaSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cfg := tinyConfig()
	ctx := context.Background()
	injected := serveOptions{storageLatency: latency{time.Millisecond, 500 * time.Microsecond}, postLatency: latency{2 * time.Millisecond, time.Millisecond}}
	for _, kind := range []string{"lambda", "chatfly"} {
		for _, o := range []serveOptions{{}, injected} {
			name := kind + " storage " + o.storageLatency.String()
			tg, err := startInProcess(kind, cfg.s1Rooms, cfg.prefix, o)
			if err != nil {
				t.Fatal(err)
			}
			s := runS1(ctx, &cfg, tg)
			tg.stop()
			checkPhase(t, name, s)
			m := s.Metrics
			t.Logf("%s: %.2f storage calls, %.2f round trips, %.2f RCU, %.2f WCU, %.2f ms injected per message",
				name, m["storage_calls_per_msg"], m["storage_rounds_per_msg"], m["rcu_per_msg"], m["wcu_per_msg"], m["storage_latency_ms_per_msg"])
			// Every message is sequenced (an Add) and stored (a Put).
			if m["storage_calls_per_msg"] < 2 || m["storage_rounds_per_msg"] < 2 || m["wcu_per_msg"] < 2 || m["rcu_per_msg"] < 1 ||
				m["storage_Put_per_msg"] < 1 || m["storage_Add_per_msg"] < 1 {
				t.Errorf("%s: storage counts %v", name, m)
			}
			if injected := m["storage_latency_ms_per_msg"] > 0; injected != (o.storageLatency.d > 0) {
				t.Errorf("%s: storage latency injected: %v", name, injected)
			}
		}
	}
}

// TestLambdaOnDynamo runs a tiny S1 on the serverless path over a
// DynamoDB-compatible server (minidyn, in process) with injected latency,
// as -dynamodb-endpoint does with dynalite.
func TestLambdaOnDynamo(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cfg := tinyConfig()
	tg, err := startInProcess("lambda", cfg.s1Rooms, cfg.prefix, serveOptions{dynamo: dynamotest.MinidynEndpoint(t), storageLatency: latency{d: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	s := runS1(context.Background(), &cfg, tg)
	tg.stop()
	checkPhase(t, "lambda on minidyn", s)
	if s.Metrics["storage_calls_per_msg"] < 2 || s.Metrics["storage_latency_ms_per_msg"] <= 0 {
		t.Errorf("storage counts %v", s.Metrics)
	}
}

func TestLatencyFlag(t *testing.T) {
	for in, want := range map[string]latency{
		"3ms": {3 * time.Millisecond, 0}, "3ms±1ms": {3 * time.Millisecond, time.Millisecond},
		" 5ms+-500us ": {5 * time.Millisecond, 500 * time.Microsecond}, "0s": {},
	} {
		var l latency
		if err := l.Set(in); err != nil || l != want {
			t.Errorf("Set(%q): %v, %v; want %v", in, l, err, want)
		}
	}
	for _, in := range []string{"", "3", "1ms±2ms", "-1ms", "3ms±x"} {
		var l latency
		if err := l.Set(in); err == nil {
			t.Errorf("Set(%q) = %v, want an error", in, l)
		}
	}
	l := latency{3 * time.Millisecond, time.Millisecond}
	var back latency
	if err := back.Set(l.String()); err != nil || back != l {
		t.Errorf("%q read back as %v, %v", l.String(), back, err)
	}
}
