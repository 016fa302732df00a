package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/chatfly/chatfly"
)

// ProtocolVersion is the version of the wire protocol this client speaks.
// [Dial] fails if the server's welcome announces another.
const ProtocolVersion = 1

// Defaults of [Options].
const (
	// DefaultEventBuffer is the capacity of the [Client.Events] channel.
	DefaultEventBuffer = 1024
	// DefaultReadLimit is the largest server frame accepted, in bytes. A
	// joined reply with 50 long messages can approach 400 KiB.
	DefaultReadLimit = 1 << 20
	// DefaultPingInterval is how often the client sends the ping action to
	// keep its presence alive (PROTOCOL.md: every 5 minutes).
	DefaultPingInterval = 5 * time.Minute
	// DefaultWriteTimeout bounds the write of one frame to the socket.
	DefaultWriteTimeout = 10 * time.Second
)

// Options configures [Dial]. A nil *Options, and every zero field, means the
// documented default. Dial does not modify or retain the Options.
type Options struct {
	// Name is the display name sent in hello for an anonymous session.
	Name string
	// Token is a resume token from an earlier [Welcome]: the session
	// resumes with the same id and name. If the server answers
	// invalid_token and Name is set, Dial sends hello again with Name on
	// the same connection; otherwise Dial fails with the
	// chatfly.ErrInvalidToken error. With neither Name nor Token, hello
	// carries neither (for servers whose identity hook names the user).
	Token string

	// HTTPHeader holds extra headers for the upgrade request (cookies,
	// authorization for the identity hook).
	HTTPHeader http.Header
	// HTTPClient performs the upgrade request. Default: http.DefaultClient.
	HTTPClient *http.Client

	// EventBuffer is the capacity of the [Client.Events] channel. Default
	// DefaultEventBuffer. The buffer is allocated up front, about 200 bytes
	// per slot: a load generator with many clients may want less.
	EventBuffer int
	// ReadLimit is the largest server frame accepted, in bytes; a larger one
	// ends the connection with close code 1009. Default DefaultReadLimit;
	// negative means no limit.
	ReadLimit int64
	// WriteTimeout bounds the write of one frame to the socket. A write
	// that takes longer means the server stopped reading; the connection is
	// then closed (Err reports a CloseError with code 1006). A call's
	// context bounds the wait for the reply, not this write. Default
	// DefaultWriteTimeout; negative means no limit.
	WriteTimeout time.Duration
	// PingInterval is how often the client sends the ping action that keeps
	// its presence alive in the server's storage. Default
	// DefaultPingInterval; negative disables it.
	PingInterval time.Duration
	// NoGapFill turns off gap filling. By default, in every room joined
	// with [Client.Join], a message whose seq is more than the last seen
	// plus one (one that a cluster's relay lost came before it) makes the
	// client fetch the missing messages with history, and deliver them and
	// the room's messages that came meanwhile on Events in seq order (a
	// fill waits at most 10 seconds for history; a gap of more than 1,000
	// messages is filled with its latest 1,000). Load tools that count lost
	// messages turn it off.
	NoGapFill bool
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.EventBuffer <= 0 {
		d.EventBuffer = DefaultEventBuffer
	}
	if d.ReadLimit == 0 {
		d.ReadLimit = DefaultReadLimit
	}
	if d.WriteTimeout == 0 {
		d.WriteTimeout = DefaultWriteTimeout
	}
	if d.PingInterval == 0 {
		d.PingInterval = DefaultPingInterval
	}
	return d
}

// Welcome is the server's answer to hello.
type Welcome struct {
	// Session is the session id, stable across resumes.
	Session string `json:"session"`
	// Name is the display name the server accepted (trimmed, or the
	// application's name for a verified user).
	Name string `json:"name"`
	// Token is the resume token: pass it as Options.Token to be the same
	// session on a later connection. Empty for verified users.
	Token string `json:"token"`
	// User is the verified user id, when the application's identity hook
	// verified the connection.
	User string `json:"user"`
	// Protocol is the protocol version, ProtocolVersion.
	Protocol int `json:"protocol"`
}

