package wstransport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/coder/websocket"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/origin"
)

// Hub is what a [Transport.Handler] feeds with the events of its
// connections. *chatfly.Hub implements it. Its methods are called
// concurrently for different connections; for one connection the Handler
// calls Connect, then Receive once per message in the order the messages
// arrived (never concurrently), then Disconnect exactly once, and only if
// Connect succeeded (and the connection id was not a duplicate, see
// Options.NewConnID).
type Hub interface {
	// Connect is called before the WebSocket upgrade, with the request's
	// context. An error refuses the connection: with HTTP 503 if it wraps
	// chatfly.ErrUnavailable, 500 if it is not a *chatfly.Error or is
	// chatfly.ErrInternal, 429 if its code is too_many (a per-address
	// limit), else 403.
	Connect(ctx context.Context, req *chatfly.ConnectRequest) error
	// Receive is called with each text message. frame is a new slice that
	// the Hub may keep. A binary message is not passed on: it closes the
	// connection with 1003 (chatfly.CloseUnsupported), as API Gateway does. An error is logged at debug level and
	// the connection stays open. Once the connection is closing (Close,
	// Shutdown, or a full send queue) Receive is no longer called for it.
	// The connection's pongs are read between two Receive calls, so a
	// Receive that blocks longer than Options.PingTimeout gets the
	// connection aborted.
	Receive(ctx context.Context, connID string, frame []byte) error
	// Disconnect is called when the connection has ended, whatever the
	// reason, with a fresh context bounded to 10 seconds.
	Disconnect(ctx context.Context, connID string) error
}

// Opener is an optional interface of a [Hub] that hands out a handle per
// connection; *chatfly.Hub implements it. The Handler then calls Open in
// place of Connect (with the same meaning of its error), and the handle's
// Receive and Close in place of the Hub's Receive and Disconnect, with the
// same guarantees: the handle keeps what the Hub needs of the connection
// between frames (see chatfly.Conn), so a frame costs fewer storage calls.
type Opener interface {
	Open(ctx context.Context, req *chatfly.ConnectRequest) (*chatfly.Conn, error)
}

// hubConn is what the Handler calls for one connection: a *chatfly.Conn,
// or byID over a Hub that is not an Opener.
type hubConn interface {
	Receive(ctx context.Context, frame []byte) error
	Close(ctx context.Context) error
}

// byID is a hubConn that calls the Hub with the connection's id.
type byID struct {
	hub Hub
	id  string
}

func (c byID) Receive(ctx context.Context, frame []byte) error {
	return c.hub.Receive(ctx, c.id, frame)
}
func (c byID) Close(ctx context.Context) error { return c.hub.Disconnect(ctx, c.id) }

// open registers the connection of req with the Hub.
func (hd *handler) open(ctx context.Context, req *chatfly.ConnectRequest) (hubConn, error) {
	if o, ok := hd.hub.(Opener); ok {
		return o.Open(ctx, req)
	}
	if err := hd.hub.Connect(ctx, req); err != nil {
		return nil, err
	}
	return byID{hd.hub, req.ConnID}, nil
}

var (
	errShuttingDown = errors.New("wstransport: shutting down")
	errDuplicateID  = errors.New("wstransport: NewConnID returned the id of a live connection")
)

