package wstransport

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/netip"
	"path"
	"time"

	"github.com/chatfly/chatfly"
)

// Default values of [Options].
const (
	// DefaultQueueSize is how many frames may wait for one connection's
	// writer before the connection is closed as a slow consumer.
	DefaultQueueSize = 256
	// DefaultWriteTimeout bounds one WebSocket message write.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultPingInterval is the time between two keepalive pings.
	DefaultPingInterval = 30 * time.Second
	// DefaultPingTimeout is how long a pong may take to come back.
	DefaultPingTimeout = 15 * time.Second
	// DefaultMaxFramesPerWrite is the most frames coalesced into one
	// WebSocket message.
	DefaultMaxFramesPerWrite = 64
	// DefaultMaxWriteBytes is the largest coalesced WebSocket message:
	// 32 KiB, which is also coder/websocket's default read limit, so a Go
	// client built on it with default settings can read every coalesced
	// message.
	DefaultMaxWriteBytes = 32 << 10
	// DefaultRelayGrace is how long a node may be missing from the relay
	// before its connections are gone (see Options.RelayGrace).
	DefaultRelayGrace = 10 * time.Second
)

// disconnectTimeout bounds the Hub.Disconnect call made when a connection
// ends; the request context is dead by then, so it gets a fresh one.
const disconnectTimeout = 10 * time.Second

// Options configures a [Transport]. A nil *Options, and every zero field,
// means the documented default; defaults are applied in one place, by [New].
// New copies the Options: changing them afterwards has no effect.
type Options struct {
	// ReadLimit is the largest WebSocket message read from a client, in
	// bytes. A larger message closes the connection with 1009
	// (chatfly.CloseTooBig). Zero means: the hub's MaxFrameBytes() if the
	// hub given to [Transport.Handler] has that method (as *chatfly.Hub
	// does), else chatfly.DefaultMaxFrameBytes. Negative disables the limit
	// (not recommended).
	ReadLimit int

	// QueueSize is how many frames may wait for one connection's writer.
	// A Send that finds the queue full closes the connection with 4000
	// (chatfly.CloseSlowConsumer). Frames that the writer has already taken
	// (the message being written) do not count. Default DefaultQueueSize.
	QueueSize int

	// WriteTimeout bounds the write of one WebSocket message to a client.
	// A write that takes longer aborts the connection (without a close
	// handshake: the client is not reading). It is checked by the
	// Transport's keepalive goroutine, so a stalled write is cut between
	// WriteTimeout and 1.25×WriteTimeout. Default DefaultWriteTimeout.
	WriteTimeout time.Duration

	// PingInterval is the time between two WebSocket pings to a client.
	// Default DefaultPingInterval; negative disables pings.
	PingInterval time.Duration
	// PingTimeout is how long the pong may take; a connection whose pong
	// is late is aborted (its Hub.Receive context is canceled and the
	// socket closed without a handshake). Default DefaultPingTimeout.
	PingTimeout time.Duration

	// HelloTimeout is how long a connection may take, from its upgrade,
	// to say hello (the Hub tells the Transport with SaidHello); past it
	// the connection is closed with 4002 (chatfly.CloseHelloTimeout),
	// whatever else it sent. It is checked by the keepalive goroutine, so
	// the close comes between HelloTimeout and 1.25×HelloTimeout. Zero
	// means: the hub's HelloTimeout() if the hub given to
	// [Transport.Handler] has that method (as *chatfly.Hub does:
	// chatfly.Options.HelloTimeout, default 10 seconds), else none.
	// Negative: none.
	HelloTimeout time.Duration

	// OriginPatterns lists the host patterns of cross-origin pages allowed
	// to connect, as in websocket.AcceptOptions.OriginPatterns (path.Match
	// syntax, matched against the Origin's host, or against
	// "scheme://host" if the pattern has "://"). The request's own host is
	// always allowed, and so are requests without an Origin header
	// (non-browser clients). Default: same origin only. Other origins are
	// refused with 403 before the Hub sees the connection.
	OriginPatterns []string

	// TrustedProxies are the networks of the reverse proxies and load
	// balancers in front of the server. Only a request whose direct peer
	// (http.Request.RemoteAddr) is inside one of them may name its client
	// in ClientIPHeader; for every other request the header is ignored,
	// since anyone can send it. Prefixes of IPv4 addresses match
	// IPv4-mapped IPv6 peers too (write IPv4 networks in IPv4 form).
	// Default: none (no header is trusted).
	TrustedProxies []netip.Prefix
	// ClientIPHeader is the request header in which trusted proxies name
	// the client, such as "X-Forwarded-For" or "X-Real-IP". It is read as
	// a comma-separated list (all its lines joined), and the client is its
	// rightmost address that is not itself in TrustedProxies: the one the
	// outermost trusted proxy saw. The address found becomes
	// ConnectRequest.RemoteAddr, on which the Hub's per-address limits and
	// address bans key. Default: none (RemoteAddr is the direct peer).
	ClientIPHeader string

	// MaxFramesPerWrite is the most frames joined into one WebSocket
	// message. Default DefaultMaxFramesPerWrite; 1 disables coalescing.
	MaxFramesPerWrite int
	// MaxWriteBytes is the largest coalesced WebSocket message, '\n'
	// separators included. A single frame larger than this is sent alone,
	// never split. Default DefaultMaxWriteBytes.
	MaxWriteBytes int

	// Logger receives the Transport's logs. Default: slog.Default().
	Logger *slog.Logger

	// Relay carries frames and closes to the connections of other nodes
	// (standalone servers sharing one Storage, each with its own NodeID),
	// and brings theirs to this node's connections: the Transport
	// subscribes to its NodeID on it. Default: none; frames for other
	// nodes' connections are dropped (one warning is logged), which is
	// right only for a single server.
	Relay chatfly.Relay
	// RelayGrace is how long the Relay may report a node without
	// subscriber (chatfly.ErrGone from Publish) before that node's
	// connections are reported gone to the Hub, which then removes their
	// members: long enough to ride out a relay restart or failover during
	// which subscriptions drop, short enough that a crashed node's members
	// do not linger. Default DefaultRelayGrace; negative: at once.
	RelayGrace time.Duration

	// NodeID names this server among the standalone servers (nodes) that
	// share one Storage. Every connection id is "<NodeID>.<NewConnID()>",
	// so that each node knows which connections are its own: only the
	// owning node reports its connections gone (chatfly.ErrGone). A Send,
	// SendMany or Close for a connection of another node is relayed (see
	// Relay; dropped without one), and reports it gone only when the relay
	// has had no subscriber for its node for RelayGrace.
	// At most 32 letters, digits, '-' and '_'; New panics on others.
	// Default: 8 random base64url characters (48 bits), new at each start.
	// A node given a stable NodeID also recognises, after a crash and
	// restart, the connections of its previous run as its own dead ones
	// when other nodes relay frames to them, and disconnects them from its
	// Hub.
	NodeID string

	// NewConnID returns the node-local part of a new connection's id (see
	// NodeID). It must be safe for concurrent use and return unique ids: a
	// request that gets the id of a live connection is refused with HTTP
	// 500 before the Hub's Connect (or, in a narrow race, closed with 1011
	// after it, without Disconnect). Default: 128 random bits from
	// crypto/rand, base64url-encoded without padding (22 characters).
	NewConnID func() string
}

