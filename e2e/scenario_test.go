package e2e_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/scenario"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/transport/wstransport"
)

// TestScenarios runs the client-level scenario suite that the serverless
// stack runs too (examples/lambda), against the standalone server: one Hub
// on memstore behind wstransport on 127.0.0.1.
func TestScenarios(t *testing.T) {
	scenario.Run(t, standaloneHost{})
}

// standaloneHost starts the standalone server for the scenarios.
type standaloneHost struct{}

func (standaloneHost) Start(t *testing.T, opts *chatfly.Options) scenario.Deployment {
	opts.Logger = slog.New(slog.DiscardHandler)
	ws := wstransport.New(&wstransport.Options{Logger: opts.Logger})
	hub := chatfly.New(memstore.New(nil), ws, opts)
	mux := http.NewServeMux()
	mux.Handle("/ws", ws.Handler(hub))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ws.Shutdown(ctx)
		srv.Close()
	})
	return scenario.Deployment{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", Hub: hub}
}