// Handler returns the http.Handler that accepts WebSocket connections for
// hub h. Mount it on the path clients connect to. Each upgrade request goes
// through these steps:
//
//  1. Refused with 503 once Shutdown has begun, with 426 if it is not a
//     WebSocket upgrade, with 403 if its Origin is not allowed (see
//     Options.OriginPatterns). The Hub sees none of these.
//  2. h.Connect (h.Open if h is an [Opener]) with a new connection id and the client's address (the
//     peer's, or from Options.ClientIPHeader behind Options.TrustedProxies).
//     An error refuses the upgrade with a JSON body {"code":...,"message":...}:
//     the code and message of the *chatfly.Error in the error's chain, or
//     "internal" with a generic message; the status is 403, or 429 when the
//     code is "too_many" (a per-address connection limit), or 503 with
//     Retry-After when it is "unavailable" (the storage failed or timed out),
//     or 500 when it is "internal".
//  3. The upgrade. From then on h.Receive (or the handle's Receive) gets
//     every text message, in order, and Send reaches the client. Frames sent during Connect are
//     refused with ErrGone, as on API Gateway. If the connection has not
//     said hello (see [Transport.SaidHello]) within the hello timeout (see
//     Options.HelloTimeout), it is closed with 4002
//     (chatfly.CloseHelloTimeout).
//  4. When the connection ends (closed by either side, read limit
//     exceeded, ping or write timeout, network error, Shutdown),
//     h.Disconnect (or the handle's Close), after the connection is
//     removed from the Transport.
//
// After the upgrade, ServeHTTP returns and the connection is served by a
// goroutine of the Transport, so that net/http releases the request, its
// buffers and its goroutine: an idle connection holds one goroutine and no
// buffer of its own (see lazyConn). [Transport.Shutdown] waits for these
// goroutines. A panic of the Hub is recovered and logged (as net/http would)
// and ends that connection like any other error.
// One Transport may serve several Handlers (and so several Hubs); connection
// ids are unique across them, and carry the Transport's node id (see
// Options.NodeID).
func (t *Transport) Handler(h Hub) http.Handler {
	hello := t.opts.helloTimeout(h)
	t.watchHello(hello)
	t.addHub(h)
	return &handler{t: t, hub: h, readLimit: t.opts.readLimit(h), hello: int64(hello)}
}

type handler struct {
	t         *Transport
	hub       Hub
	readLimit int64
	hello     int64 // hello timeout in nanoseconds, 0: none
}

func (hd *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := hd.t
	if !t.acquire() {
		w.Header().Set("Retry-After", "5")
		writeJSONError(w, http.StatusServiceUnavailable, chatfly.ErrUnavailable.Code, "server shutting down")
		return
	}
	served := false // the connection's goroutine releases instead
	defer func() {
		if !served {
			t.release()
		}
	}()

	if !isUpgrade(r) {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		writeJSONError(w, http.StatusUpgradeRequired, chatfly.ErrBadRequest.Code, "expected a WebSocket upgrade")
		return
	}
	if !originAllowed(r, t.opts.OriginPatterns) {
		writeJSONError(w, http.StatusForbidden, chatfly.ErrForbidden.Code, "origin not allowed")
		return
	}

	id := t.opts.NodeID + "." + t.opts.NewConnID()
	if t.has(id) {
		t.log.Error("wstransport: refusing connection", "conn", id, "err", errDuplicateID)
		writeJSONError(w, http.StatusInternalServerError, chatfly.ErrInternal.Code, "internal error")
		return
	}
	req := &chatfly.ConnectRequest{
		ConnID:     id,
		Header:     r.Header,
		Query:      r.URL.Query(),
		RemoteAddr: t.opts.clientAddr(r),
	}
	hc, err := hd.open(r.Context(), req)
	if err != nil {
		t.log.Debug("wstransport: connection refused", "conn", id, "remote", req.RemoteAddr, "err", err)
		refuse(w, err)
		return
	}

	// The request context must not be used after the upgrade (hijack);
	// keep its values, not its cancellation.
	base := context.WithoutCancel(r.Context())
	disconnect := func() {
		ctx, cancel := context.WithTimeout(base, disconnectTimeout)
		defer cancel()
		if err := hc.Close(ctx); err != nil {
			t.log.Warn("wstransport: hub disconnect failed", "conn", id, "err", err)
		}
	}

	hw, pg := &hijackWriter{ResponseWriter: w, t: t}, &pongs{}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{OriginPatterns: t.opts.OriginPatterns, OnPongReceived: pg.pong})
	if err != nil {
		// Accept has answered the request.
		t.log.Debug("wstransport: upgrade failed", "conn", id, "remote", r.RemoteAddr, "err", err)
		disconnect()
		return
	}
	ws.SetReadLimit(hd.readLimit)

	// Receive's context: canceled when the connection is aborted (ping or
	// write timeout, Shutdown deadline) or has ended.
	ctx, cancel := context.WithCancel(base)
	c := &conn{id: id, t: t, ws: ws, lc: hw.lc, cancel: cancel, helloWait: hd.hello}
	pg.conn = c // before the read loop starts: pongs come in there
	if err := t.register(c); err != nil {
		cancel()
		if errors.Is(err, errDuplicateID) {
			// The live connection registered after the check above.
			t.log.Error("wstransport: refusing connection", "conn", id, "err", err)
			ws.Close(websocket.StatusInternalError, "")
			return // the Hub's state for id belongs to the live connection
		}
		ws.Close(websocket.StatusCode(chatfly.CloseGoingAway), "server shutting down")
		disconnect()
		return
	}
	served = true
	go hd.serve(ctx, c, hc, disconnect)
}

