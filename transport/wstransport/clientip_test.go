package wstransport_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/transport/wstransport"
)

// dialFrom connects from the loopback address local with the given
// headers, and returns the RemoteAddr the Hub was given.
func (e *env) dialFrom(local string, h http.Header) string {
	e.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	n := e.hub.connectCount()
	c, _, err := websocket.Dial(bg, e.url, &websocket.DialOptions{HTTPClient: client, HTTPHeader: h})
	require.NoError(e.t, err)
	defer c.CloseNow()
	return e.hub.req(n).RemoteAddr
}

func TestClientAddress(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	xff := func(vs ...string) http.Header { return http.Header{"X-Forwarded-For": vs} }
	for _, tc := range []struct {
		name   string
		header string // ClientIPHeader
		trust  []netip.Prefix
		local  string // the proxy's (the direct peer's) address
		h      http.Header
		want   string // "peer": the direct peer's address and port
	}{
		{"spoofed header ignored by default", "", nil, "127.0.0.1", xff("203.0.113.9"), "peer"},
		{"header without trusted proxies ignored", "X-Forwarded-For", nil, "127.0.0.1", xff("203.0.113.9"), "peer"},
		{"untrusted peer's header ignored", "X-Forwarded-For", proxies, "127.0.0.2", xff("203.0.113.9"), "peer"},
		{"trusted proxy honoured", "X-Forwarded-For", proxies, "127.0.0.1", xff("203.0.113.9"), "203.0.113.9"},
		{"rightmost untrusted entry", "X-Forwarded-For", proxies, "127.0.0.1", xff("6.6.6.6, 203.0.113.9, 10.1.2.3"), "203.0.113.9"},
		{"header lines joined in order", "X-Forwarded-For", proxies, "127.0.0.1", xff("6.6.6.6", "203.0.113.9,10.0.0.7"), "203.0.113.9"},
		{"IPv6 client", "X-Forwarded-For", proxies, "127.0.0.1", xff("2001:db8::1"), "2001:db8::1"},
		{"mapped IPv6 client", "X-Forwarded-For", proxies, "127.0.0.1", xff("::ffff:203.0.113.9"), "203.0.113.9"},
		{"garbage is not believed", "X-Forwarded-For", proxies, "127.0.0.1", xff("203.0.113.9, bogus"), "peer"},
		{"only proxies", "X-Forwarded-For", proxies, "127.0.0.1", xff("10.0.0.1"), "peer"},
		{"missing header", "X-Forwarded-For", proxies, "127.0.0.1", nil, "peer"},
		{"X-Real-IP", "X-Real-IP", proxies, "127.0.0.1", http.Header{"X-Real-Ip": {"198.51.100.4"}, "X-Forwarded-For": {"6.6.6.6"}}, "198.51.100.4"},
		{"another header is not read", "X-Real-IP", proxies, "127.0.0.1", xff("203.0.113.9"), "peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{opts: &wstransport.Options{TrustedProxies: tc.trust, ClientIPHeader: tc.header}})
			got := e.dialFrom(tc.local, tc.h)
			if tc.want == "peer" {
				host, _, err := net.SplitHostPort(got)
				require.NoError(t, err, "RemoteAddr %q is not the peer's host:port", got)
				assert.Equal(t, tc.local, host)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// The Hub's per-address limit refuses the upgrade with 429.
func TestConnectTooManyIs429(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.hub.reject = chatfly.Errorf(chatfly.ErrTooMany, "too many connections from your network (at most 32)")
	_, resp, err := websocket.Dial(bg, e.url, e.dialOptions(nil))
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	var body struct{ Code, Message string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, "too_many", body.Code)
	assert.Contains(t, body.Message, "at most 32")
}
