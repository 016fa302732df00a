package wstransport

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr returns the client address of r that the Hub limits and bans
// by: r.RemoteAddr, unless the direct peer is one of the trusted proxies and
// the configured header names the client. The header is read as a list of
// addresses, all its lines joined by commas, in the order proxies appended
// them (X-Forwarded-For: "client, proxy1, proxy2"); the client is the
// rightmost address that is not itself a trusted proxy. Anything to the left
// of it was written by the client and is ignored. A header that is missing,
// or whose rightmost untrusted entry is not an IP address, leaves
// r.RemoteAddr.
func (o *Options) clientAddr(r *http.Request) string {
	if o.ClientIPHeader == "" || !o.trusted(peerIP(r.RemoteAddr)) {
		return r.RemoteAddr
	}
	var entries []string
	for _, v := range r.Header.Values(o.ClientIPHeader) {
		entries = append(entries, strings.Split(v, ",")...)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		ip := peerIP(strings.TrimSpace(entries[i]))
		switch {
		case !ip.IsValid():
			return r.RemoteAddr
		case !o.trusted(ip):
			return ip.String()
		}
	}
	return r.RemoteAddr
}

// trusted reports whether ip is inside one of the TrustedProxies.
func (o *Options) trusted(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range o.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// peerIP parses "ip", "ip:port" or "[ipv6]:port", IPv4-mapped IPv6 as IPv4;
// the zero Addr if s is none of these.
func peerIP(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}
