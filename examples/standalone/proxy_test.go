package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
)

func TestTrustedProxyFlags(t *testing.T) {
	var pf proxyFlags
	fs := flag.NewFlagSet("standalone", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&pf.trusted, "trusted-proxies", "")
	require.NoError(t, fs.Parse([]string{"-trusted-proxies", "127.0.0.1/32, 10.1.2.3/8,::1/128"}))
	assert.Equal(t, "127.0.0.1/32,10.0.0.0/8,::1/128", pf.trusted.String())
	assert.Error(t, fs.Parse([]string{"-trusted-proxies", "10.0.0.1"}), "an address without a prefix length")

	// Behind a trusted proxy on loopback, each client named in the header
	// has its own per-address limit; a spoofed header from elsewhere would
	// be ignored (wstransport's tests).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := &config{
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		hub:     &chatfly.Options{AddressLimits: chatfly.AddressLimits{Connections: 1}},
		proxies: proxyFlags{trusted: pf.trusted, header: "X-Forwarded-For"},
	}
	go func() { done <- run(ctx, ln, cfg) }()
	t.Cleanup(func() { cancel(); assert.NoError(t, <-done) })
	url := "ws://" + ln.Addr().String() + "/ws"
	dial := func(clientIP string) error {
		dctx, dcancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer dcancel()
		c, err := client.Dial(dctx, url, &client.Options{Name: "p" + clientIP, HTTPHeader: http.Header{"X-Forwarded-For": {clientIP}}})
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
		}
		return err
	}
	require.NoError(t, dial("203.0.113.1"))
	require.NoError(t, dial("203.0.113.2"))
	err = dial("203.0.113.1")
	var he *client.HandshakeError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusTooManyRequests, he.StatusCode)
	assert.ErrorIs(t, err, chatfly.ErrTooMany)
}
