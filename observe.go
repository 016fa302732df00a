package chatfly

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Observer is told what a Hub does, for metrics, logs or traces
// (chatfly/observe/promexporter exports it to Prometheus,
// chatfly/observe/emflog logs it as CloudWatch metrics). Set it in [Options.Observer]; a nil Observer costs nothing.
//
// Its methods are called synchronously by the goroutines that do the work,
// concurrently: they must be safe for concurrent use, fast, and must not
// block or call the Hub. More callbacks will come as optional interfaces
// that an Observer implements, discovered by type assertion, so that
// existing Observers keep compiling.
type Observer interface {
	// Frame is called once for every frame handled by Hub.Receive, once
	// for every Hub.Connect and once for every Hub.Disconnect, when the
	// Hub is done with it.
	Frame(ctx context.Context, f FrameStats)
	// Failure is called once for every call to the Storage or the
	// Transport that failed. Expected outcomes are not failures: a
	// missing item (ErrNotFound), a failed condition (ErrConflict) and a
	// connection that is gone (ErrGone).
	Failure(ctx context.Context, f Failure)
}

// The actions of [FrameStats] that are not a client frame.
const (
	// ActionConnect is the action of [Hub.Connect].
	ActionConnect = "$connect"
	// ActionDisconnect is the action of [Hub.Disconnect].
	ActionDisconnect = "$disconnect"
)

// FrameStats describes one frame handled by the Hub (or one Connect or
// Disconnect).
type FrameStats struct {
	// Action is the frame's action, one of those the Hub knows;
	// ActionConnect or ActionDisconnect; or "" for a frame that was not
	// decoded (dropped by the rate limit, too large, not JSON) or whose
	// action is unknown. As it never holds a client's arbitrary text, it
	// can label metrics.
	Action string
	// Room is the room the frame names, if any. Anyone can create rooms:
	// do not use it as a metric label.
	Room string
	// ConnID is the connection's id.
	ConnID string
	// Code is the error code the client was answered with (see
	// PROTOCOL.md), or "" on success. A Connect or Disconnect that failed
	// has the code of its error ([CodeOf]).
	Code string
	// Duration is how long the Hub worked on the frame, measured with
	// the wall clock (not Options.Now).
	Duration time.Duration
	// StorageCalls is how many Storage calls the work made (a Scan, a
	// GetMany or a WriteMany counts as one); calls made after the frame was
	// done, by work it started, are not included.
	StorageCalls int
}

// Failure describes one failed call to the Storage or the Transport.
type Failure struct {
	// Op is the operation: "storage.Get", "storage.Put",
	// "storage.Delete", "storage.Query", "storage.Add", "storage.Scan",
	// "storage.GetMany", "storage.WriteMany", "storage.Touch",
	// "transport.Send", "transport.SendMany" or "transport.Close".
	Op string
	// Action and Room are those of the frame being handled when the
	// failure happened (see [FrameStats]), or "" outside of one.
	Action, Room string
	// ConnID is the connection whose frame was being handled, or for a
	// transport failure the connection written to (for SendMany: the
	// frame's).
	ConnID string
	// Err is the error.
	Err error
}

// Stats are gauges of what this Hub serves, read with [Hub.Stats]. They are
// counted by this Hub from the calls it gets, without reading Storage, so
// they are per process: the sum over the Hubs of a cluster is the
// cluster's. On API Gateway, where the Connect and the Disconnect of a
// connection usually run in different Lambda invocations, they mean
// nothing.
type Stats struct {
	// Connections is the number of connections open: successful
	// Connects minus Disconnects.
	Connections int64
	// Sessions is the number of connections that said hello and have
	// not disconnected. A connection whose state expired while it was
	// open (no frame for Options.PresenceTTL) is counted until its
	// process restarts.
	Sessions int64
}

// Stats returns the gauges of the connections this Hub serves. It is cheap
// (two atomic loads) and safe for concurrent use.
func (h *Hub) Stats() Stats {
	return Stats{Connections: h.conns.Load(), Sessions: h.sessions.Load()}
}

// frameObs is what the Hub knows of the frame being handled for its
// Observer. It travels in the frame's context, where the Storage wrapper
// finds it to count calls.
type frameObs struct {
	calls        atomic.Int32
	action, room string // set once decoded, before any concurrent work
	conn         string
	start        time.Time
}

type frameObsKey struct{}

// observeStart returns ctx carrying a new frameObs for an operation of
// connection conn, or ctx and nil if the Hub has no Observer.
func (h *Hub) observeStart(ctx context.Context, action, conn string) (context.Context, *frameObs) {
	if h.opts.Observer == nil {
		return ctx, nil
	}
	fo := &frameObs{action: action, conn: conn, start: time.Now()}
	return context.WithValue(ctx, frameObsKey{}, fo), fo
}

