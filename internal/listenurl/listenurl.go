// Package listenurl turns the address a server listens on into a URL that
// one can open in a browser.
package listenurl

import "net"

// Of returns scheme://host:port for a listener's address. A wildcard listen
// (":8080", "0.0.0.0:8080", "[::]:8080") is reachable on this machine as
// localhost, so it says localhost; other hosts are kept, IPv6 in brackets.
func Of(scheme string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
