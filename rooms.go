package chatfly

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// members returns the unexpired member records of a room.
func (h *Hub) members(ctx context.Context, rid string) ([]memberRec, error) {
	q := Query{Partition: roomPart(rid), Prefix: "mem#"}
	if sc, ok := h.store.(Scanner); ok {
		// Without copying every member item first (see Scanner).
		var ms []memberRec
		err := sc.Scan(ctx, q, func(it *Item, left int) bool {
			if ms == nil {
				ms = make([]memberRec, 0, left)
			}
			m := parseMember(it.Value)
			m.sid, m.room = it.Sort[len("mem#"):], rid
			ms = append(ms, m)
			return true
		})
		return ms, err
	}
	items, err := h.store.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	ms := make([]memberRec, len(items))
	for i, it := range items {
		ms[i] = parseMember(it.Value)
		ms[i].sid, ms[i].room = it.Sort[len("mem#"):], rid
	}
	return ms, nil
}

// roomInfo describes a room with its occupancy.
func (h *Hub) roomInfo(ctx context.Context, m *roomMeta, members int) (RoomInfo, error) {
	info := RoomInfo{ID: m.ID, Name: m.Name, Topic: m.Topic, Public: m.Public, Members: members, Custom: m.Custom}
	it, err := h.store.Get(ctx, seqKey(m.ID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return info, err
	}
	info.Seq = it.N
	if err == nil {
		info.Epoch = it.Version - it.N // constant while the counter lives: Add writes it alone (storage.go)
	}
	return info, nil
}

// fanout sends one frame to every member except the session skip and
// returns the members whose connections the transport reported gone.
func (h *Hub) fanout(ctx context.Context, ms []memberRec, skip string, frame []byte) []memberRec {
	conns := make([]string, 0, len(ms))
	for _, m := range ms {
		if m.sid != skip {
			conns = append(conns, m.conn)
		}
	}
	if len(conns) == 0 {
		return nil
	}
	if h.bc != nil {
		gone, err := h.bc.SendMany(ctx, conns, frame)
		if err != nil {
			h.log.WarnContext(ctx, "chatfly: fan-out", "err", err)
		}
		return membersOf(ms, gone)
	}
	var gone []string
	for _, conn := range conns {
		if err := h.tr.Send(ctx, conn, frame); errors.Is(err, ErrGone) {
			gone = append(gone, conn)
		} else if err != nil {
			h.log.WarnContext(ctx, "chatfly: send", "conn", conn, "err", err)
		}
	}
	return membersOf(ms, gone)
}

// membersOf returns the members of ms whose connections are in conns.
func membersOf(ms []memberRec, conns []string) []memberRec {
	if len(conns) == 0 {
		return nil
	}
	set := make(map[string]bool, len(conns))
	for _, c := range conns {
		set[c] = true
	}
	out := make([]memberRec, 0, len(conns))
	for _, m := range ms {
		if set[m.conn] {
			out = append(out, m)
		}
	}
	return out
}

// dropGone cleans up after members whose connections the transport
// reported gone: the connection's state, and, if the connection's record
// was gone already, the membership the fan-out found (a join that raced
// the connection's $disconnect wrote it after the disconnect cleaned up).
func (h *Hub) dropGone(ctx context.Context, gone []memberRec) {
	for _, m := range gone {
		found, err := h.dropConn(ctx, m.conn)
		if err == nil && !found && m.room != "" && m.sid != "" {
			if err = h.leaveRoom(ctx, m.room, m.sid, m.conn); errors.Is(err, ErrNotMember) {
				err = nil
			}
		}
		if err != nil {
			h.log.WarnContext(ctx, "chatfly: removing gone connection", "conn", m.conn, "err", err)
		}
	}
}

func (h *Hub) handleJoin(c *call) error {
	rid := c.f.Room
	if rid == "" {
		return Errorf(ErrBadRequest, `missing "room"`)
	}
	m, err := h.loadRoom(c.ctx, rid)
	if err != nil {
		return err
	}
	if !m.admits(c.conn.Session) {
		return Errorf(ErrNotFound, "no such room")
	}
	if m.banned(c.conn.Session, c.conn.Addr) {
		return ErrBanned
	}
	role, err := h.checkJoin(c, m)
	if err != nil {
		return err
	}
	mu := h.roomLock(rid)
	mu.Lock()
	gone, n, err := h.join(c, m, role)
	mu.Unlock()
	h.dropGone(c.ctx, gone)
	if err == nil {
		h.noteActivity(c.ctx, m, c.now, activity{members: n})
	}
	return err
}

// join does the work of handleJoin under the room's lock: the membership,
// the presence event to the others, and the reply with the history, so that
// no message falls between the history and the live events. role is the
// role OnJoin gave. It returns the number of members after the join.
func (h *Hub) join(c *call, m *roomMeta, role string) (gone []memberRec, members int, err error) {
	rid, sid := m.ID, c.conn.Session
	exp := c.now.Add(h.opts.PresenceTTL)
	ms, err := h.members(c.ctx, rid)
	if err != nil {
		return gone, 0, err
	}
	if i := slices.IndexFunc(ms, func(m memberRec) bool { return m.sid == sid }); i >= 0 {
		// Already a member (a reconnect): move the membership to this
		// connection; nobody sees a second join.
		if ms[i].conn != c.connID || ms[i].role != role {
			if _, err := h.store.Put(c.ctx, Item{Key: memKey(rid, sid), Value: memberValue(c.connID, c.conn.Name, c.addrKey(), role), Expires: exp}, Always); err != nil {
				return gone, 0, err
			}
			ms[i].conn, ms[i].role = c.connID, role
		}
	} else {
		if len(ms) >= h.opts.MaxMembersPerRoom || (m.MaxMembers > 0 && len(ms) >= m.MaxMembers) {
			return gone, 0, Errorf(ErrTooMany, "the room is full")
		}
		if h.shareFull(ms, c.addrKey()) {
			return gone, 0, Errorf(ErrTooMany, "too many people from your network are in this room (at most "+itoa(int64(h.opts.AddressLimits.RoomShare))+")")
		}
		if err := h.addMember(c, rid, role, exp); err != nil {
			return gone, 0, err
		}
		me := memberRec{sid: sid, conn: c.connID, name: c.conn.Name, addr: c.addrKey(), role: role, room: rid}
		ms = append(ms, me)
		who := c.member()
		who.Role = m.memberRole(me)
		frame := mustJSON(presenceEvent{Type: "presence", Room: rid, Event: "join", Member: who, Members: len(ms)})
		gone = h.fanout(c.ctx, ms, sid, frame)
	}

	var q Query
	if c.f.After > 0 {
		q = Query{Partition: roomPart(rid), Prefix: "msg#", StartAfter: msgSort(c.f.After), Limit: h.opts.MaxHistoryPage}
	} else {
		q = Query{Partition: roomPart(rid), Prefix: "msg#", Reverse: true, Limit: h.opts.HistoryLength}
	}
	hist, err := h.store.Query(c.ctx, q)
	if err != nil {
		return gone, 0, err
	}
	if q.Reverse {
		slices.Reverse(hist)
	}
	info, err := h.roomInfo(c.ctx, m, len(ms))
	if err != nil {
		return gone, 0, err
	}
	reply := joinedFrame{Type: "joined", ID: c.f.ID, Room: info, Members: withRoles(ms, m), History: rawValues(hist)}
	// Over a size limit, a catch-up keeps its oldest messages (the client
	// joins again from where it got to), a plain join its newest.
	h.reply(c, h.fit(&reply.History, !q.Reverse, func() []byte { return mustJSON(reply) }))
	return gone, len(ms), nil
}

// addMember makes the calling session a member of rid: it enters the room in
// the session's index of rooms, claims the name in the room, then writes
// the membership. The index entry comes first and is counted after it is
// written (add-then-check), so concurrent joins of one session, on any
// number of Hubs, never leave it in more than MaxRoomsPerSession rooms; a
// refused or failed join takes its entry back.
func (h *Hub) addMember(c *call, rid, role string, exp time.Time) error {
	sid := c.conn.Session
	idx := Key{Partition: sessPart(sid), Sort: roomSort(rid)}
	if _, err := h.store.Put(c.ctx, Item{Key: idx, Expires: exp}, Always); err != nil {
		return err
	}
	err := h.claimMember(c, rid, role, exp)
	if err != nil {
		if derr := h.store.Delete(c.ctx, idx, Always); derr != nil {
			h.log.WarnContext(c.ctx, "chatfly: undoing a refused join", "session", sid, "room", rid, "err", derr)
		}
	}
	return err
}

// claimMember does the checks and writes of addMember after the index
// entry: the count of the session's rooms, the name, the membership.
func (h *Hub) claimMember(c *call, rid, role string, exp time.Time) error {
	sid, limit := c.conn.Session, h.opts.MaxRoomsPerSession
	rooms, err := h.store.Query(c.ctx, Query{Partition: sessPart(sid), Prefix: "room#", Limit: limit + 1})
	if err != nil {
		return err
	}
	if len(rooms) > limit {
		return Errorf(ErrTooMany, "in too many rooms at once (at most "+itoa(int64(limit))+")")
	}
	nk := nameKeyOf(rid, c.conn.Name)
	if _, err := h.store.Put(c.ctx, Item{Key: nk, Value: []byte(sid), Expires: exp}, IfAbsent); errors.Is(err, ErrConflict) {
		// Taken, unless by this same session (left over from a lost leave).
		it, gerr := h.store.Get(c.ctx, nk)
		if gerr != nil && !errors.Is(gerr, ErrNotFound) {
			return gerr
		}
		if gerr != nil || string(it.Value) != sid {
			return Errorf(ErrNameTaken, "the name "+quote(c.conn.Name)+" is already taken in this room")
		}
	} else if err != nil {
		return err
	}
	_, err = h.store.Put(c.ctx, Item{Key: memKey(rid, sid), Value: memberValue(c.connID, c.conn.Name, c.addrKey(), role), Expires: exp}, Always)
	return err
}

func rawValues(items []Item) []json.RawMessage {
	out := make([]json.RawMessage, len(items))
	for i, it := range items {
		out[i] = it.Value
	}
	return out
}

func (h *Hub) handleLeave(c *call) error {
	if c.f.Room == "" {
		return Errorf(ErrBadRequest, `missing "room"`)
	}
	if err := h.leaveRoom(c.ctx, c.f.Room, c.conn.Session, c.connID); err != nil {
		return err
	}
	h.reply(c, mustJSON(roomReplyFrame{Type: "left", ID: c.f.ID, Room: c.f.Room}))
	return nil
}

// leaveRoom removes session sid from room rid if its membership belongs to
// connection conn, and tells the others. A membership that has already moved
// to another connection of the session is left alone.
func (h *Hub) leaveRoom(ctx context.Context, rid, sid, conn string) error {
	mu := h.roomLock(rid)
	mu.Lock()
	gone, n, err := h.leave(ctx, rid, sid, conn)
	mu.Unlock()
	h.dropGone(ctx, gone)
	if n >= 0 {
		now := h.opts.Now()
		h.forfeitOnLeave(ctx, rid, sid, now)
		if m, err := h.loadRoom(ctx, rid); err == nil {
			h.noteActivity(ctx, m, now, activity{members: n})
		}
	}
	return err
}

// leave does the work of leaveRoom under the room's lock. It returns the
// number of members left, or -1 if the session did not leave.
func (h *Hub) leave(ctx context.Context, rid, sid, conn string) (gone []memberRec, members int, err error) {
	idx := Key{Partition: sessPart(sid), Sort: roomSort(rid)}
	it, err := h.store.Get(ctx, memKey(rid, sid))
	if errors.Is(err, ErrNotFound) {
		_ = h.store.Delete(ctx, idx, Always)
		return nil, -1, ErrNotMember
	}
	if err != nil {
		return nil, -1, err
	}
	m := parseMember(it.Value)
	if m.conn != conn {
		return nil, -1, nil
	}
	if err := h.store.Delete(ctx, memKey(rid, sid), IfVersion(it.Version)); errors.Is(err, ErrConflict) {
		return nil, -1, nil // it moved to another connection meanwhile
	} else if err != nil {
		return nil, -1, err
	}
	if nit, err := h.store.Get(ctx, nameKeyOf(rid, m.name)); err == nil && string(nit.Value) == sid {
		_ = h.store.Delete(ctx, nit.Key, IfVersion(nit.Version))
	}
	if err := h.store.Delete(ctx, idx, Always); err != nil {
		return nil, -1, err
	}
	ms, err := h.members(ctx, rid)
	if err != nil {
		return nil, -1, err
	}
	frame := mustJSON(presenceEvent{Type: "presence", Room: rid, Event: "leave", Member: Member{ID: sid, Name: m.name}, Members: len(ms)})
	return h.fanout(ctx, ms, sid, frame), len(ms), nil
}

// membership returns the calling connection's membership of the frame's
// room, or ErrNotMember.
func (h *Hub) membership(c *call) error {
	if c.f.Room == "" {
		return Errorf(ErrBadRequest, `missing "room"`)
	}
	it, err := h.store.Get(c.ctx, memKey(c.f.Room, c.conn.Session))
	if errors.Is(err, ErrNotFound) || (err == nil && parseMember(it.Value).conn != c.connID) {
		return ErrNotMember
	}
	return err
}

// checkText validates message text against the limits.
func (h *Hub) checkText(text string) error {
	if strings.TrimSpace(text) == "" {
		return Errorf(ErrBadRequest, "text is empty")
	}
	if !utf8.ValidString(text) {
		return Errorf(ErrBadRequest, "text is not valid UTF-8")
	}
	if utf8.RuneCountInString(text) > h.opts.MaxTextRunes {
		return Errorf(ErrTooLong, "text is longer than "+itoa(int64(h.opts.MaxTextRunes))+" characters")
	}
	return nil
}

func (h *Hub) handleSend(c *call) error {
	if err := h.membership(c); err != nil {
		return err
	}
	room, err := h.loadRoom(c.ctx, c.f.Room)
	if err != nil {
		return err
	}
	if room.muted(c.conn.Session, c.now) {
		return ErrMuted
	}
	if c.f.Text == nil {
		return Errorf(ErrBadRequest, `missing "text"`)
	}
	m := Message{Room: c.f.Room, From: c.member(), Text: *c.f.Text, Time: c.now}
	if err := h.checkText(m.Text); err != nil {
		return err
	}
	if h.opts.OnMessage != nil {
		if err := h.opts.OnMessage(c.ctx, c.session(), &m); err != nil {
			return h.publicError(c.ctx, "OnMessage", err, ErrRejected, c.attrs()...)
		}
		m.Room, m.From, m.System = c.f.Room, c.member(), false // the hook may only rewrite the text
		if err := h.checkText(m.Text); err != nil {
			return err
		}
	}
	if err := h.post(c.ctx, &m, room); err != nil {
		return err
	}
	h.reply(c, mustJSON(roomReplyFrame{Type: "sent", ID: c.f.ID, Room: m.Room, Seq: m.Seq}))
	return nil
}

// post assigns m its sequence number, stores it and delivers it to the
// members of room, in seq order within this Hub.
func (h *Hub) post(ctx context.Context, m *Message, room *roomMeta) error {
	rid := m.Room
	mu := h.roomLock(rid)
	mu.Lock()
	seq, err := h.store.Add(ctx, seqKey(rid), 1, h.seqExpiry(room, m.Time))
	if err != nil {
		mu.Unlock()
		return err
	}
	m.Seq = seq
	frame := encodeMessage(m)
	if _, err := h.store.Put(ctx, Item{Key: msgKey(rid, seq), Value: frame, Expires: h.messageExpiry(room, m.Time)}, IfAbsent); err != nil {
		mu.Unlock()
		return err
	}
	ms, err := h.members(ctx, rid)
	if err != nil {
		mu.Unlock()
		return err
	}
	gone := h.fanout(ctx, ms, "", frame)
	mu.Unlock()

	if limit := int64(h.opts.RoomMessageCap); limit > 0 && seq > limit {
		if err := h.store.Delete(ctx, msgKey(rid, seq-limit), Always); err != nil {
			h.log.WarnContext(ctx, "chatfly: pruning old message", "room", rid, "err", err)
		}
	}
	h.dropGone(ctx, gone)
	h.noteActivity(ctx, room, m.Time, activity{members: len(ms), seq: seq, active: m.Time.UnixMilli(), poster: m.From.ID})
	return nil
}

func (h *Hub) handleHistory(c *call) error {
	if err := h.membership(c); err != nil {
		return err
	}
	limit := c.f.Limit
	if limit <= 0 || limit > h.opts.MaxHistoryPage {
		limit = h.opts.MaxHistoryPage
	}
	msgs, more, err := h.history(c.ctx, c.f.Room, c.f.Before, limit)
	if err != nil {
		return err
	}
	reply := historyFrame{Type: "history", ID: c.f.ID, Room: c.f.Room, Messages: rawValues(msgs), More: more}
	h.reply(c, h.fit(&reply.Messages, false, func() []byte {
		reply.More = more || len(reply.Messages) < len(msgs)
		return mustJSON(reply)
	}))
	return nil
}

// history returns up to limit stored message items with seq < before
// (before <= 0: the latest), oldest first, and whether older ones may exist.
func (h *Hub) history(ctx context.Context, rid string, before int64, limit int) ([]Item, bool, error) {
	q := Query{Partition: roomPart(rid), Prefix: "msg#", Reverse: true, Limit: limit}
	if before > 0 {
		q.StartAfter = msgSort(before)
	}
	items, err := h.store.Query(ctx, q)
	if err != nil {
		return nil, false, err
	}
	slices.Reverse(items)
	more := len(items) == limit
	if more {
		var first Message
		if first, err = decodeMessage(items[0].Value); err == nil && first.Seq <= 1 {
			more = false
		}
	}
	return items, more, nil
}

func (h *Hub) handleTyping(c *call) error {
	if err := h.membership(c); err != nil {
		return err
	}
	if err := h.checkMuted(c); err != nil {
		return err
	}
	w := c.now.UnixNano() / int64(h.opts.TypingInterval)
	n, err := h.store.Add(c.ctx, Key{Partition: "typing#" + c.conn.Session, Sort: c.f.Room + "#" + itoa(w)}, 1, time.Unix(0, (w+2)*int64(h.opts.TypingInterval)))
	if err != nil {
		return err
	}
	if n == 1 { // the first of its window
		ms, err := h.members(c.ctx, c.f.Room)
		if err != nil {
			return err
		}
		if limit := h.opts.TypingMaxMembers; limit < 0 || len(ms) <= limit {
			frame := mustJSON(typingEvent{Type: "typing", Room: c.f.Room, Member: c.member()})
			h.dropGone(c.ctx, h.fanout(c.ctx, ms, c.conn.Session, frame))
		}
	}
	if c.f.ID != nil {
		h.reply(c, mustJSON(roomReplyFrame{Type: "ok", ID: c.f.ID}))
	}
	return nil
}

// fit encodes a reply carrying a list of messages, dropping messages until
// the frame fits the transport's size limit: the oldest (the front of the
// list), or the newest when keepOldest.
func (h *Hub) fit(msgs *[]json.RawMessage, keepOldest bool, encode func() []byte) []byte {
	frame := encode()
	for h.maxSend > 0 && len(frame) > h.maxSend && len(*msgs) > 0 {
		drop := max(1, len(*msgs)/4)
		if keepOldest {
			*msgs = (*msgs)[:len(*msgs)-drop]
		} else {
			*msgs = (*msgs)[drop:]
		}
		frame = encode()
	}
	return frame
}
