package chatfly

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// refreshDue reports whether the presence of c's connection is due for a
// refresh: it said hello and a third of PresenceTTL has passed since the
// last one (its record expires in less than two thirds of PresenceTTL).
// Frames before hello extend nothing.
func (h *Hub) refreshDue(c *call) bool {
	return c.conn.Session != "" && c.exp.Sub(c.now) < h.opts.PresenceTTL-h.opts.PresenceTTL/3
}

// touch extends the expiry of a connection's presence in Storage: its
// connection record, its session's current-connection item, its hold on
// its address's connections, its roulette pair record, and in each of its
// rooms its membership, its name and its room index item, each only if it
// is still this connection's (value conditions); and it keeps its custom
// rooms alive. The record's write and the rooms' listing go in parallel,
// then every other item in parallel (see applyGuarded), so a refresh costs
// two round trips with a Toucher and a ValueConditioner, three without,
// however many rooms. Failures are logged or left to the next refresh.
//
// It returns errStateLost if the connection's record is gone (deleted
// behind its back, or expired). If the record changed since c read it (a
// concurrent frame's refresh on API Gateway), c takes its new version.
func (h *Hub) touch(c *call) error {
	ctx := c.ctx
	exp := c.now.Add(h.opts.PresenceTTL)
	var recErr error
	_ = each(2, func(i int) error {
		if i == 0 {
			rec := Item{Key: connKey(c.connID), Value: mustJSON(c.conn), Version: c.ver}
			var v int64
			if v, recErr = h.extendItem(ctx, rec, exp); recErr == nil {
				c.ver, c.exp = v, exp
			}
			return nil
		}
		h.touchSession(c, exp)
		return nil
	})
	if !errors.Is(recErr, ErrConflict) {
		return recErr
	}
	it, err := h.store.Get(ctx, connKey(c.connID))
	if errors.Is(err, ErrNotFound) {
		return errStateLost
	}
	if err == nil {
		c.ver, c.exp = it.Version, it.Expires // written by a concurrent frame
	}
	return err
}

// touchSession is the part of touch that is not the connection's record.
func (h *Hub) touchSession(c *call, exp time.Time) {
	ctx, sid, conn := c.ctx, c.conn.Session, c.connID
	rooms, err := h.sessionRooms(ctx, sid)
	if err != nil {
		h.log.WarnContext(ctx, "chatfly: refreshing presence", "session", sid, "err", err)
	}
	ops := []guarded{
		{key: sessKey(sid), cond: IfValue([]byte(conn)), expires: exp},
		{key: pairKey(sid), cond: IfExists, expires: exp},
	}
	if key := AddrKey(c.conn.Addr); key != "" && h.opts.AddressLimits.Connections >= 0 {
		ops = append(ops, guarded{key: addrConnKey(key, conn), cond: IfExists, expires: exp, empty: true})
	}
	ownMember, ownName := IfPrefix([]byte(conn+"\n")), IfValue([]byte(sid))
	for _, rid := range rooms {
		ops = append(ops,
			guarded{key: Key{Partition: sessPart(sid), Sort: roomSort(rid)}, cond: IfExists, expires: exp, empty: true},
			guarded{key: memKey(rid, sid), cond: ownMember, expires: exp},
			guarded{key: nameKeyOf(rid, c.conn.Name), cond: ownName, expires: exp})
	}
	// The rooms' meta items are kept alive beside the touches: a room
	// with members never expires.
	_ = each(1+len(rooms), func(i int) error {
		if i == 0 {
			for j, err := range h.applyGuarded(ctx, ops) {
				if err != nil && !errors.Is(err, ErrConflict) {
					h.log.WarnContext(ctx, "chatfly: refreshing presence", "session", sid, "key", ops[j].key, "err", err)
				}
			}
		} else if m, err := h.loadRoom(ctx, rooms[i-1]); err == nil {
			h.keepAlive(ctx, m, c.now)
		}
		return nil
	})
}

// disconnect removes the state of a connection and reports whether its
// record was there.
func (h *Hub) disconnect(ctx context.Context, connID string) (bool, error) {
	item, err := h.store.Get(ctx, connKey(connID))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var rec connRecord
	if err := json.Unmarshal(item.Value, &rec); err != nil {
		return false, err
	}
	return h.disconnectRecord(ctx, connID, rec)
}

// disconnectRecord removes the state of connection connID, whose record is
// rec, and reports whether the record was still there. Its steps go at
// once: the record, the address holds, the session's current-connection
// item, roulette, and the listing of the session's rooms, each of which is
// then left at once (leaveRoom). A roulette pair room is left after
// roulette is done with it (endPair takes both out of it and tells the
// partner; its leaveRoom then finds no member). A failed step does not
// stop the others.
func (h *Hub) disconnectRecord(ctx context.Context, connID string, rec connRecord) (bool, error) {
	var found bool
	var pairRooms []string
	steps := []func() error{
		func() error {
			// IfExists: of two disconnects racing, only the one that
			// deletes the record counts the session gone; both go on to
			// clean up.
			err := h.store.Delete(ctx, connKey(connID), IfExists)
			if found = err == nil; found && rec.Session != "" {
				h.sessions.Add(-1)
			}
			return ignoreConflict(err)
		},
		func() error { return h.releaseAddr(ctx, connID, rec) },
	}
	sid := rec.Session
	if sid != "" {
		steps = append(steps,
			func() error { return h.leaveRoulette(ctx, sid, connID) },
			func() error {
				rooms, err := h.sessionRooms(ctx, sid)
				if err != nil {
					return err
				}
				var now []string
				for _, rid := range rooms {
					if strings.HasPrefix(rid, pairRoomPrefix) {
						pairRooms = append(pairRooms, rid)
					} else {
						now = append(now, rid)
					}
				}
				return h.leaveRooms(ctx, now, sid, connID)
			},
			func() error {
				// The session's current connection, if it is still this one.
				return ignoreConflict(h.applyGuarded(ctx, []guarded{{key: sessKey(sid), cond: IfValue([]byte(connID)), del: true}})[0])
			})
	}
	err := each(len(steps), func(i int) error { return steps[i]() })
	return found, errors.Join(err, h.leaveRooms(ctx, pairRooms, sid, connID))
}

// leaveRooms takes session sid on connection conn out of rooms, at once.
func (h *Hub) leaveRooms(ctx context.Context, rooms []string, sid, conn string) error {
	return each(len(rooms), func(i int) error {
		if err := h.leaveRoom(ctx, rooms[i], sid, conn); !errors.Is(err, ErrNotMember) {
			return err
		}
		return nil
	})
}

// ignoreConflict returns err, or nil if it is ErrConflict.
func ignoreConflict(err error) error {
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}
