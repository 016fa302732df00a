package main

import (
	"flag"
	"net/http"
	"time"

	"github.com/chatfly/chatfly/transport/wstransport"
)

// newHTTPServer returns the server's http.Server, with the deadlines a
// server on the public internet needs: a client that is slow to send its
// request (a slowloris) or keeps an idle keep-alive connection is cut off,
// so it does not hold a connection slot for ever. WebSocket connections are
// hijacked from net/http, which clears the read and write deadlines: they
// are governed by the Transport (pings, write timeout, hello timeout).
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second, // the request line and headers
		ReadTimeout:       30 * time.Second, // the whole request, body included
		WriteTimeout:      30 * time.Second, // the response (the app's files)
		IdleTimeout:       60 * time.Second, // a keep-alive connection between requests
		MaxHeaderBytes:    64 << 10,         // cookies included; net/http's default is 1 MB
	}
}

// limitFlags adds the flags of the listener's connection caps to fs.
func limitFlags(fs *flag.FlagSet) *wstransport.ListenerLimits {
	l := &wstransport.ListenerLimits{}
	fs.IntVar(&l.Max, "max-conns", defaultMaxConns(),
		"most connections open at once, WebSockets and HTTP keep-alives together (default: the open-file limit less a reserve of 128); -1: no cap")
	fs.IntVar(&l.PerAddress, "max-conns-per-addr", wstransport.DefaultMaxConnsPerAddress,
		"most connections open at once from one client address (IPv6: per /64); -1: no cap, for a server behind a reverse proxy (every connection comes from the proxy)")
	return l
}

// behindProxies turns the per-address cap off for a server behind trusted
// reverse proxies, where every connection comes from a proxy, unless
// -max-conns-per-addr was given: the Hub's per-address limits, on the
// client address the proxy names, apply instead.
func behindProxies(fs *flag.FlagSet, l *wstransport.ListenerLimits, proxies int) {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "max-conns-per-addr" })
	if proxies > 0 && !set {
		l.PerAddress = -1
	}
}