// observeEnd tells the Observer that the operation of fo is done with
// code ("" for success). A nil fo does nothing.
func (h *Hub) observeEnd(ctx context.Context, fo *frameObs, code string) {
	if fo == nil {
		return
	}
	h.opts.Observer.Frame(ctx, FrameStats{Action: fo.action, Room: fo.room, ConnID: fo.conn, Code: code,
		Duration: time.Since(fo.start), StorageCalls: int(fo.calls.Load())})
}

// failed tells the Observer obs of a failed call, unless err is an expected
// outcome.
func failed(ctx context.Context, obs Observer, op, conn string, err error) {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrGone) {
		return
	}
	f := Failure{Op: op, ConnID: conn, Err: err}
	if fo, _ := ctx.Value(frameObsKey{}).(*frameObs); fo != nil {
		f.Action, f.Room = fo.action, fo.room
		if f.ConnID == "" {
			f.ConnID = fo.conn
		}
	}
	obs.Failure(ctx, f)
}

// observedStore counts the calls of each frame (found in their context) and
// reports failures to the Observer. The Hub uses it in place of its Storage
// only when it has an Observer. It implements every optional interface of a
// Storage, and observed hides those its Storage lacks.
type observedStore struct {
	Storage
	obs Observer
}

// done accounts for one call that returned err.
func (s *observedStore) done(ctx context.Context, op string, err error) {
	if fo, _ := ctx.Value(frameObsKey{}).(*frameObs); fo != nil {
		fo.calls.Add(1)
	}
	if err != nil {
		failed(ctx, s.obs, op, "", err)
	}
}

func (s *observedStore) Get(ctx context.Context, key Key) (Item, error) {
	it, err := s.Storage.Get(ctx, key)
	s.done(ctx, "storage.Get", err)
	return it, err
}

func (s *observedStore) Put(ctx context.Context, item Item, cond Cond) (int64, error) {
	v, err := s.Storage.Put(ctx, item, cond)
	s.done(ctx, "storage.Put", err)
	return v, err
}

func (s *observedStore) Delete(ctx context.Context, key Key, cond Cond) error {
	err := s.Storage.Delete(ctx, key, cond)
	s.done(ctx, "storage.Delete", err)
	return err
}

func (s *observedStore) Query(ctx context.Context, q Query) ([]Item, error) {
	items, err := s.Storage.Query(ctx, q)
	s.done(ctx, "storage.Query", err)
	return items, err
}

func (s *observedStore) Add(ctx context.Context, key Key, delta int64, expires time.Time) (int64, error) {
	n, err := s.Storage.Add(ctx, key, delta, expires)
	s.done(ctx, "storage.Add", err)
	return n, err
}

func (s *observedStore) Scan(ctx context.Context, q Query, f func(it *Item, left int) bool) error {
	err := s.Storage.(Scanner).Scan(ctx, q, f)
	s.done(ctx, "storage.Scan", err)
	return err
}

func (s *observedStore) GetMany(ctx context.Context, keys []Key) ([]Item, error) {
	items, err := s.Storage.(Batcher).GetMany(ctx, keys)
	s.done(ctx, "storage.GetMany", err)
	return items, err
}

func (s *observedStore) WriteMany(ctx context.Context, writes []Write) error {
	err := s.Storage.(Batcher).WriteMany(ctx, writes)
	s.done(ctx, "storage.WriteMany", err)
	return err
}

func (s *observedStore) Touch(ctx context.Context, key Key, expires time.Time, cond Cond) error {
	err := s.Storage.(Toucher).Touch(ctx, key, expires, cond)
	s.done(ctx, "storage.Touch", err)
	return err
}

func (s *observedStore) ValueConditions() {}

// observed returns store wrapped for obs, with the optional interfaces of
// store (see WrapStorage).
func observed(store Storage, obs Observer) Storage {
	return WrapStorage(&observedStore{Storage: store, obs: obs}, store)
}

// observedTransport reports the Transport's failures to the Observer. The
// Hub discovers the optional interfaces of its Transport before wrapping it.
type observedTransport struct {
	Transport
	obs Observer
}

func (t observedTransport) Send(ctx context.Context, connID string, frame []byte) error {
	err := t.Transport.Send(ctx, connID, frame)
	failed(ctx, t.obs, "transport.Send", connID, err)
	return err
}

func (t observedTransport) Close(ctx context.Context, connID string, code CloseCode, reason string) error {
	err := t.Transport.Close(ctx, connID, code, reason)
	failed(ctx, t.obs, "transport.Close", connID, err)
	return err
}

// observedBroadcaster reports the failures of a Broadcaster.
type observedBroadcaster struct {
	Broadcaster
	obs Observer
}

func (b observedBroadcaster) SendMany(ctx context.Context, connIDs []string, frame []byte) ([]string, error) {
	gone, err := b.Broadcaster.SendMany(ctx, connIDs, frame)
	failed(ctx, b.obs, "transport.SendMany", "", err)
	return gone, err
}

// errCode is the code of err for FrameStats: "" for nil.
func errCode(err error) string {
	if err == nil {
		return ""
	}
	return CodeOf(err)
}
