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

// roomMembers reads the unexpired member records of a room and its status
// item (nil if it has none: a default room, or one whose status was not
// written yet) in one Query.
func (h *Hub) roomMembers(ctx context.Context, rid string) ([]memberRec, *roomStatus, error) {
	q := Query{Partition: roomPart(rid), Prefix: statusSort}
	var ms []memberRec
	var st *roomStatus
	add := func(it *Item, left int) {
		if it.Sort == statusSort {
			var s roomStatus
			if json.Unmarshal(it.Value, &s) == nil {
				st = &s
			}
			return
		}
		if ms == nil {
			ms = make([]memberRec, 0, left)
		}
		m := parseMember(it.Value)
		m.sid, m.room, m.version = it.Sort[len("mem#"):], rid, it.Version
		ms = append(ms, m)
	}
	if sc, ok := h.store.(Scanner); ok {
		// Without copying every member item first (see Scanner).
		err := sc.Scan(ctx, q, func(it *Item, left int) bool { add(it, left); return true })
		return ms, st, err
	}
	items, err := h.store.Query(ctx, q)
	for i := range items {
		add(&items[i], len(items)-i)
	}
	return ms, st, err
}

// members returns the unexpired member records of a room.
func (h *Hub) members(ctx context.Context, rid string) ([]memberRec, error) {
	ms, _, err := h.roomMembers(ctx, rid)
	return ms, err
}

// memberOf returns sid's record in ms, or nil.
func memberOf(ms []memberRec, sid string) *memberRec {
	for i := range ms {
		if ms[i].sid == sid {
			return &ms[i]
		}
	}
	return nil
}

// seqState is a room's seq counter: the seq of its latest message (0 if
// none) and its stream epoch (Version-N of the counter, constant while it
// lives: Add writes it alone, see storage.go; 0 if none).
type seqState struct{ seq, epoch int64 }

// seqOf reads a room's seq counter.
func (h *Hub) seqOf(ctx context.Context, rid string) (seqState, error) {
	it, err := h.store.Get(ctx, seqKey(rid))
	if errors.Is(err, ErrNotFound) {
		return seqState{}, nil
	}
	return seqState{it.N, it.Version - it.N}, err
}

// roomInfo describes a room with its occupancy.
func (h *Hub) roomInfo(ctx context.Context, m *roomMeta, members int) (RoomInfo, error) {
	sq, err := h.seqOf(ctx, m.ID)
	return infoOf(m, members, sq), err
}

// infoOf describes a room with its occupancy and its seq counter.
func infoOf(m *roomMeta, members int, sq seqState) RoomInfo {
	return RoomInfo{ID: m.ID, Name: m.Name, Topic: m.Topic, Public: m.Public, Members: members, Custom: m.Custom, Seq: sq.seq, Epoch: sq.epoch}
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
	if _, ok := h.rooms[rid]; !ok && !ValidRoomID(rid) {
		return Errorf(ErrNotFound, "no such room")
	}
	release, err := h.holdRoom(c.ctx, rid)
	if err != nil {
		return err
	}
	m, gone, n, err := h.join(c, rid)
	release()
	h.dropGone(c.ctx, gone)
	if err == nil {
		h.noteActivity(c.ctx, m, c.now, activity{members: n})
	}
	return err
}

