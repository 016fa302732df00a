package main

import (
	"context"
	"testing"

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
	cfg := tinyConfig()
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
				checkPhase(t, name, run(t.Context(), &cfg, cl))
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
		n, err := startInProcess("chatfly", cfg.s1Rooms, cfg.prefix, serveOptions{redisFlags: rf})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.stop)
		cl.urls = append(cl.urls, n.url)
	}
	cl.url = cl.urls[0]
	return cl
}
