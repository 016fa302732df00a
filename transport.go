package chatfly

import (
	"context"
	"net/http"
	"net/url"
)

// Transport delivers frames to connections. It only writes: reading belongs
// to the host adapter that owns the sockets (for example
// chatfly/transport/wstransport's http.Handler), which feeds what it reads to
// [Hub.Receive].
//
// Send must not block on a slow client: a transport with long-lived sockets
// queues the frame and returns; one that calls a remote API (API Gateway's
// PostToConnection) returns when the call is done. The frame is shared by
// every recipient of a fan-out and must be treated as read-only; it may be
// retained. A frame may hold several events separated by '\n'.
//
// Send returns an error wrapping [ErrGone] when the connection no longer
// exists; the Hub then removes that connection's state. Implementations must
// be safe for concurrent use.
type Transport interface {
	// Send delivers one frame to the connection.
	Send(ctx context.Context, connID string, frame []byte) error
	// Close closes the connection with a close code and a short reason.
	// Closing a connection that is already gone is not an error.
	Close(ctx context.Context, connID string, code CloseCode, reason string) error
}

// Broadcaster is an optional interface of a [Transport] that delivers one
// frame to many connections more cheaply than one Send each (enqueue without
// per-call overhead, or bounded-parallel remote calls). The Hub uses it for
// fan-out when the transport implements it.
type Broadcaster interface {
	// SendMany delivers frame to every connection in connIDs. It returns the
	// ids of connections that are gone (see ErrGone); other failures are
	// reported in err.
	SendMany(ctx context.Context, connIDs []string, frame []byte) (gone []string, err error)
}

// SendLimiter is an optional interface of a [Transport] that cannot deliver
// frames beyond a size (API Gateway: 128 KB per message). The Hub then
// shortens the history in its replies to fit; clients page back for the
// rest.
type SendLimiter interface {
	// MaxSendBytes is the largest frame the transport delivers.
	MaxSendBytes() int
}

// HelloTimer is an optional interface of a [Transport] that owns its sockets
// (chatfly/transport/wstransport) and closes those that have not said hello
// within the Hub's [Hub.HelloTimeout], counted from the upgrade, with
// [CloseHelloTimeout]. The Hub keeps no such timer itself: it calls SaidHello
// once a connection's hello has been accepted, and the transport stops that
// connection's deadline. (Transports without it, like API Gateway's, rely on
// the connection record expiring: the next frame after HelloTimeout closes
// the connection.)
type HelloTimer interface {
	// SaidHello tells the transport that connection connID has said hello.
	// It must not block; an unknown connection is ignored.
	SaidHello(connID string)
}

// CloseCode is a WebSocket close status. Codes in 4000–4999 are chatfly's;
// each says whether the client should reconnect.
type CloseCode int

// Close codes used by chatfly. See PROTOCOL.md.
const (
	// CloseNormal: the client or server ended the session on purpose.
	CloseNormal CloseCode = 1000
	// CloseGoingAway: the server is shutting down or restarting; reconnect
	// (with the resume token) after a short delay.
	CloseGoingAway CloseCode = 1001
	// CloseUnsupported: the client sent a binary frame; chatfly speaks
	// only text frames (API Gateway closes with 1003 too).
	CloseUnsupported CloseCode = 1003
	// ClosePolicy: the connection broke a rule (it kept flooding past the
	// rate limit, for example); do not reconnect without changing
	// something.
	ClosePolicy CloseCode = 1008
	// CloseTooBig: a frame exceeded the server's read limit.
	CloseTooBig CloseCode = 1009
	// CloseInternal: the server hit an unexpected error; reconnect.
	CloseInternal CloseCode = 1011
	// CloseSlowConsumer: the client fell too far behind reading and its
	// queue overflowed; reconnect and catch up with join "after".
	CloseSlowConsumer CloseCode = 4000
	// CloseReplaced: the same session connected again elsewhere (resume
	// token used on another connection); do not reconnect automatically.
	CloseReplaced CloseCode = 4001
	// CloseHelloTimeout: the connection did not say hello within
	// Options.HelloTimeout of the upgrade; reconnect and send hello at
	// once.
	CloseHelloTimeout CloseCode = 4002
	// CloseRevoked: the server revoked the session (Hub.RevokeSession); its
	// resume token is no longer accepted. Do not reconnect with the token;
	// a new session (hello with a name) is possible.
	CloseRevoked CloseCode = 4003
	// CloseDisconnected: the application disconnected the session
	// (Hub.DisconnectSession, Hub.DisconnectUser). Do not reconnect
	// automatically.
	CloseDisconnected CloseCode = 4004
)

// ConnectRequest describes a new connection to [Hub.Connect]. Host adapters
// fill it from the HTTP upgrade request or from API Gateway's $connect event.
type ConnectRequest struct {
	// ConnID is the transport's id for the connection. Required.
	ConnID string
	// Header holds the request headers (cookies included), if any.
	Header http.Header
	// Query holds the query string parameters, if any.
	Query url.Values
	// RemoteAddr is the client's network address, if known.
	RemoteAddr string
}
