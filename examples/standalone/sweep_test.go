package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

// matchTransport records which connections were told of a roulette match.
type matchTransport struct {
	mu      sync.Mutex
	matched map[string]bool
}

func (tr *matchTransport) Send(_ context.Context, conn string, frame []byte) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if strings.Contains(string(frame), `"type":"roulette.matched"`) {
		tr.matched[conn] = true
	}
	return nil
}

func (tr *matchTransport) Close(context.Context, string, chatfly.CloseCode, string) error { return nil }

func (tr *matchTransport) both(a, b string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.matched[a] && tr.matched[b]
}

// The server's sweeper pairs two waiters whose fallback is due although
// neither asks again.
func TestSweepPairsWaiters(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tr := &matchTransport{matched: map[string]bool{}}
	hub := chatfly.New(memstore.New(&memstore.Options{Now: clock}), tr, &chatfly.Options{Now: clock})
	for _, c := range []struct{ conn, name, join string }{
		{"c1", "Ada", `{"action":"roulette.join","interests":["go"]}`},
		{"c2", "Cy", `{"action":"roulette.join"}`},
	} {
		if err := hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: c.conn}); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{`{"action":"hello","name":"` + c.name + `"}`, c.join} {
			if err := hub.Receive(ctx, c.conn, []byte(f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if tr.both("c1", "c2") {
		t.Fatal("paired before Ada's fallback")
	}
	mu.Lock()
	now = now.Add(10 * time.Second) // the fallback is due; nobody asks again
	mu.Unlock()
	stop := startSweep(ctx, hub, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer stop()
	for end := time.Now().Add(20 * time.Second); !tr.both("c1", "c2"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the sweeper did not pair Ada and Cy")
		}
	}
}