// join does the work of handleJoin while it holds the room (see holdRoom):
// the membership, the presence event to the others, and the reply with the
// history, so that no message of this Hub falls between the history and the
// live events. It returns the room and its number of members after the join.
//
// Its storage calls take three rounds: the room's meta, members, history
// and seq are read while the session's index entry is written; then the
// session's rooms are counted while the name is claimed; then the
// membership is written. A join that is refused takes back what it wrote.
func (h *Hub) join(c *call, rid string) (m *roomMeta, gone []memberRec, members int, err error) {
	sid := c.conn.Session
	exp := c.now.Add(h.opts.PresenceTTL)
	idx := Key{Partition: sessPart(sid), Sort: roomSort(rid)}
	q := Query{Partition: roomPart(rid), Prefix: "msg#", Reverse: true, Limit: h.opts.HistoryLength}
	if c.f.After > 0 {
		q = Query{Partition: roomPart(rid), Prefix: "msg#", StartAfter: msgSort(c.f.After), Limit: h.opts.MaxHistoryPage}
	}
	var (
		ms   []memberRec
		st   *roomStatus
		hist []Item
		sq   seqState
	)
	err = atOnce(
		func() (err error) { m, err = h.loadRoom(c.ctx, rid); return err },
		func() (err error) { ms, st, err = h.roomMembers(c.ctx, rid); return err },
		func() (err error) { hist, err = h.store.Query(c.ctx, q); return err },
		func() (err error) { sq, err = h.seqOf(c.ctx, rid); return err },
		// Add-then-check (see addMember): the entry is written first.
		func() error { _, err := h.store.Put(c.ctx, Item{Key: idx, Expires: exp}, Always); return err },
	)
	old := memberOf(ms, sid)
	if err == nil {
		if old != nil {
			err = h.rejoin(c, m, old, exp)
		} else {
			gone, err = h.addMember(c, m, &ms, exp)
		}
	}
	if err != nil {
		if old == nil {
			if derr := h.store.Delete(c.ctx, idx, Always); derr != nil {
				h.log.WarnContext(c.ctx, "chatfly: undoing a refused join", "session", sid, "room", rid, "err", derr)
			}
		}
		return nil, gone, 0, err
	}
	if st == nil && m.version != 0 {
		if err := h.putStatus(c.ctx, m); err != nil { // a room of an older version
			h.log.WarnContext(c.ctx, "chatfly: writing a room's status", "room", rid, "err", err)
		}
	}
	if q.Reverse {
		slices.Reverse(hist)
	}
	hist = h.capped(hist, sq.seq)
	reply := joinedFrame{Type: "joined", ID: c.f.ID, Room: infoOf(m, len(ms), sq), Members: withRoles(ms, m), History: rawValues(hist)}
	// Over a size limit, a catch-up keeps its oldest messages (the client
	// joins again from where it got to), a plain join its newest.
	h.reply(c, h.fit(&reply.History, !q.Reverse, func() []byte { return mustJSON(reply) }))
	return m, gone, len(ms), nil
}

// admitted runs the checks of a join of room m that do not depend on its
// members (visibility, bans, the OnJoin hook) and returns the membership
// it would write. It runs while the join holds the room, so a slow OnJoin
// hook delays the room's posts on this Hub (not other rooms').
func (h *Hub) admitted(c *call, m *roomMeta) (memberRec, error) {
	sid := c.conn.Session
	me := memberRec{sid: sid, conn: c.connID, name: c.conn.Name, addr: c.addrKey(), room: m.ID}
	if !m.admits(sid) {
		return me, Errorf(ErrNotFound, "no such room")
	}
	if m.banned(sid, c.conn.Addr) {
		return me, ErrBanned
	}
	role, err := h.checkJoin(c, m)
	if m.muted(sid, c.now) {
		me.mute = muteField(m.Mutes[sid], true) // a mute holds across a rejoin
	}
	me.role = role
	return me, err
}

// rejoin moves the membership old of the calling session (a reconnect) to
// this connection; nobody sees a second join.
func (h *Hub) rejoin(c *call, m *roomMeta, old *memberRec, exp time.Time) error {
	me, err := h.admitted(c, m)
	if err != nil {
		return err
	}
	if old.conn == me.conn && old.role == me.role && old.mute == me.mute {
		return nil
	}
	me.version, err = h.putMember(c.ctx, me, exp, old.version)
	*old = me
	return err
}

