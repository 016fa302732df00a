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
	"github.com/chatfly/chatfly/transport/wstransport"
)

// loopbackClient is an HTTP client whose connections come from the
// loopback address from.
func loopbackClient(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

// Connections that send nothing (or sit idle) from one address fill only
// that address's share of the server (-max-conns-per-addr): the next one
// from it is refused, while another address still gets the page and chats
// over a WebSocket through the same listener.
func TestConnectionCapPerAddress(t *testing.T) {
	fs := flag.NewFlagSet("standalone", flag.ContinueOnError)
	limits := limitFlags(fs)
	require.NoError(t, fs.Parse([]string{"-max-conns-per-addr=3"}))
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := wstransport.LimitListener(raw, limits)
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- run(ctx, ln, &config{log: log, hub: &chatfly.Options{}}) }()
	defer func() {
		cancel()
		assert.NoError(t, <-done)
	}()

	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	for range 3 {
		c, err := d.Dial("tcp", addr) // a slowloris: never sends its request
		require.NoError(t, err)
		defer c.Close()
	}
	get := func(from string) error {
		hc := loopbackClient(from)
		defer hc.CloseIdleConnections()
		resp, err := hc.Get("http://" + addr + "/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET / from %s: %s", from, resp.Status)
			}
		}
		return err
	}
	// The three idle connections were accepted first (the kernel queues
	// connections in order), so a fourth one from 127.0.0.2 is refused...
	require.Error(t, get("127.0.0.2"), "a fourth connection from 127.0.0.2")
	// ...and another address is served.
	require.NoError(t, get("127.0.0.3"))

	hc := loopbackClient("127.0.0.3")
	defer hc.CloseIdleConnections()
	ada, err := client.Dial(ctx, "ws://"+addr+"/ws", &client.Options{Name: "Ada", HTTPClient: hc})
	require.NoError(t, err)
	defer ada.Close()
	_, err = ada.Join(ctx, "lobby", 0)
	require.NoError(t, err)
	_, err = ada.Send(ctx, "lobby", "through the listener")
	require.NoError(t, err)
}

// Behind trusted proxies every connection comes from a proxy: the
// per-address cap is off unless -max-conns-per-addr is given.
func TestBehindProxies(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		proxies int
		want    int
	}{
		{nil, 0, wstransport.DefaultMaxConnsPerAddress},
		{nil, 1, -1},
		{[]string{"-max-conns-per-addr=500"}, 1, 500},
	} {
		fs := flag.NewFlagSet("standalone", flag.ContinueOnError)
		limits := limitFlags(fs)
		require.NoError(t, fs.Parse(tc.args))
		behindProxies(fs, limits, tc.proxies)
		assert.Equal(t, tc.want, limits.PerAddress, "%v with %d proxies", tc.args, tc.proxies)
	}
}
