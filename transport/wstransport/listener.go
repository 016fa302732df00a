package wstransport

import (
	"errors"
	"net"
	"sync"
	"syscall"

	"github.com/chatfly/chatfly"
)

// Default values of [ListenerLimits].
const (
	// DefaultMaxConns is the most connections a [LimitListener] keeps open
	// at once. Keep it under the process's open-file limit (ulimit -n).
	DefaultMaxConns = 10000
	// DefaultMaxConnsPerAddress is the most connections a [LimitListener]
	// keeps open at once from one client address: room for a household or
	// a small office behind one NAT, each person with a chat socket and a
	// few keep-alive HTTP connections of the browser.
	DefaultMaxConnsPerAddress = 64
)

// ListenerLimits configures a [LimitListener]. A nil *ListenerLimits, and
// every zero field, means the documented default.
type ListenerLimits struct {
	// Max is the most connections open at once, all addresses together.
	// Default DefaultMaxConns; negative: no cap.
	Max int
	// PerAddress is the most connections open at once from one client
	// address, keyed by chatfly.AddrKey: an IPv4 address, or an IPv6 /64
	// (what one subscriber usually gets). Default DefaultMaxConnsPerAddress; negative: no cap.
	// The address is the TCP peer's: behind a reverse proxy every
	// connection comes from the proxy, so there turn this off and let the
	// proxy limit its clients.
	PerAddress int
}

// LimitListener returns a net.Listener that accepts connections from ln
// while fewer than lim.Max are open, and fewer than lim.PerAddress from the
// connecting address. A connection over a cap is closed as soon as it is
// accepted, with a TCP reset and before anything is read or written, and
// Accept goes on with the next one: one address cannot take every slot (or
// every file descriptor) of the server, and a full server refuses at once
// instead of letting connections queue. A connection counts until it is
// closed, whatever it carries: a WebSocket (hijacked from net/http) as well
// as an idle keep-alive HTTP connection, so serve it with an http.Server
// that has ReadHeaderTimeout and IdleTimeout (see examples/standalone).
//
// The returned listener is safe for concurrent use; its connections keep
// the syscall.Conn of the accepted connection (the Transport reads idle
// sockets through it without a buffer of their own).
func LimitListener(ln net.Listener, lim *ListenerLimits) net.Listener {
	var l ListenerLimits
	if lim != nil {
		l = *lim
	}
	if l.Max == 0 {
		l.Max = DefaultMaxConns
	}
	if l.PerAddress == 0 {
		l.PerAddress = DefaultMaxConnsPerAddress
	}
	return &limitListener{Listener: ln, lim: l, perAddr: make(map[string]int)}
}

type limitListener struct {
	net.Listener
	lim ListenerLimits

	mu      sync.Mutex
	open    int
	perAddr map[string]int // open connections by address key; no zero entries
}

// Accept returns the next connection within the caps.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := chatfly.AddrKey(c.RemoteAddr().String())
		if l.admit(key) {
			return &limitedConn{Conn: c, l: l, key: key}, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // reset: no TIME_WAIT left behind by a flood
		}
		_ = c.Close()
	}
}

func (l *limitListener) admit(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if (l.lim.Max > 0 && l.open >= l.lim.Max) || (l.lim.PerAddress > 0 && l.perAddr[key] >= l.lim.PerAddress) {
		return false
	}
	l.open++
	l.perAddr[key]++
	return true
}

func (l *limitListener) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perAddr[key]--; l.perAddr[key] <= 0 {
		delete(l.perAddr, key)
	}
}

// limitedConn is a connection counted by its limitListener until Close.
type limitedConn struct {
	net.Conn
	l    *limitListener
	key  string
	once sync.Once
}

// Close closes the connection and frees its slot (once).
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}

var errNoSyscallConn = errors.New("wstransport: connection has no file descriptor")

// SyscallConn implements syscall.Conn with the accepted connection's.
func (c *limitedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoSyscallConn
}

// CloseWrite shuts down the writing side, as net/http does before closing
// a connection, if the accepted connection can.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
