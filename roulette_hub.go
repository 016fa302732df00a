package chatfly

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// The roulette protocol: roulette.join queues the session (or refreshes its
// place), the Matcher pairs it, and the Hub opens a private pair room for
// the two and tells both. roulette.next ends the pair and queues the
// presser again; roulette.leave ends it and leaves the queue; a disconnect
// ends it for the partner.

// pairRecord is what Storage holds about a session's current pair.
type pairRecord struct {
	Room    string   `json:"room"`
	Partner Member   `json:"partner"`
	Shared  []string `json:"shared,omitempty"`
}

// pairRoomPrefix starts the id of every roulette pair room.
const pairRoomPrefix = "rp-"

func pairKey(sid string) Key { return Key{Partition: sessPart(sid), Sort: "pair"} }

func lastPartnerKey(sid string) Key { return Key{Partition: sessPart(sid), Sort: "rlast"} }

type rouletteFrame struct {
	Type      string          `json:"type"` // roulette.waiting, roulette.matched, roulette.ended, roulette.left
	ID        json.RawMessage `json:"id,omitempty"`
	Room      string          `json:"room,omitempty"`
	Partner   *Member         `json:"partner,omitempty"`
	Shared    []string        `json:"shared,omitempty"`
	Interests []string        `json:"interests,omitempty"`
	Reason    string          `json:"reason,omitempty"` // for roulette.ended: next, left, disconnected
	Retry     int64           `json:"retry,omitempty"`  // for roulette.waiting: ms until asking again
}

// Bounds of roulette.waiting's retry: a client asks again at the latest
// after maxRetry (which keeps its place and its per-address hold), and not
// sooner than minRetry.
const (
	minRetry = 250 * time.Millisecond
	maxRetry = 20 * time.Second
)

