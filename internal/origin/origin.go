// Package origin checks the Origin header of a WebSocket upgrade against
// allowed patterns, with the rules of coder/websocket's
// AcceptOptions.OriginPatterns, for the transports that check it before the
// Hub sees the connection (wstransport, apigw, apigwlocal).
package origin

import (
	"net/url"
	"path"
	"strings"
)

// Allowed reports whether an upgrade request to host with the Origin header
// value origin is allowed by patterns:
//
//   - a request without Origin (not from a browser) is allowed;
//   - so is one whose origin's host equals host (same origin);
//   - otherwise a pattern must match, case-insensitively with path.Match
//     syntax, the origin's host ("example.com", "*.example.com",
//     "localhost:*"), or its scheme://host if the pattern contains "://"
//     ("https://*.example.com").
//
// A malformed Origin is refused.
func Allowed(origin, host string, patterns []string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}
