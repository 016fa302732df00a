package chatfly

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Hub is the chat engine. Host adapters feed it the events of their
// connections with Connect, Receive and Disconnect; it answers and fans out
// through its Transport. A Hub keeps no room, member or session state in
// memory: all of it lives in Storage, so many Hubs may share one Storage, and
// a Hub may live for a single Lambda invocation.
//
// A Hub is safe for concurrent use. Receive may be called concurrently for
// different connections; for one connection, host adapters call it in the
// order frames arrived.
type Hub struct {
	store    Storage
	tr       Transport
	bc       Broadcaster // tr, if it implements Broadcaster
	ht       HelloTimer  // tr, if it implements HelloTimer
	maxSend  int         // the transport's frame size limit, 0 if none
	matcher  Matcher
	games    map[string]Game // Options.Games by name
	opts     Options
	log      *slog.Logger
	rooms    map[string]RoomConfig // the default rooms of Options.Rooms
	handlers map[string]func(*call) error

	// gates order, per room and within this Hub, the steps whose order
	// members can observe (roomgate.go). They are queues, not state:
	// across Hubs, clients order by seq instead.
	gateMu sync.Mutex
	gates  map[string]*roomGate
	// dirMu serialises this Hub's admissions to the directory (see admit).
	dirMu sync.Mutex

	conns, sessions atomic.Int64 // the gauges of Stats
}

// New returns a Hub over store that writes through tr. A nil opts uses the
// defaults of [Options].
//
// New panics if opts.Secret is set but shorter than [MinSecretBytes], as
// net/http panics on an invalid pattern: a short secret is a configuration
// mistake that would let anyone forge resume tokens, and it is better found
// at start-up than in production. Programs that read the secret from
// configuration check it first with [CheckSecret].
func New(store Storage, tr Transport, opts *Options) *Hub {
	h := &Hub{store: store, tr: tr, opts: opts.withDefaults()}
	h.bc, _ = tr.(Broadcaster)
	h.ht, _ = tr.(HelloTimer)
	if sl, ok := tr.(SendLimiter); ok {
		h.maxSend = sl.MaxSendBytes()
	}
	h.log = h.opts.Logger
	if obs := h.opts.Observer; obs != nil {
		h.store = observed(store, obs)
		h.tr = observedTransport{tr, obs}
		if h.bc != nil {
			h.bc = observedBroadcaster{h.bc, obs}
		}
	}
	if len(h.opts.Secret) == 0 {
		h.opts.Secret = make([]byte, MinSecretBytes)
		_, _ = rand.Read(h.opts.Secret)
	} else if err := CheckSecret(h.opts.Secret); err != nil {
		panic(err.Error())
	} else {
		h.opts.Secret = bytes.Clone(h.opts.Secret) // the caller may reuse its slice
	}
	h.rooms = make(map[string]RoomConfig, len(h.opts.Rooms))
	for _, rc := range h.opts.Rooms {
		if rc.Name == "" {
			rc.Name = rc.ID
		}
		h.rooms[rc.ID] = rc
	}
	h.handlers = map[string]func(*call) error{
		"hello":     h.handleHello,
		"ping":      h.handlePing,
		"rooms":     h.handleRooms,
		"room.info": h.handleRoomInfo,
		"join":      h.handleJoin,
		"leave":     h.handleLeave,
		"send":      h.handleSend,
		"history":   h.handleHistory,
		"typing":    h.handleTyping,
	}
	h.registerRoomActions()
	h.registerActions()
	h.registerRoulette()
	h.registerGames()
	h.matcher = h.opts.Matcher
	if h.matcher == nil {
		h.matcher = NewMatcher(h.store, &MatcherOptions{Now: h.opts.Now})
	}
	return h
}

// MaxFrameBytes returns the largest client frame the Hub accepts; host
// adapters use it as their read limit.
func (h *Hub) MaxFrameBytes() int { return h.opts.MaxFrameBytes }

// HelloTimeout returns how long a new connection may take to say hello
// (Options.HelloTimeout); host adapters that own their sockets close the
// ones that take longer (see [HelloTimer]).
func (h *Hub) HelloTimeout() time.Duration { return h.opts.HelloTimeout }

// lateReplyTimeout bounds the sending of an error reply once the frame's own
// deadline (Options.StorageTimeout) has passed.
const lateReplyTimeout = 2 * time.Second

// connRecord is what Storage holds about one connection.
type connRecord struct {
	Session string `json:"s,omitempty"` // set by hello
	Name    string `json:"n,omitempty"`
	User    string `json:"u,omitempty"` // verified user id from Identify
	Addr    string `json:"a,omitempty"`
}

