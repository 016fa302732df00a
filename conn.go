package chatfly

import (
	"context"
	"sync"
	"time"
)

// Conn is a connection that its host adapter serves for its whole life in
// this process, as chatfly/transport/wstransport serves a WebSocket: it
// opens it with [Hub.Open], passes it every frame with Receive, and ends it
// with Close. It is the same connection as one registered with
// [Hub.Connect], with cheaper frames: the Conn keeps what never changes of
// the connection's record once it said hello (its session, name, user and
// address), its record's version and expiry, and counts the connection's
// frames against Options.RateLimit in memory, so that a frame's prelude
// makes no storage call (Hub.Receive makes two, at once).
//
// The record stays in Storage, where other Hubs, the admin API and presence
// expiry find it. What ends the connection from elsewhere still does:
// [Hub.RevokeSession], [Hub.DisconnectSession] and a resume on another
// connection close it through the Transport; a record that expired (no
// frame for PresenceTTL, no hello within HelloTimeout) closes it with
// [CloseGoingAway] at its next frame, and a record deleted behind its back
// at its next presence refresh (at most PresenceTTL/3 later).
//
// Receive must be called in the order the frames arrived, and not
// concurrently; Close after the last Receive. A Conn is safe for concurrent
// use all the same (misuse is serialised, not a data race). It holds no
// goroutine and no buffer.
type Conn struct {
	h  *Hub
	id string

	mu      sync.Mutex
	rec     connRecord
	ver     int64     // version of the connection's record
	exp     time.Time // expiry of the connection's record
	window  int64     // the rate limit's current window, by number
	frames  int64     // frames counted in window
	removed bool      // Close was called
}

// Open registers a new connection as [Hub.Connect] does, and returns its
// handle. Host adapters call Close once the connection has ended; until
// then, Receive with its frames.
func (h *Hub) Open(ctx context.Context, req *ConnectRequest) (cn *Conn, err error) {
	var id string
	if req != nil {
		id = req.ConnID
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.StorageTimeout)
	defer cancel()
	ctx, fo := h.observeStart(ctx, ActionConnect, id)
	defer func() {
		if err == nil {
			h.conns.Add(1)
		}
		h.observeEnd(ctx, fo, errCode(err))
	}()
	cn, err = h.connect(ctx, req)
	return cn, timedOut(ctx, err)
}

// ID returns the connection's id (ConnectRequest.ConnID).
func (cn *Conn) ID() string { return cn.id }

// Receive handles one frame of the connection, as [Hub.Receive] does, and
// returns what Hub.Receive would. After Close it does nothing and returns
// an error wrapping [ErrGone].
func (cn *Conn) Receive(ctx context.Context, frame []byte) error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.removed {
		return Errorf(ErrGone, "connection closed")
	}
	c := &call{connID: cn.id, raw: frame, conn: cn.rec, ver: cn.ver, exp: cn.exp, hc: cn}
	err := cn.h.handleFrame(ctx, c)
	cn.rec, cn.ver, cn.exp = c.conn, c.ver, c.exp // hello, a presence refresh
	return err
}

// Close removes the connection, as [Hub.Disconnect] does, without reading
// its record first: its session leaves every room it was in. Host adapters
// call it once the connection has ended; it is idempotent.
func (cn *Conn) Close(ctx context.Context) error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.removed {
		return nil
	}
	cn.removed = true
	return cn.h.ended(ctx, cn.id, func(ctx context.Context) (bool, error) {
		return cn.h.disconnectRecord(ctx, cn.id, cn.rec)
	})
}

// count counts a frame at now against rl and returns its number in its
// window. The windows are those of the storage counter (countStored):
// fixed, numbered from the Unix epoch. A process that serves a connection
// for its life sees all its frames, so the count in memory is the
// connection's.
func (cn *Conn) count(now time.Time, rl RateLimit) int64 {
	if rl.Count < 0 {
		return 0
	}
	if w := now.UnixNano() / int64(rl.Window); w != cn.window {
		cn.window, cn.frames = w, 0
	}
	cn.frames++
	return cn.frames
}