// retryMillis is the retry a waiting client is told: until the Matcher's
// retry time, rounded up to the millisecond, within [minRetry, maxRetry].
func retryMillis(now, retry time.Time) int64 {
	d := maxRetry
	if !retry.IsZero() {
		d = min(max(retry.Sub(now), minRetry), maxRetry)
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func (h *Hub) registerRoulette() {
	h.handlers["roulette.join"] = func(c *call) error { return h.rouletteJoin(c, "") }
	h.handlers["roulette.next"] = h.rouletteNext
	h.handlers["roulette.leave"] = h.rouletteLeave
}

// rouletteJoin queues the session, or answers with its pair if it has one
// (a refresh that crossed the match is harmless).
func (h *Hub) rouletteJoin(c *call, last string) error {
	sid := c.conn.Session
	if it, err := h.store.Get(c.ctx, pairKey(sid)); err == nil {
		var p pairRecord
		if json.Unmarshal(it.Value, &p) == nil {
			if _, err := h.loadRoom(c.ctx, p.Room); err == nil {
				h.reply(c, mustJSON(rouletteFrame{Type: "roulette.matched", ID: c.f.ID, Room: p.Room, Partner: &p.Partner, Shared: p.Shared}))
				return nil
			}
		}
		// A record left behind by a pair that is over: forget it.
		h.deletePair(c.ctx, sid, p.Room)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	interests, err := cleanInterests(c.f.Interests)
	if err != nil {
		return err
	}
	if err := h.admitRoulette(c); err != nil {
		return err
	}
	if last == "" {
		if it, err := h.store.Get(c.ctx, lastPartnerKey(sid)); err == nil {
			last = string(it.Value)
		}
	}
	m, retry, err := h.matcher.Match(c.ctx, Waiter{Session: sid, Conn: c.connID, Name: c.conn.Name, Addr: c.addrKey(), Interests: interests, Last: last})
	if err != nil {
		return err
	}
	if m == nil {
		h.reply(c, mustJSON(rouletteFrame{Type: "roulette.waiting", ID: c.f.ID, Interests: interests, Retry: retryMillis(h.opts.Now(), retry)}))
		return nil
	}
	rid, err := h.openPair(c.ctx, c.now, m)
	if err != nil {
		return err
	}
	if !h.tellMatched(c.ctx, rid, m.B, m.A, m.Shared, nil) {
		// The partner vanished: its cleanup ended the pair; look again.
		return h.rouletteJoin(c, "")
	}
	h.reply(c, matchedFrame(rid, m.B, m.Shared, c.f.ID))
	return nil
}

// openPair opens the pair room for a match, seats both in it and records
// the pair for both. It returns the room's id.
func (h *Hub) openPair(ctx context.Context, now time.Time, m *Match) (string, error) {
	h.leftRoulette(ctx, m.A, m.B)
	rid := pairRoomPrefix + newID()
	room := &roomMeta{RoomConfig: RoomConfig{ID: rid, Name: "Roulette"}, Custom: true, Pair: []string{m.A.Session, m.B.Session}, Created: now.Unix()}
	if err := h.saveRoom(ctx, room, now); err != nil {
		return "", err
	}
	exp := now.Add(h.opts.PresenceTTL)
	for _, w := range []Waiter{m.A, m.B} {
		if err := h.seat(ctx, rid, w, exp); err != nil {
			return "", err
		}
	}
	for _, p := range [][2]Waiter{{m.A, m.B}, {m.B, m.A}} {
		rec := pairRecord{Room: rid, Partner: Member{ID: p[1].Session, Name: p[1].Name}, Shared: m.Shared}
		// IfAbsent: a session is queued only without a pair, and a queue
		// entry is claimed once, so an existing record would be a bug.
		if _, err := h.store.Put(ctx, Item{Key: pairKey(p[0].Session), Value: mustJSON(rec), Expires: exp}, IfAbsent); err != nil {
			return "", err
		}
	}
	return rid, nil
}

func matchedFrame(rid string, partner Waiter, shared []string, id json.RawMessage) []byte {
	return mustJSON(rouletteFrame{Type: "roulette.matched", ID: id, Room: rid, Partner: &Member{ID: partner.Session, Name: partner.Name}, Shared: shared})
}

// tellMatched sends roulette.matched to w about partner. If w's
// connection is gone it removes it, which ends the pair for partner, and
// reports false.
func (h *Hub) tellMatched(ctx context.Context, rid string, w, partner Waiter, shared []string, id json.RawMessage) bool {
	err := h.tr.Send(ctx, w.Conn, matchedFrame(rid, partner, shared, id))
	if errors.Is(err, ErrGone) {
		h.dropGone(ctx, []memberRec{{conn: w.Conn}})
		return false
	}
	if err != nil {
		h.log.WarnContext(ctx, "chatfly: telling a roulette match", "conn", w.Conn, "err", err)
	}
	return true
}

// Sweep pairs roulette waiters who could be paired now but are not
// because neither asked again when that became possible, and tells both;
// it returns how many pairs it opened. Clients that ask again when
// roulette.waiting's retry says (the Go client and chatfly.js do) are
// paired on time without it: Sweep is an optional safety net for other
// clients and for browsers that throttle the timers of background tabs.
// Call it from a ticker (every few seconds) or a scheduled Lambda; any
// number of Hubs may call it at once. It reads one page of each queue
// shard (MatcherPage listings); ctx bounds it. With a Matcher that does
// not implement [Sweeper] it does nothing.
func (h *Hub) Sweep(ctx context.Context) (int, error) {
	s, ok := h.matcher.(Sweeper)
	if !ok {
		return 0, nil
	}
	ms, err := s.Sweep(ctx)
	n := 0
	for _, m := range ms {
		rid, perr := h.openPair(ctx, h.opts.Now(), m)
		if perr != nil {
			err = errors.Join(err, perr)
			continue
		}
		n++
		if h.tellMatched(ctx, rid, m.A, m.B, m.Shared, nil) {
			h.tellMatched(ctx, rid, m.B, m.A, m.Shared, nil)
		}
	}
	return n, err
}

func (h *Hub) rouletteNext(c *call) error {
	last, err := h.endPair(c.ctx, c.conn.Session, "next")
	if err != nil {
		return err
	}
	return h.rouletteJoin(c, last)
}

func (h *Hub) rouletteLeave(c *call) error {
	if _, err := h.endPair(c.ctx, c.conn.Session, "left"); err != nil {
		return err
	}
	if err := h.matcher.Remove(c.ctx, c.conn.Session); err != nil {
		return err
	}
	h.leftRoulette(c.ctx, Waiter{Session: c.conn.Session, Addr: c.addrKey()})
	h.reply(c, mustJSON(rouletteFrame{Type: "roulette.left", ID: c.f.ID}))
	return nil
}

// endPair ends the session's pair, if any: the partner is told (reason),
// both leave the pair room, and each remembers the other as their last
// partner. It returns the partner's session id.
//
// When both sides end the pair at once (next, leave or a disconnect on two
// Hubs), the conditional delete of the pair room's meta item, the one item
// the two share, decides: whoever deletes it ends the pair and tells the
// other; the other only drops its own record, so a pair ends exactly once.
func (h *Hub) endPair(ctx context.Context, sid, reason string) (string, error) {
	it, err := h.store.Get(ctx, pairKey(sid))
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var p pairRecord
	if err := json.Unmarshal(it.Value, &p); err != nil {
		return "", err
	}
	won := true
	if err := h.store.Delete(ctx, metaKey(p.Room), IfExists); errors.Is(err, ErrConflict) {
		won = false // the partner ended it first, or it is long over
	} else if err != nil {
		return "", err
	}
	if err := h.store.Delete(ctx, pairKey(sid), IfVersion(it.Version)); errors.Is(err, ErrConflict) {
		h.deletePair(ctx, sid, p.Room) // refreshed meanwhile (touch)
	} else if err != nil {
		return "", err
	}
	// The pair is over: both may be queued again. Done comes before the
	// partner's record goes, so that a partner who finds no record finds
	// itself free to queue.
	if err := h.matcher.Done(ctx, sid, p.Partner.ID); !won || err != nil {
		return p.Partner.ID, err
	}
	// The partner's record goes only if it is still about this pair: the
	// partner may have moved on to a new one already.
	h.deletePair(ctx, p.Partner.ID, p.Room)
	ms, err := h.members(ctx, p.Room)
	if err != nil {
		return "", err
	}
	remember := h.opts.Now().Add(time.Hour)
	for _, who := range [][2]string{{sid, p.Partner.ID}, {p.Partner.ID, sid}} {
		_, _ = h.store.Put(ctx, Item{Key: lastPartnerKey(who[0]), Value: []byte(who[1]), Expires: remember}, Always)
	}
	for _, m := range ms {
		if m.sid == p.Partner.ID {
			if err := h.tr.Send(ctx, m.conn, mustJSON(rouletteFrame{Type: "roulette.ended", Room: p.Room, Reason: reason})); err != nil && !errors.Is(err, ErrGone) {
				h.log.WarnContext(ctx, "chatfly: telling partner", "err", err)
			}
		}
		h.unseat(ctx, p.Room, m)
	}
	return p.Partner.ID, nil
}

// seat makes a session a member of a room without the checks and
// announcements of a join (pair rooms).
func (h *Hub) seat(ctx context.Context, rid string, w Waiter, exp time.Time) error {
	if _, err := h.store.Put(ctx, Item{Key: memKey(rid, w.Session), Value: memberValue(w.Conn, w.Name, w.Addr, ""), Expires: exp}, Always); err != nil {
		return err
	}
	_, err := h.store.Put(ctx, Item{Key: Key{Partition: sessPart(w.Session), Sort: roomSort(rid)}, Expires: exp}, Always)
	return err
}

// unseat removes a membership written by seat.
func (h *Hub) unseat(ctx context.Context, rid string, m memberRec) {
	_ = h.store.Delete(ctx, memKey(rid, m.sid), Always)
	_ = h.store.Delete(ctx, Key{Partition: sessPart(m.sid), Sort: roomSort(rid)}, Always)
}

// admits reports whether sid may enter room m: pair rooms admit only their
// two sessions.
func (m *roomMeta) admits(sid string) bool {
	return len(m.Pair) == 0 || slices.Contains(m.Pair, sid)
}

// leaveRoulette takes a disconnecting connection's session out of roulette:
// out of the queue, and out of its pair if the pair is on this connection
// (a session that reconnected elsewhere keeps its pair).
func (h *Hub) leaveRoulette(ctx context.Context, sid, conn string) error {
	if it, err := h.store.Get(ctx, pairKey(sid)); err == nil {
		var p pairRecord
		if json.Unmarshal(it.Value, &p) == nil {
			if mit, err := h.store.Get(ctx, memKey(p.Room, sid)); err != nil || parseMember(mit.Value).conn == conn {
				if _, err := h.endPair(ctx, sid, "disconnected"); err != nil {
					return err
				}
			}
		}
	}
	return h.matcher.Remove(ctx, sid)
}

// deletePair deletes sid's pair record if it is about room, retrying when a
// concurrent refresh of the record changed its version.
func (h *Hub) deletePair(ctx context.Context, sid, room string) {
	for range 5 {
		it, err := h.store.Get(ctx, pairKey(sid))
		if err != nil {
			return
		}
		var p pairRecord
		if json.Unmarshal(it.Value, &p) == nil && p.Room != room {
			return
		}
		if err := h.store.Delete(ctx, pairKey(sid), IfVersion(it.Version)); !errors.Is(err, ErrConflict) {
			return
		}
	}
}