// call is the context of one client frame being handled.
type call struct {
	ctx    context.Context
	connID string
	conn   connRecord
	ver    int64     // version of the connection item
	exp    time.Time // expiry of the connection item
	hc     *Conn     // the connection's handle, nil in Hub.Receive
	f      *inFrame
	raw    []byte // the frame as received, for peekID before it is decoded
	now    time.Time
	// server marks the application's own calls (the admin API of
	// admin.go): no connection, no session, every permission.
	server bool
	obs    *frameObs // nil without an Observer
	code   string    // the error code answered, "" if none
}

// actor is who a room event names as having acted: nil for the
// application.
func (c *call) actor(by Member) *Member {
	if c.server {
		return nil
	}
	return &by
}

func (c *call) session() *session {
	return &session{id: c.conn.Session, name: c.conn.Name, user: c.conn.User, conn: c.connID, addr: c.conn.Addr}
}

func (c *call) member() Member { return Member{ID: c.conn.Session, Name: c.conn.Name} }

// Connect registers a new connection. It runs the Identify hook; if that
// rejects the connection, Connect returns its error and stores nothing, and
// the host adapter must refuse the connection: the hook's *Error if it
// returned one, else [ErrRejected] with its generic message (the hook's text
// is logged, not sent). An error wrapping
// [ErrUnavailable] means the storage failed or took longer than
// Options.StorageTimeout. The connection's record expires after
// Options.HelloTimeout unless the connection says hello.
//
// A host adapter that serves the connection for its whole life in this
// process uses [Hub.Open] instead.
func (h *Hub) Connect(ctx context.Context, req *ConnectRequest) error {
	_, err := h.Open(ctx, req)
	return err
}

// connect stores the record of a new connection and returns its handle.
func (h *Hub) connect(ctx context.Context, req *ConnectRequest) (*Conn, error) {
	if req == nil || req.ConnID == "" {
		return nil, Errorf(ErrBadRequest, "connect request without a connection id")
	}
	rec := connRecord{Addr: req.RemoteAddr}
	if h.opts.Identify != nil {
		id, err := h.opts.Identify(ctx, req)
		if err != nil {
			return nil, h.publicError(ctx, "Identify", err, ErrRejected, "conn", req.ConnID)
		}
		if id != nil {
			name, err := CleanName(id.Name, h.opts.MaxNameRunes)
			if err != nil || id.UserID == "" {
				return nil, Errorf(ErrRejected, "the identity hook returned an invalid identity")
			}
			rec.User, rec.Name = id.UserID, name
		}
	}
	exp := h.opts.Now().Add(h.opts.HelloTimeout)
	if err := h.admitConn(ctx, req.ConnID, rec.Addr, exp); err != nil {
		return nil, err
	}
	ver, err := h.store.Put(ctx, Item{Key: connKey(req.ConnID), Value: mustJSON(rec), Expires: exp}, Always)
	if err != nil {
		_ = h.releaseAddr(ctx, req.ConnID, rec)
		return nil, err
	}
	return &Conn{h: h, id: req.ConnID, rec: rec, ver: ver, exp: exp}, nil
}

// Receive handles one frame read from connection connID. Protocol errors
// (malformed frames, bad input, limits, refusals by the application's hooks)
// are answered to the client with an error frame and Receive returns nil; a
// non-nil error means the Hub could not do its work. It wraps
// [ErrUnavailable] when Storage was unavailable or took longer than
// Options.StorageTimeout (the client may retry), and is any other error for
// an internal failure. Either has been logged at level Error, with the
// connection, session, action and room of the frame as attributes, and
// answered with an "unavailable" or "internal" error frame carrying the
// frame's id.
//
// A frame is first counted against the rate limit of its connection, with
// two storage calls issued at once: the read of the connection's record and
// the counter's increment. A frame over the limit goes no further (see
// RateLimit.CloseAfter). [Conn.Receive] needs neither call.
func (h *Hub) Receive(ctx context.Context, connID string, frame []byte) error {
	return h.handleFrame(ctx, &call{connID: connID, raw: frame})
}

// handleFrame handles the frame of c (Receive and Conn.Receive) within
// Options.StorageTimeout, observed.
func (h *Hub) handleFrame(ctx context.Context, c *call) error {
	ctx, cancel := context.WithTimeout(ctx, h.opts.StorageTimeout)
	defer cancel()
	c.ctx, c.now = ctx, h.opts.Now()
	if c.ctx, c.obs = h.observeStart(ctx, "", c.connID); c.obs != nil {
		defer func() { h.observeEnd(c.ctx, c.obs, c.code) }()
	}
	return h.receive(c)
}