// addMember makes the calling session a member of room m, whose members
// *ms were read with the session's index entry written (add-then-check):
// the room's limits, then the count of the session's rooms and the claim
// of the name, then the membership, and the presence event to the others.
// Concurrent joins of one session, on any number of Hubs, thus never leave
// it in more than MaxRoomsPerSession rooms. A refused or failed join takes
// back the name it claimed (the caller, the index entry).
func (h *Hub) addMember(c *call, m *roomMeta, ms *[]memberRec, exp time.Time) ([]memberRec, error) {
	me, err := h.admitted(c, m)
	if err != nil {
		return nil, err
	}
	if n := len(*ms); n >= h.opts.MaxMembersPerRoom || (m.MaxMembers > 0 && n >= m.MaxMembers) {
		return nil, Errorf(ErrTooMany, "the room is full")
	}
	if h.shareFull(*ms, me.addr) {
		return nil, Errorf(ErrTooMany, "too many people from your network are in this room (at most "+itoa(int64(h.opts.AddressLimits.RoomShare))+")")
	}
	sid, limit := me.sid, h.opts.MaxRoomsPerSession
	nk := nameKeyOf(m.ID, me.name)
	var rooms []Item
	var nameV int64
	var nameErr error
	err = atOnce(
		func() (err error) {
			rooms, err = h.store.Query(c.ctx, Query{Partition: sessPart(sid), Prefix: "room#", Limit: limit + 1})
			return err
		},
		func() error {
			nameV, nameErr = h.store.Put(c.ctx, Item{Key: nk, Value: []byte(sid), Expires: exp}, IfAbsent)
			return nil
		},
	)
	if err == nil && len(rooms) > limit {
		err = Errorf(ErrTooMany, "in too many rooms at once (at most "+itoa(int64(limit))+")")
	}
	if err == nil && errors.Is(nameErr, ErrConflict) {
		if nameV, err = h.nameFree(c, nk, exp); err == nil && nameV > 0 {
			nameErr = nil // claimed now: a failure below takes it back
		}
	} else if err == nil {
		err = nameErr
	}
	if err == nil {
		me.version, err = h.putMember(c.ctx, me, exp, 0)
	}
	if err != nil {
		if nameErr == nil {
			_ = h.store.Delete(c.ctx, nk, IfVersion(nameV))
		}
		return nil, err
	}
	*ms = append(*ms, me)
	who := c.member()
	who.Role = m.memberRole(me)
	frame := mustJSON(presenceEvent{Type: "presence", Room: m.ID, Event: "join", Member: who, Members: len(*ms)})
	return h.fanout(c.ctx, *ms, sid, frame), nil
}

// nameFree settles a claim of the name item nk for the calling session
// that found the item there: a name taken by another session is
// name_taken, one left over from this session's lost leave is fine (0), and
// one that was freed meanwhile (this session's old connection leaving the
// room at the same moment) is claimed again, returning its version.
func (h *Hub) nameFree(c *call, nk Key, exp time.Time) (int64, error) {
	for range 3 {
		it, err := h.store.Get(c.ctx, nk)
		switch {
		case err == nil && string(it.Value) == c.conn.Session:
			return 0, nil
		case err == nil:
			return 0, Errorf(ErrNameTaken, "the name "+quote(c.conn.Name)+" is already taken in this room")
		case !errors.Is(err, ErrNotFound):
			return 0, err
		}
		v, err := h.store.Put(c.ctx, Item{Key: nk, Value: []byte(c.conn.Session), Expires: exp}, IfAbsent)
		if !errors.Is(err, ErrConflict) {
			return v, err
		}
	}
	return 0, Errorf(ErrNameTaken, "the name "+quote(c.conn.Name)+" is already taken in this room")
}

// putMember writes the membership me, guarded by the version of the item
// its writer read (0: absent), and returns the new version. When the item
// changed meanwhile (a mute, or a join of the same session on another Hub)
// it reads it again, keeps its mute (room.mute writes it after the meta,
// so the member item has the latest) and tries again.
func (h *Hub) putMember(ctx context.Context, me memberRec, exp time.Time, version int64) (int64, error) {
	key := memKey(me.room, me.sid)
	for range 5 {
		v, err := h.store.Put(ctx, Item{Key: key, Value: me.value(), Expires: exp}, IfVersion(version))
		if !errors.Is(err, ErrConflict) {
			return v, err
		}
		it, err := h.store.Get(ctx, key)
		switch {
		case errors.Is(err, ErrNotFound):
			version = 0
		case err != nil:
			return 0, err
		default:
			version, me.mute = it.Version, strings.Clone(parseMember(it.Value).mute)
		}
	}
	return 0, Errorf(ErrUnavailable, "the membership is changing too fast, try again")
}

