package wstransport_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/transport/wstransport"
)

// This example is compiled, not run: it needs a Storage and a long-running
// server.
func Example() {
	var store chatfly.Storage // for example memstore.New()

	ws := wstransport.New(&wstransport.Options{
		// Let the web app on another subdomain connect.
		OriginPatterns: []string{"app.example.com"},
	})
	hub := chatfly.New(store, ws, nil)

	mux := http.NewServeMux()
	mux.Handle("/ws", ws.Handler(hub))
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: mux}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()

	// Stop taking requests, then close the WebSockets (1001: clients
	// reconnect) and wait for their Disconnect calls.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	ws.Shutdown(shutdownCtx)
}