// receive is Receive's work on the frame of c.
func (h *Hub) receive(c *call) error {
	if done, err := h.prelude(c); done {
		return err
	}
	frame := c.raw
	if len(frame) > h.opts.MaxFrameBytes {
		return h.replyError(c, nil, Errorf(ErrTooLarge, "frame is larger than "+itoa(int64(h.opts.MaxFrameBytes))+" bytes"))
	}
	f, perr := decodeFrame(frame)
	if perr != nil {
		return h.replyError(c, f, perr)
	}
	c.f = f
	handler := h.handlers[f.Action]
	if c.obs != nil && handler != nil {
		c.obs.action, c.obs.room = f.Action, f.Room
	}
	switch {
	case handler == nil:
		return h.replyError(c, f, Errorf(ErrUnknownAction, "unknown action "+quote(f.Action)))
	case c.conn.Session == "" && f.Action != "hello":
		return h.replyError(c, f, ErrHelloRequired)
	}
	if h.refreshDue(c) {
		if err := h.touch(c); errors.Is(err, errStateLost) {
			return h.lost(c)
		}
	}
	before := c.conn.Session
	if err := handler(c); errors.Is(err, errStateLost) {
		return h.lost(c)
	} else if err != nil {
		return h.replyError(c, f, err)
	}
	if before == "" && c.conn.Session != "" {
		h.sessions.Add(1)
		if h.ht != nil {
			h.ht.SaidHello(c.connID) // hello was accepted: no more hello deadline
		}
	}
	return nil
}

// prelude finds the connection's record and counts the frame against the
// rate limit, and reports whether the frame goes no further (then with
// the error to return). With a handle (c.hc) both are in memory; without,
// the record is read and the connection's counter in Storage incremented
// at once (the counter is keyed by the connection, which is known before
// the read, and not by its session: see RateLimit).
func (h *Hub) prelude(c *call) (bool, error) {
	var n int64 // the frame's number in its window
	if c.hc != nil {
		if Expired(c.exp, c.now) {
			return true, h.lost(c) // presence lost, or no hello in time
		}
		n = c.hc.count(c.now, h.opts.RateLimit)
	} else {
		var item Item
		var getErr, addErr error
		calls := 1
		if h.opts.RateLimit.Count >= 0 {
			calls = 2
		}
		_ = each(calls, func(i int) error {
			if i == 0 {
				item, getErr = h.store.Get(c.ctx, connKey(c.connID))
			} else {
				n, addErr = h.countStored(c)
			}
			return nil
		})
		switch {
		case errors.Is(getErr, ErrNotFound):
			return true, h.lost(c)
		case getErr != nil:
			return true, h.fail(c, getErr)
		case addErr != nil:
			return true, h.fail(c, addErr)
		}
		if err := json.Unmarshal(item.Value, &c.conn); err != nil {
			return true, h.fail(c, err)
		}
		c.ver, c.exp = item.Version, item.Expires
	}
	return h.overLimit(c, n), nil
}

// errStateLost is returned by the work on a frame that found the
// connection's record gone: the connection is closed (see lost).
var errStateLost = errors.New("chatfly: connection state lost")

// lost closes c's connection, whose state in Storage is gone: it expired
// (no hello within HelloTimeout, or presence lost), was deleted (another
// Hub found the connection gone) or was never created. The client must
// start over; it resumes its identity with its token.
func (h *Hub) lost(c *call) error {
	c.code = ErrGone.Code
	return h.tr.Close(c.ctx, c.connID, CloseGoingAway, "session state lost, reconnect")
}

// countStored counts the frame of c in its connection's rate counter in
// Storage, which holds across Hubs (on API Gateway, the frames of one
// connection reach many Lambda invocations), and returns the frame's
// number in its window.
func (h *Hub) countStored(c *call) (int64, error) {
	rl := h.opts.RateLimit
	w := c.now.UnixNano() / int64(rl.Window)
	return h.store.Add(c.ctx, Key{Partition: "rate#c:" + c.connID, Sort: itoa(w)}, 1, time.Unix(0, (w+2)*int64(rl.Window)))
}

// overLimit decides on the frame of c, the n-th of its connection in the
// current window of the rate limit (counted by countStored or Conn.count).
// A frame over the limit is shed as cheaply as possible, and overLimit
// returns true: it is not decoded, only the first one of a window is
// answered (rate_limited, with the id found by peekID), and past
// RateLimit.CloseAfter the connection is closed with ClosePolicy.
func (h *Hub) overLimit(c *call, n int64) bool {
	rl := h.opts.RateLimit
	over := n - int64(rl.Count)
	if rl.Count < 0 || over <= 0 {
		return false
	}
	c.code = ErrRateLimited.Code
	switch {
	case rl.CloseAfter >= 0 && over > int64(rl.CloseAfter):
		if over == int64(rl.CloseAfter)+1 {
			h.log.InfoContext(c.ctx, "chatfly: closing a connection that kept flooding", "conn", c.connID, "session", c.conn.Session)
		}
		if err := h.tr.Close(c.ctx, c.connID, ClosePolicy, "rate limit exceeded"); err != nil {
			h.log.DebugContext(c.ctx, "chatfly: closing a flooding connection", "conn", c.connID, "err", err)
		}
	case over == 1:
		h.reply(c, errorFrameFor(peekID(c.raw), Errorf(ErrRateLimited,
			"more than "+itoa(int64(rl.Count))+" frames in "+rl.Window.String()+": frames are dropped until the window ends")))
	}
	return true
}