// Client is one connection to a chatfly server, past hello.
//
// A Client is safe for concurrent use: any number of goroutines may call
// its methods at once, and each request is matched to its own reply by id.
// One goroutine reads the connection; it decodes every server line and
// either hands it to the call waiting for it or puts it on [Client.Events].
// That goroutine ends, and [Client.Events] is closed, when the connection
// ends; [Client.Close] must still be called to release everything.
//
// The methods that wait for a reply (Rooms, Join, Leave, Send, History,
// Ping, Do) return when the reply arrives, when ctx ends (with ctx.Err(); a
// reply that comes later is put on Events with its ID set), or when the
// connection ends (with [Client.Err]). An error frame from the server is
// returned as a *[chatfly.Error] with the server's code and message, so
// errors.Is(err, chatfly.ErrNotMember) and the like work. ctx bounds the
// wait for other writers and for the reply, but not the write of the frame
// itself, which Options.WriteTimeout bounds: a cancelled call never breaks
// the connection.
type Client struct {
	conn    *websocket.Conn
	welcome Welcome
	events  chan Event
	nextID  atomic.Int64

	mu      sync.Mutex
	pending map[int64]chan<- reply // nil once the connection ended
	err     error                  // why the connection ended
	code    int                    // the close code that ended it

	done      chan struct{} // closed when the read loop has ended
	closing   chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error
	notice    *CloseError   // from a "close" frame, which wins over the socket's code
	writing   chan struct{} // a one-slot semaphore held while writing
	wguard    writeGuard

	ping keepalive
	rl   asker
	gaps *gapFiller // nil with Options.NoGapFill
}

// reply is what the read loop hands to a waiting call.
type reply struct {
	ev            Event
	code, message string // of an error frame
}

// Dial connects to the chatfly server at url (ws://, wss://, http:// or
// https://), sends hello and waits for the welcome.
//
// If the server refuses the upgrade, the error is a *[HandshakeError]; when
// the response carries {"code","message"} (HTTP 403 from the identity
// hook), it also matches that code: errors.Is(err, chatfly.ErrRejected). If
// the server answers hello with an error frame, the error is that
// *[chatfly.Error] (errors.Is(err, chatfly.ErrInvalidName), ...), and the
// connection is closed. ctx bounds the whole handshake; it does not affect
// the returned Client.
func Dial(ctx context.Context, url string, opts *Options) (*Client, error) {
	o := opts.withDefaults()
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient: o.HTTPClient,
		HTTPHeader: o.HTTPHeader,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, handshakeError(resp, err)
		}
		return nil, fmt.Errorf("chatfly/client: dial: %w", err)
	}
	conn.SetReadLimit(o.ReadLimit)
	c := &Client{
		conn:    conn,
		events:  make(chan Event, o.EventBuffer),
		pending: make(map[int64]chan<- reply),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
		writing: make(chan struct{}, 1),
	}
	c.wguard.init(o.WriteTimeout, func() { conn.CloseNow() })
	if !o.NoGapFill {
		c.gaps = new(gapFiller)
		c.gaps.init()
	}
	go c.readLoop()
	w, err := c.hello(ctx, &o)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.welcome = w
	if o.PingInterval > 0 {
		c.ping.start(c, o.PingInterval)
	}
	return c, nil
}

func handshakeError(resp *http.Response, err error) error {
	he := &HandshakeError{StatusCode: resp.StatusCode, Header: resp.Header, Err: err}
	if resp.Body != nil {
		he.Body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	}
	var body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(he.Body, &body) == nil && body.Code != "" {
		he.Err = &chatfly.Error{Code: body.Code, Message: body.Message}
	}
	return he
}