// capped drops from items (message items) those a room of latest seq no
// longer keeps under RoomMessageCap: pruning deletes them in batches (see
// prune), and until it has they are hidden.
func (h *Hub) capped(items []Item, latest int64) []Item {
	limit := int64(h.opts.RoomMessageCap)
	if limit <= 0 {
		return items
	}
	return slices.DeleteFunc(items, func(it Item) bool { return msgSeq(it.Sort) <= latest-limit })
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
// to another connection of the session is left alone. It takes three
// rounds of storage calls: the members and the meta are read; the
// membership is deleted while the name item is read; the name and the
// session's index entry are deleted while the session's games are
// forfeited.
func (h *Hub) leaveRoom(ctx context.Context, rid, sid, conn string) error {
	var m *roomMeta
	var ms []memberRec
	err := atOnce(
		func() (err error) { ms, _, err = h.roomMembers(ctx, rid); return err },
		func() error {
			var err error
			if m, err = h.loadRoom(ctx, rid); errors.Is(err, ErrNotFound) {
				m, err = nil, nil // a deleted room: its members are still cleaned up
			}
			return err
		},
	)
	if err != nil {
		return err
	}
	idx := Key{Partition: sessPart(sid), Sort: roomSort(rid)}
	found := memberOf(ms, sid)
	if found == nil {
		_ = h.store.Delete(ctx, idx, Always)
		return ErrNotMember
	}
	me := *found
	if me.conn != conn {
		return nil
	}
	nk := nameKeyOf(rid, me.name)
	var name Item
	err = atOnce(
		func() error { return h.store.Delete(ctx, memKey(rid, sid), IfVersion(me.version)) },
		func() error { name, _ = h.store.Get(ctx, nk); return nil },
	)
	if errors.Is(err, ErrConflict) {
		return nil // it moved to another connection meanwhile
	} else if err != nil {
		return err
	}
	now := h.opts.Now()
	err = atOnce(
		func() error { return h.store.Delete(ctx, idx, Always) },
		func() error {
			if string(name.Value) == sid {
				_ = h.store.Delete(ctx, nk, IfVersion(name.Version))
			}
			return nil
		},
		func() error { h.forfeitOnLeave(ctx, rid, sid, now); return nil },
	)
	left := slices.DeleteFunc(ms, func(r memberRec) bool { return r.sid == sid })
	frame := mustJSON(presenceEvent{Type: "presence", Room: rid, Event: "leave", Member: Member{ID: sid, Name: me.name}, Members: len(left)})
	h.dropGone(ctx, h.fanout(ctx, left, sid, frame))
	if m != nil {
		h.noteActivity(ctx, m, now, activity{members: len(left)})
	}
	return err
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

// memberCheck checks the calling connection's membership of the frame's
// room in ms, the room's members, and returns it (ErrNotMember if none).
func (c *call) memberCheck(ms []memberRec) (*memberRec, error) {
	me := memberOf(ms, c.conn.Session)
	if me == nil || me.conn != c.connID {
		return nil, ErrNotMember
	}
	return me, nil
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

// handleSend posts a message: three rounds of storage calls. The members
// Query (which the fan-out needs) also tells the sender's membership and
// mute and, from the room's status item, what the meta would; then the
// seq is taken; then the message is stored. Noting the message in the
// room's meta is rare (see roomStatus); pruning (every pruneEvery
// messages) comes after the reply.
func (h *Hub) handleSend(c *call) error {
	rid := c.f.Room
	if rid == "" {
		return Errorf(ErrBadRequest, `missing "room"`)
	}
	turn, err := h.beginPost(c.ctx, rid)
	if err != nil {
		return err
	}
	defer turn.end()
	ms, st, err := h.roomMembers(c.ctx, rid)
	if err != nil {
		return err
	}
	me, err := c.memberCheck(ms)
	if err != nil {
		return err
	}
	if me.muted(c.now) {
		return ErrMuted
	}
	if c.f.Text == nil {
		return Errorf(ErrBadRequest, `missing "text"`)
	}
	m := Message{Room: rid, From: c.member(), Text: *c.f.Text, Time: c.now}
	if err := h.checkText(m.Text); err != nil {
		return err
	}
	if h.opts.OnMessage != nil {
		if err := h.opts.OnMessage(c.ctx, c.session(), &m); err != nil {
			return h.publicError(c.ctx, "OnMessage", err, ErrRejected, c.attrs()...)
		}
		m.Room, m.From, m.System = rid, c.member(), false // the hook may only rewrite the text
		if err := h.checkText(m.Text); err != nil {
			return err
		}
	}
	var room *roomMeta // read only for a room without a status item
	_, isDefault := h.rooms[rid]
	custom := st != nil && st.Custom
	if !isDefault && st == nil {
		if room, err = h.loadRoom(c.ctx, rid); err != nil {
			return err
		}
		custom = room.Custom
	}
	gone, err := h.deliver(c.ctx, turn, &m, custom, ms)
	turn.end()
	if err != nil {
		return err
	}
	// Noted before the reply, so that a client that saw "sent" sees the
	// room as the message left it (in the directory, say).
	a := activity{members: len(ms), seq: m.Seq, active: m.Time.UnixMilli(), poster: m.From.ID}
	if st != nil {
		if extend, talker, show := h.due(*st, c.now, a); extend || talker || show != nil {
			room, _ = h.loadRoom(c.ctx, rid)
		}
	}
	if room != nil && !h.noteActivity(c.ctx, room, c.now, a) && (st == nil || st.Version != room.version) {
		_ = h.putStatus(c.ctx, room) // the status was behind the meta: mend it
	}
	h.reply(c, mustJSON(roomReplyFrame{Type: "sent", ID: c.f.ID, Room: m.Room, Seq: m.Seq}))
	h.afterPost(c.ctx, &m, gone)
	return nil
}

// post assigns m its sequence number, stores it and delivers it to the
// members of room, in seq order within this Hub (for the application's
// and the moderators' messages, who need not be members).
func (h *Hub) post(ctx context.Context, m *Message, room *roomMeta) error {
	turn, err := h.beginPost(ctx, m.Room)
	if err != nil {
		return err
	}
	defer turn.end()
	ms, err := h.members(ctx, m.Room)
	if err != nil {
		return err
	}
	gone, err := h.deliver(ctx, turn, m, room.Custom, ms)
	turn.end()
	if err != nil {
		return err
	}
	h.afterPost(ctx, m, gone)
	h.noteActivity(ctx, room, m.Time, activity{members: len(ms), seq: m.Seq, active: m.Time.UnixMilli(), poster: m.From.ID})
	return nil
}

// deliver takes m's seq, stores m and, once every post of this Hub that may
// hold a lower seq is delivered, fans it out to ms (see roomgate.go). It
// returns the members whose connections are gone.
func (h *Hub) deliver(ctx context.Context, turn *postTurn, m *Message, custom bool, ms []memberRec) ([]memberRec, error) {
	seq, err := h.store.Add(ctx, seqKey(m.Room), 1, h.seqExpiry(custom, m.Time))
	if err != nil {
		return nil, err
	}
	turn.assigned(seq)
	m.Seq = seq
	frame := encodeMessage(m)
	if _, err := h.store.Put(ctx, Item{Key: msgKey(m.Room, seq), Value: frame, Expires: h.messageExpiry(custom, m.Time)}, IfAbsent); err != nil {
		return nil, err
	}
	if err := turn.turn(ctx); err != nil {
		return nil, err
	}
	return h.fanout(ctx, ms, "", frame), nil
}

// pruneEvery is how many messages pass between two prunings of a room.
const pruneEvery = 16

// afterPost does what follows a delivered message: every pruneEvery
// messages the ones beyond RoomMessageCap are deleted in one batch
// (readers hide them meanwhile: see capped), and gone connections are
// dropped.
func (h *Hub) afterPost(ctx context.Context, m *Message, gone []memberRec) {
	if limit := int64(h.opts.RoomMessageCap); limit > 0 && m.Seq > limit && m.Seq%pruneEvery == 0 {
		var dels []Write
		for s := max(1, m.Seq-limit-pruneEvery+1); s <= m.Seq-limit; s++ {
			dels = append(dels, Write{Item: Item{Key: msgKey(m.Room, s)}, Delete: true})
		}
		if err := h.writeMany(ctx, dels); err != nil {
			h.log.WarnContext(ctx, "chatfly: pruning old messages", "room", m.Room, "err", err)
		}
	}
	h.dropGone(ctx, gone)
}

func (h *Hub) handleHistory(c *call) error {
	limit := c.f.Limit
	if limit <= 0 || limit > h.opts.MaxHistoryPage {
		limit = h.opts.MaxHistoryPage
	}
	var msgs []Item
	var more bool
	err := atOnce(
		func() error { return h.membership(c) },
		func() (err error) { msgs, more, err = h.history(c.ctx, c.f.Room, c.f.Before, limit); return err },
	)
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
// (before <= 0: the latest), oldest first, and whether older ones may
// exist: one round of storage calls, the messages and the latest seq (for
// RoomMessageCap).
func (h *Hub) history(ctx context.Context, rid string, before int64, limit int) ([]Item, bool, error) {
	q := Query{Partition: roomPart(rid), Prefix: "msg#", Reverse: true, Limit: limit}
	if before > 0 {
		q.StartAfter = msgSort(before)
	}
	var items []Item
	latest := int64(-1) // unknown: no cap
	err := atOnce(
		func() (err error) { items, err = h.store.Query(ctx, q); return err },
		func() (err error) {
			if h.opts.RoomMessageCap > 0 {
				var sq seqState
				sq, err = h.seqOf(ctx, rid)
				latest = sq.seq
			}
			return err
		},
	)
	if err != nil {
		return nil, false, err
	}
	slices.Reverse(items)
	more := len(items) == limit && msgSeq(items[0].Sort) > 1
	if latest >= 0 {
		kept := h.capped(items, latest)
		more = more && len(kept) == len(items)
		items = kept
	}
	return items, more, nil
}

// mayType checks that the caller is a member of the frame's room, whose
// members are ms, and is not muted.
func (c *call) mayType(ms []memberRec) error {
	me, err := c.memberCheck(ms)
	if err == nil && me.muted(c.now) {
		err = ErrMuted
	}
	return err
}

// handleTyping tells the room that the caller is typing, at most once per
// TypingInterval: one round of storage calls, the members (membership and
// mute) and the window's counter.
func (h *Hub) handleTyping(c *call) error {
	if c.f.Room == "" {
		return Errorf(ErrBadRequest, `missing "room"`)
	}
	w := c.now.UnixNano() / int64(h.opts.TypingInterval)
	key := Key{Partition: "typing#" + c.conn.Session, Sort: c.f.Room + "#" + itoa(w)}
	exp := time.Unix(0, (w+2)*int64(h.opts.TypingInterval))
	var ms []memberRec
	var n int64
	err := atOnce(
		func() (err error) { ms, _, err = h.roomMembers(c.ctx, c.f.Room); return err },
		func() (err error) { n, err = h.store.Add(c.ctx, key, 1, exp); return err },
	)
	if err != nil {
		return err
	}
	if err := c.mayType(ms); err != nil {
		// Not counted: a refused notice does not take its window's turn.
		if _, aerr := h.store.Add(c.ctx, key, -1, exp); aerr != nil {
			h.log.WarnContext(c.ctx, "chatfly: uncounting a refused typing notice", "err", aerr)
		}
		return err
	}
	if limit := h.opts.TypingMaxMembers; n == 1 && (limit < 0 || len(ms) <= limit) { // the first of its window
		frame := mustJSON(typingEvent{Type: "typing", Room: c.f.Room, Member: c.member()})
		h.dropGone(c.ctx, h.fanout(c.ctx, ms, c.conn.Session, frame))
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