// Disconnect removes a connection: its session leaves every room it was in
// (others see it leave). It is idempotent.
//
// Host adapters call it once for every connection that Connect accepted:
// that is what [Hub.Stats] counts.
func (h *Hub) Disconnect(ctx context.Context, connID string) error {
	return h.ended(ctx, connID, func(ctx context.Context) (bool, error) { return h.disconnect(ctx, connID) })
}

// ended does the work of Disconnect or Conn.Close: the connection's
// removal, within Options.StorageTimeout, observed.
func (h *Hub) ended(ctx context.Context, connID string, remove func(context.Context) (bool, error)) error {
	h.conns.Add(-1)
	ctx, cancel := context.WithTimeout(ctx, h.opts.StorageTimeout)
	defer cancel()
	ctx, fo := h.observeStart(ctx, ActionDisconnect, connID)
	_, err := remove(ctx)
	err = timedOut(ctx, err)
	h.observeEnd(ctx, fo, errCode(err))
	return err
}

// dropConn removes the state of a connection that the transport reported
// gone; its host adapter calls Disconnect later. It reports whether the
// connection's record was still there.
func (h *Hub) dropConn(ctx context.Context, connID string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, h.opts.StorageTimeout)
	defer cancel()
	found, err := h.disconnect(ctx, connID)
	return found, timedOut(ctx, err)
}

// replyError answers a frame with an error. Internal errors are logged and
// sent without their details.
func (h *Hub) replyError(c *call, f *inFrame, err error) error {
	var id json.RawMessage
	if f != nil {
		id = f.ID
	}
	var e *Error
	if !errors.As(err, &e) || errors.Is(err, ErrConflict) || errors.Is(err, ErrGone) || c.ctx.Err() != nil {
		return h.fail(c, err) // past the deadline, the outcome is unknown: unavailable
	}
	c.code = e.Code
	h.reply(c, errorFrameFor(id, e))
	return nil
}

// fail logs an unexpected error and tells the client, with the frame's id
// (found by peekID if the frame was not decoded yet).
func (h *Hub) fail(c *call, err error) error {
	err = timedOut(c.ctx, err)
	h.log.ErrorContext(c.ctx, "chatfly: handling frame", append(c.attrs(), "err", err)...)
	code := ErrInternal
	if errors.Is(err, ErrUnavailable) {
		code = ErrUnavailable
	}
	c.code = code.Code
	var id json.RawMessage
	if c.f != nil {
		id = c.f.ID
	} else if c.raw != nil {
		id = peekID(c.raw)
	}
	h.reply(c, errorFrameFor(id, code))
	return err
}

// timedOut marks an error caused by the end of the Hub's deadline
// (Options.StorageTimeout) as ErrUnavailable: the client may retry.
func timedOut(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return fmt.Errorf("%w: storage did not answer in time: %w", ErrUnavailable, err)
	}
	return err
}

// reply sends a frame to the connection that sent the frame being handled.
// Once the frame's deadline has passed, it still sends, with a short
// deadline of its own.
func (h *Hub) reply(c *call, frame []byte) {
	if c.server {
		return // the application's own call: its result is returned
	}
	ctx := c.ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), lateReplyTimeout)
		defer cancel()
	}
	if err := h.tr.Send(ctx, c.connID, frame); err != nil && !errors.Is(err, ErrGone) {
		h.log.WarnContext(ctx, "chatfly: reply", "conn", c.connID, "err", err)
	}
}

// session implements Session.
type session struct{ id, name, user, conn, addr string }

func (s *session) ID() string         { return s.id }
func (s *session) Name() string       { return s.name }
func (s *session) UserID() string     { return s.user }
func (s *session) ConnID() string     { return s.conn }
func (s *session) RemoteAddr() string { return s.addr }

// userSession is the session id of a verified user: derived from the user
// id, so the user's roles and bans follow them, and keyed with the Hub's
// secret (HMAC-SHA256), so that a public session id does not reveal the
// application's user id: an unkeyed hash of a guessable id is reversed by
// trying ids. The id changes with the secret: see [Options.Secret].
func (h *Hub) userSession(user string) string {
	m := hmac.New(sha256.New, h.opts.Secret)
	m.Write([]byte("chatfly-user\x00" + user)) // a NUL never occurs in a token payload
	return "u" + b64.EncodeToString(m.Sum(nil)[:16])
}