// maxNodeID is the longest Options.NodeID.
const maxNodeID = 32

// validNodeID reports whether s is a valid Options.NodeID.
func validNodeID(s string) bool {
	if s == "" || len(s) > maxNodeID {
		return false
	}
	for _, r := range s {
		ok := r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !ok {
			return false
		}
	}
	return true
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.QueueSize <= 0 {
		d.QueueSize = DefaultQueueSize
	}
	if d.WriteTimeout <= 0 {
		d.WriteTimeout = DefaultWriteTimeout
	}
	if d.PingInterval == 0 {
		d.PingInterval = DefaultPingInterval
	}
	if d.PingTimeout <= 0 {
		d.PingTimeout = DefaultPingTimeout
	}
	if d.MaxFramesPerWrite <= 0 {
		d.MaxFramesPerWrite = DefaultMaxFramesPerWrite
	}
	if d.MaxWriteBytes <= 0 {
		d.MaxWriteBytes = DefaultMaxWriteBytes
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.RelayGrace == 0 {
		d.RelayGrace = DefaultRelayGrace
	}
	if d.NewConnID == nil {
		d.NewConnID = randomConnID
	}
	if d.NodeID == "" {
		d.NodeID = randomID(6)
	}
	if !validNodeID(d.NodeID) {
		panic(fmt.Sprintf("wstransport: Options.NodeID %q: want 1 to %d letters, digits, '-' or '_'", d.NodeID, maxNodeID))
	}
	d.OriginPatterns = append([]string(nil), d.OriginPatterns...)
	d.TrustedProxies = append([]netip.Prefix(nil), d.TrustedProxies...)

	for _, p := range d.OriginPatterns {
		if _, err := path.Match(p, ""); err != nil {
			d.Logger.Warn("wstransport: bad origin pattern, it matches nothing", "pattern", p, "err", err)
		}
	}
	return d
}

// readLimit resolves ReadLimit for hub h.
func (o *Options) readLimit(h Hub) int64 {
	switch {
	case o.ReadLimit > 0:
		return int64(o.ReadLimit)
	case o.ReadLimit < 0:
		return -1
	}
	if m, ok := h.(interface{ MaxFrameBytes() int }); ok {
		if n := m.MaxFrameBytes(); n > 0 {
			return int64(n)
		}
	}
	return chatfly.DefaultMaxFrameBytes
}

// helloTimeout resolves HelloTimeout for hub h.
func (o *Options) helloTimeout(h Hub) time.Duration {
	switch {
	case o.HelloTimeout > 0:
		return o.HelloTimeout
	case o.HelloTimeout < 0:
		return 0
	}
	if m, ok := h.(interface{ HelloTimeout() time.Duration }); ok {
		return max(m.HelloTimeout(), 0)
	}
	return 0
}

// tick is the period of the keepalive goroutine: a quarter of the shortest
// deadline it enforces (hello: the shortest hello timeout in ns, 0: none).
func (o *Options) tick(hello int64) time.Duration {
	d := o.WriteTimeout
	if o.PingInterval > 0 && o.PingInterval < d {
		d = o.PingInterval
	}
	if hello > 0 && time.Duration(hello) < d {
		d = time.Duration(hello)
	}
	return max(d/4, time.Millisecond)
}

func randomConnID() string { return randomID(16) }

// randomID returns n random bytes, base64url-encoded without padding.
func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