// serve is the connection's goroutine: it runs the read loop, then ends
// the connection and calls the Hub's Disconnect.
func (hd *handler) serve(ctx context.Context, c *conn, hc hubConn, disconnect func()) {
	t, ws := hd.t, c.ws
	defer t.release()
	var readErr error
	panicked := true
	defer func() {
		// Also after a panic of the Hub: the connection must still end
		// cleanly and be disconnected, and the process survive.
		if panicked {
			p := recover()
			t.log.Error("wstransport: hub panicked", "conn", c.id, "panic", p, "stack", string(debug.Stack()))
			c.abort("hub panicked")
		}
		// Refuse new frames and stop the writer, unless it is closing
		// the connection on request (then it finishes its close
		// handshake).
		c.stopWriter()
		// Finish the close handshake if one is under way (read limit,
		// protocol error), or close: the client sees 1002 if it is
		// still there.
		ws.Close(websocket.StatusProtocolError, "")
		c.cancel()
		c.finish()
		t.unregister(c)
		logEnd(t, c, readErr)
		disconnect()
	}()
	readErr = hd.readLoop(ctx, c, hc)
	panicked = false
}

// readLoop passes each message to the Hub until reading fails. The read
// context has no Done channel, so coder/websocket arms no timer per read:
// reads end when the socket is closed (by the client, the writer, the
// keepalive goroutine or Shutdown).
func (hd *handler) readLoop(ctx context.Context, c *conn, hc hubConn) error {
	rctx := context.WithoutCancel(ctx)
	for {
		typ, data, err := c.ws.Read(rctx)
		if err != nil {
			return err
		}
		if c.isClosing() {
			// Closed by the Hub, Shutdown or the send queue: the Hub
			// gets no more frames from it, only its Disconnect.
			continue
		}
		if typ != websocket.MessageText {
			c.requestClose(websocket.StatusCode(chatfly.CloseUnsupported), "binary frames are not supported")
			continue
		}
		if err := hc.Receive(ctx, data); err != nil {
			hd.t.log.Debug("wstransport: hub receive failed", "conn", c.id, "err", err)
		}
	}
}

func logEnd(t *Transport, c *conn, err error) {
	switch {
	case errors.Is(err, websocket.ErrMessageTooBig):
		t.log.Info("wstransport: connection closed: message too big", "conn", c.id, "err", err)
	case websocket.CloseStatus(err) != -1:
		t.log.Debug("wstransport: connection closed", "conn", c.id, "code", int(websocket.CloseStatus(err)))
	default:
		t.log.Debug("wstransport: connection ended", "conn", c.id, "err", err)
	}
}

// refuse answers an upgrade request whose Connect failed with err.
func refuse(w http.ResponseWriter, err error) {
	ce := &chatfly.Error{Code: chatfly.ErrInternal.Code, Message: "connection refused"}
	errors.As(err, &ce)
	status := http.StatusForbidden
	switch ce.Code {
	case chatfly.ErrUnavailable.Code:
		w.Header().Set("Retry-After", "5")
		status = http.StatusServiceUnavailable
	case chatfly.ErrInternal.Code:
		status = http.StatusInternalServerError
	case chatfly.ErrTooMany.Code:
		status = http.StatusTooManyRequests
	}
	writeJSONError(w, status, ce.Code, ce.Message)
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// isUpgrade reports whether r asks for a WebSocket upgrade. The full
// handshake is checked by websocket.Accept; this only keeps plain HTTP
// requests away from the Hub.
func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// originAllowed applies the documented rules of
// websocket.AcceptOptions.OriginPatterns before the Hub is involved, so that
// a cross-origin page never reaches Connect. Accept checks again.
func originAllowed(r *http.Request, patterns []string) bool {
	return origin.Allowed(r.Header.Get("Origin"), r.Host, patterns)
}