func (c *Client) hello(ctx context.Context, o *Options) (Welcome, error) {
	if o.Token != "" {
		w, err := c.helloWith(ctx, "token", o.Token)
		if err == nil || o.Name == "" || !errors.Is(err, chatfly.ErrInvalidToken) {
			return w, err
		}
	}
	if o.Name != "" {
		return c.helloWith(ctx, "name", o.Name)
	}
	return c.helloWith(ctx, "", "")
}

func (c *Client) helloWith(ctx context.Context, key, value string) (Welcome, error) {
	f, id := c.frame("hello")
	if key != "" {
		f.str(key, value)
	}
	var w Welcome
	ev, err := c.call(ctx, id, f, "welcome")
	if err != nil {
		return w, err
	}
	if err := json.Unmarshal(ev.Raw, &w); err != nil {
		return w, fmt.Errorf("chatfly/client: bad welcome: %w", err)
	}
	if w.Protocol != ProtocolVersion {
		return w, fmt.Errorf("chatfly/client: server speaks protocol %d, this client %d", w.Protocol, ProtocolVersion)
	}
	return w, nil
}

// Welcome returns the server's welcome: the session id, name, resume token,
// verified user and protocol version. It is safe to call at any time.
func (c *Client) Welcome() Welcome { return c.welcome }

// Events returns the channel of events: every server line that is not the
// reply to a waiting call (see [Event]), in the order received. It is
// closed when the connection ends; [Client.Err] then reports why.
//
// The channel has Options.EventBuffer slots. When it is full, the client
// stops reading the connection until the consumer catches up: replies
// wait too, and a server whose send queue for this connection overflows
// closes it with 4000 (too slow). That backpressure is deliberate; a
// consumer that cannot keep up should reconnect and join with "after" to
// catch up. Do not wait for a call's reply in the only goroutine that drains
// Events while the buffer may be full: the reply is queued behind the
// events, so the call would wait until its context ends.
func (c *Client) Events() <-chan Event { return c.events }

// Done returns a channel that is closed when the connection has ended, at
// the same time as [Client.Events].
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while the connection is open. Once it has ended (Events
// closed), it returns why: [ErrClosed] after [Client.Close], or a
// *[CloseError] with the close code (1001, 1009, 4000, 4001, ... from the
// server; 1006 for a broken connection).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// CloseCode returns the WebSocket close code that ended the connection
// (1000 after [Client.Close]; see [CloseError] for the others), or 0 while
// it is open.
func (c *Client) CloseCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

// Close closes the connection with close code 1000 and waits until the
// client's goroutines have ended. Calls in progress return [ErrClosed], and
// [Client.Events] is closed (events still buffered can be drained). Close
// is idempotent and safe to call concurrently; call it even after the
// server ended the connection. It returns an error only if the closing
// handshake failed; it may wait up to 5 seconds for an unresponsive server.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.closing)
		err := c.conn.Close(websocket.StatusNormalClosure, "")
		<-c.done
		if c.gaps != nil {
			c.gaps.fills.Wait()
		}
		c.ping.stop()
		c.rl.stop()
		c.wguard.stop()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			c.closeErr = fmt.Errorf("chatfly/client: close: %w", err)
		}
	})
	return c.closeErr
}

// write writes one frame. ctx bounds the wait for other writers; the
// write itself is bounded by Options.WriteTimeout, not by ctx: the
// WebSocket library closes the connection when a write's context ends, even
// an instant after the frame went out, so a cancelled call would break the
// connection for everyone.
func (c *Client) write(ctx context.Context, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case c.writing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closing:
		return ErrClosed
	case <-c.done:
		return c.Err()
	}
	c.wguard.begin()
	err := c.conn.Write(context.Background(), websocket.MessageText, b)
	c.wguard.end()
	<-c.writing
	if err == nil {
		return nil
	}
	select {
	case <-c.closing:
		return ErrClosed
	case <-c.done:
		return c.Err()
	default:
	}
	if c.wguard.expired.Load() {
		return ErrWriteTimeout
	}
	return fmt.Errorf("chatfly/client: write: %w", err)
}

