package main

import (
	"context"
	"testing"
	"time"

	"github.com/chatfly/chatfly/internal/redistest"
)

// TestClusterSmoke runs a tiny S1 and S2 against three in-process chatfly
// nodes over one Redis (miniredis, and redis-server when installed), the
// fleet's members spread over them: every message reaches every other
// member of its room, once, in order, across nodes.
func TestClusterSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cfg := defaultConfig()
	cfg.sources = 2
	cfg.s1Rooms, cfg.s1PerRoom, cfg.s1Rate = 3, 4, 4
	cfg.warmup, cfg.s1Duration, cfg.drain = 300*time.Millisecond, time.Second, 10*time.Second
	cfg.s2Clients, cfg.s2Total, cfg.s2Duration = 8, 20, time.Second
	for _, b := range []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"miniredis", func(t *testing.T) string { return redistest.MiniredisAddr(t) }},
		{"redis-server", func(t *testing.T) string { return redistest.StartServer(t).Addr }}, // stopped by the test
	} {
		t.Run(b.name, func(t *testing.T) {
			addr := b.addr(t)
			for name, run := range map[string]func(context.Context, *config, *target) sample{"s1": runS1, "s2": runS2} {
				cl := startNodes(t, &cfg, redisFlags{url: "redis://" + addr, prefix: redistest.Prefix(t)})
				s := run(t.Context(), &cfg, cl)
				if s.Error != "" {
					t.Fatalf("%s: %s", name, s.Error)
				}
				r := s.Detail.(*phaseResult)
				t.Logf("%s: %d msgs, %d deliveries, p99 %.2f ms", name, r.Messages, r.Deliveries, r.P99ms)
				if r.Messages == 0 || r.Deliveries == 0 || r.Expected == 0 {
					t.Errorf("%s: nothing measured: %+v", name, r)
				}
				if r.Lost != 0 || r.Duplicated != 0 || r.Reordered != 0 || r.Disconnects != 0 || r.SendFailed != 0 || !r.Drained {
					t.Errorf("%s: lost %d, duplicated %d, reordered %d, disconnects %d, failed %d, drained %v",
						name, r.Lost, r.Duplicated, r.Reordered, r.Disconnects, r.SendFailed, r.Drained)
				}
			}
		})
	}
}

// startNodes starts three in-process nodes over the Redis of rf, fresh
// state under its prefix, stopped when t ends.
func startNodes(t *testing.T, cfg *config, rf redisFlags) *target {
	cl := &target{name: "cluster"}
	for _, id := range []string{"n1", "n2", "n3"} {
		rf.nodeID = id
		n, err := startInProcess("chatfly", cfg.s1Rooms, cfg.prefix, rf)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.stop)
		cl.urls = append(cl.urls, n.url)
	}
	cl.url = cl.urls[0]
	return cl
}
