package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// checkLoopbackURL refuses URLs whose host is not a loopback address: the
// load tool generates traffic only on this machine unless told otherwise.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return fmt.Errorf("URL %q: scheme must be ws, wss, http or https", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("URL %q is not a loopback address (127.0.0.0/8, ::1, localhost); pass -allow-remote to target it anyway", raw)
	}
	return nil
}

// checkLoopbackAddr is checkLoopbackURL for a listen address host:port.
func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if !isLoopbackHost(host) {
		return fmt.Errorf("address %q is not a loopback address", addr)
	}
	return nil
}

// checkLoopbackRedis checks that the -redis URL names a loopback host.
func checkLoopbackRedis(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("-redis %q is not a loopback redis:// URL; pass -allow-remote to use it anyway", raw)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dialers hands out HTTP clients that dial from several loopback source
// addresses in turn (127.0.0.1, 127.0.0.2, ...), so that many thousands of
// connections to one server port do not run out of ephemeral ports of one
// source address. Against a non-loopback target it uses the default route.
type dialers struct {
	clients []*http.Client
	next    atomic.Uint64
}

func newDialers(target string, sources int) *dialers {
	u, _ := url.Parse(target)
	loop := u != nil && isLoopbackHost(u.Hostname()) && u.Hostname() != "::1"
	if !loop {
		sources = 1
	}
	d := &dialers{}
	for i := range sources {
		nd := &net.Dialer{Timeout: 10 * time.Second}
		if loop {
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		tr := &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if loop {
					network = "tcp4" // the source address is IPv4
				}
				return nd.DialContext(ctx, network, addr)
			},
		}
		d.clients = append(d.clients, &http.Client{Transport: tr})
	}
	return d
}

func (d *dialers) client() *http.Client {
	return d.clients[d.next.Add(1)%uint64(len(d.clients))]
}