// frame starts a frame for action with a fresh id.
func (c *Client) frame(action string) (*frame, int64) {
	id := c.nextID.Add(1)
	return newFrame(action, id), id
}

// roundTrip sends f, which carries id, and waits for the reply with that
// id. It releases f. An error frame is returned as a *chatfly.Error.
func (c *Client) roundTrip(ctx context.Context, id int64, f *frame) (Event, error) {
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.pending == nil {
		err := c.err
		c.mu.Unlock()
		f.release()
		return Event{}, err
	}
	c.pending[id] = ch
	c.mu.Unlock()

	err := c.write(ctx, f.bytes())
	f.release()
	if err != nil {
		c.forget(id)
		return Event{}, err
	}
	var r reply
	select {
	case r = <-ch:
	case <-ctx.Done():
		c.forget(id)
		return Event{}, ctx.Err()
	case <-c.done:
		select {
		case r = <-ch:
		default:
			return Event{}, c.Err()
		}
	}
	if r.ev.Type == "error" {
		return r.ev, &chatfly.Error{Code: r.code, Message: r.message}
	}
	return r.ev, nil
}

// call is roundTrip that also checks the reply's type.
func (c *Client) call(ctx context.Context, id int64, f *frame, want string) (Event, error) {
	ev, err := c.roundTrip(ctx, id, f)
	if err == nil && ev.Type != want {
		err = fmt.Errorf("chatfly/client: got reply %q, want %q", ev.Type, want)
	}
	return ev, err
}

func (c *Client) forget(id int64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// deliver hands a reply to the call waiting for its id. It reports false
// if no call is waiting.
func (c *Client) deliver(m *lineMeta, ev Event) bool {
	id, ok := parseID(m.id)
	if !ok {
		return false
	}
	c.mu.Lock()
	ch, ok := c.pending[id]
	if ok {
		delete(c.pending, id)
	}
	c.mu.Unlock()
	if ok {
		ch <- reply{ev: ev, code: m.code, message: m.message} // buffered: never blocks
	}
	return ok
}

// parseID parses an id token that the client may have sent: a positive
// integer, echoed as a number or (leniently) as a string of digits.
func parseID(tok []byte) (int64, bool) {
	if len(tok) >= 2 && tok[0] == '"' && tok[len(tok)-1] == '"' {
		tok = tok[1 : len(tok)-1]
	}
	if len(tok) == 0 || len(tok) > 18 {
		return 0, false
	}
	var n int64
	for _, d := range tok {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, n > 0
}

// shrinkAbove is the read buffer capacity beyond which the read loop drops
// the buffer after a large frame instead of keeping it.
const shrinkAbove = 256 << 10

func (c *Client) readLoop() {
	var buf bytes.Buffer
	in := newInterner()
	err := func() error {
		for {
			select {
			case <-c.closing:
				return ErrClosed
			default:
			}
			typ, r, err := c.conn.Reader(context.Background())
			if err != nil {
				return err
			}
			buf.Reset()
			if _, err := buf.ReadFrom(r); err != nil {
				return err
			}
			if typ != websocket.MessageText {
				return c.violation(CloseUnsupportedData, "binary frame", errors.New("server sent a binary frame"))
			}
			// The frame is copied out of the reused buffer: events keep
			// slices of it (Raw, ID) and are read by other goroutines.
			if err := c.dispatch(bytes.Clone(buf.Bytes()), in); err != nil {
				return err
			}
			if buf.Cap() > shrinkAbove {
				buf = bytes.Buffer{}
			}
		}
	}()
	c.end(err)
}

// dispatch splits a frame into lines and routes each: replies to their
// calls, everything else to Events.
func (c *Client) dispatch(frame []byte, in *interner) error {
	for len(frame) > 0 {
		var line []byte
		if i := bytes.IndexByte(frame, '\n'); i >= 0 {
			line, frame = frame[:i:i], frame[i+1:]
		} else {
			line, frame = frame[:len(frame):len(frame)], nil
		}
		if isBlank(line) {
			continue
		}
		var ev Event
		var m lineMeta
		if err := decodeLine(line, &ev, &m, in); err != nil {
			return c.violation(CloseProtocolError, "invalid JSON from server", fmt.Errorf("bad line %q: %w", truncate(line), err))
		}
		if ev.Type == "" {
			return c.violation(CloseProtocolError, "frame without type", fmt.Errorf("line without type: %q", truncate(line)))
		}
		ev.Raw = line
		if c.rl.observe(c, &m, &ev) {
			continue
		}
		if ev.Type == "close" {
			// A host that cannot send a close code (API Gateway closes with
			// 1000 whatever happened) announces it in a frame first.
			var n struct {
				Code   int    `json:"code"`
				Reason string `json:"reason"`
			}
			if json.Unmarshal(line, &n) == nil && n.Code > 0 {
				c.mu.Lock()
				c.notice = &CloseError{Code: n.Code, Reason: n.Reason, Remote: true}
				c.mu.Unlock()
			}
		}
		if c.gaps != nil && !c.trackSeq(&m, ev) {
			continue
		}
		if m.id != nil {
			if c.deliver(&m, ev) {
				continue
			}
			ev.ID = m.id
		}
		select {
		case c.events <- ev:
		case <-c.closing:
			return ErrClosed
		}
	}
	return nil
}

// trackSeq feeds the gap filler: joined and left replies start and end the
// tracking of a room, and a message reports whether to deliver it now.
func (c *Client) trackSeq(m *lineMeta, ev Event) bool {
	switch ev.Type {
	case "joined":
		c.gaps.joined(ev.Raw)
	case "left":
		c.gaps.left(ev.Room)
	case "message":
		return m.id != nil || ev.Seq <= 0 || c.gaps.admit(c, ev)
	}
	return true
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

func truncate(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// violation closes the connection because the server broke the protocol.
func (c *Client) violation(code int, reason string, err error) error {
	c.conn.Close(websocket.StatusCode(code), reason)
	return &CloseError{Code: code, Reason: reason, Err: err}
}

// end records why the connection ended, fails the waiting calls and closes
// Events. Only the read loop calls it, once.
func (c *Client) end(err error) {
	var (
		closing bool
		wsErr   websocket.CloseError
		ours    *CloseError
		code    int
	)
	select {
	case <-c.closing:
		closing = true
	default:
	}
	c.mu.Lock()
	notice := c.notice
	c.mu.Unlock()
	switch {
	case notice != nil && !closing:
		code, err = notice.Code, notice
	case errors.As(err, &wsErr) && !(closing && wsErr.Code == websocket.StatusNormalClosure):
		code = int(wsErr.Code)
		err = &CloseError{Code: code, Reason: wsErr.Reason, Remote: true}
	case closing:
		code, err = int(websocket.StatusNormalClosure), ErrClosed
	case errors.As(err, &ours):
		code = ours.Code
	case errors.Is(err, websocket.ErrMessageTooBig):
		code = CloseMessageTooBig
		err = &CloseError{Code: code, Reason: "frame larger than the read limit", Err: err}
		// The library sent the close frame; finish the handshake.
		c.conn.Close(websocket.StatusMessageTooBig, "")
	case c.wguard.expired.Load():
		code = CloseAbnormal
		err = &CloseError{Code: code, Err: ErrWriteTimeout}
	default:
		code = CloseAbnormal
		err = &CloseError{Code: code, Err: err}
	}
	if !closing {
		c.conn.CloseNow() // release the socket; a no-op if already closed
	}
	c.mu.Lock()
	c.err, c.code = err, code
	c.pending = nil
	c.mu.Unlock()
	c.ping.halt()
	c.rl.halt()
	if c.gaps != nil {
		c.gaps.end()
	}
	close(c.events)
	close(c.done)
}
