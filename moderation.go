package chatfly

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Custom rooms: room.create and the owner's and moderators' room.* actions.
// Roles are bound to session ids, which a resume token (or a verified user
// id) keeps across connections; every check is made here, server-side.

func (h *Hub) registerRoomActions() {
	h.handlers["room.create"] = h.handleRoomCreate
	h.handlers["room.bans"] = h.handleRoomBans
	for action, spec := range moderationActions {
		h.handlers[action] = func(c *call) error { return h.moderate(c, spec) }
	}
}

// moderationAction describes one room.* action.
type moderationAction struct {
	name string
	// owner: only the owner may do it; otherwise moderators may too, on
	// members without a role.
	owner bool
	// target: the action names a member ("member": session id), who must
	// be in the room unless offline is set.
	target, offline bool
	apply           func(h *Hub, c *call, m *roomMeta, t *Member) error
	text            func(by, t *Member, c *call, m *roomMeta) string
}

var moderationActions = map[string]*moderationAction{
	"room.update":   {name: "update", owner: true, apply: applyUpdate, text: updateText},
	"room.delete":   {name: "delete", owner: true},
	"room.promote":  {name: "promote", owner: true, target: true, apply: applyPromote, text: say("%by made %t a moderator", "%t is now a moderator")},
	"room.demote":   {name: "demote", owner: true, target: true, offline: true, apply: applyDemote, text: say("%by removed %t as moderator", "%t is no longer a moderator")},
	"room.transfer": {name: "transfer", owner: true, target: true, apply: applyTransfer, text: say("%by made %t the owner", "%t is now the owner")},
	"room.kick":     {name: "kick", target: true, text: sayReason("%by kicked %t", "%t was kicked")},
	"room.ban":      {name: "ban", target: true, offline: true, apply: applyBan, text: sayReason("%by banned %t", "%t was banned")},
	"room.unban":    {name: "unban", target: true, offline: true, apply: applyUnban, text: say("%by unbanned %t", "%t was unbanned")},
	"room.mute":     {name: "mute", target: true, apply: applyMute, text: muteText},
	"room.unmute":   {name: "unmute", target: true, offline: true, apply: applyUnmute, text: say("%by unmuted %t", "%t was unmuted")},
}

// moderationEvent announces a change to everyone in the room.
type moderationEvent struct {
	Type   string    `json:"type"` // "moderation"
	Room   string    `json:"room"`
	Action string    `json:"action"`
	By     *Member   `json:"by,omitempty"` // absent: the application (server-side calls)
	Target *Member   `json:"target,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Until  int64     `json:"until,omitempty"` // end of a mute, Unix ms
	Info   *RoomInfo `json:"info,omitempty"`  // the room after an update
}

type roomCreatedFrame struct {
	Type string          `json:"type"` // "room.created"
	ID   json.RawMessage `json:"id,omitempty"`
	Room RoomInfo        `json:"room"`
}

func (h *Hub) handleRoomCreate(c *call) error {
	name, err := CleanName(c.f.Name, 64)
	if err != nil {
		return Errorf(ErrBadRequest, "room name: "+strings.TrimPrefix(err.(*Error).Message, "name "))
	}
	public, err := parseVisibility(c.f.Visibility, false)
	if err != nil {
		return err
	}
	topic, err := h.cleanTopic(c.f.Topic)
	if err != nil {
		return err
	}
	ok, err := h.allowCreate(c)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(ErrTooMany, "you created too many rooms in the last hour (at most "+itoa(int64(h.opts.RoomsPerHour))+")")
	}
	if err := h.allowRoomCreate(c); err != nil {
		return err
	}
	m := &roomMeta{
		RoomConfig: RoomConfig{ID: newID(), Name: name, Topic: topic, Public: public},
		Custom:     true,
		Owner:      c.conn.Session,
		Created:    c.now.Unix(),
	}
	if err := h.checkCreate(c, m); err != nil {
		return err
	}
	if err := h.claimRoomSlot(c, m); err != nil {
		return err
	}
	if err := h.saveRoom(c.ctx, m, c.now); err != nil {
		h.releaseRoomSlot(c.ctx, m)
		return err
	}
	info, err := h.roomInfo(c.ctx, m, 0)
	if err != nil {
		return err
	}
	h.reply(c, mustJSON(roomCreatedFrame{Type: "room.created", ID: c.f.ID, Room: info}))
	return nil
}

// allowCreate counts a room creation against the identity's hourly limit.
func (h *Hub) allowCreate(c *call) (bool, error) {
	hour := c.now.Unix() / 3600
	n, err := h.store.Add(c.ctx, Key{Partition: "rcreate#" + c.conn.Session, Sort: itoa(hour)}, 1, time.Unix((hour+2)*3600, 0))
	return n <= int64(h.opts.RoomsPerHour), err
}

func parseVisibility(v string, current bool) (bool, error) {
	switch v {
	case "":
		return current, nil
	case "public":
		return true, nil
	case "private":
		return false, nil
	}
	return false, Errorf(ErrBadRequest, `visibility is "public" or "private"`)
}

func (h *Hub) cleanTopic(t *string) (string, error) {
	if t == nil {
		return "", nil
	}
	return cleanLine("topic", *t, h.opts.MaxTopicRunes)
}

// cleanLine trims a one-line free text field (a topic, a reason) and checks
// it: at most limit characters (too_long) and no control characters.
func cleanLine(field, s string, limit int) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > limit {
		return "", Errorf(ErrTooLong, field+" is longer than "+itoa(int64(limit))+" characters")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", Errorf(ErrBadRequest, field+" contains control characters")
	}
	return s, nil
}

// moderate runs one room.* action: permission checks, the change to the
// room's meta (one compare-and-set), the announcement, and for kick, ban
// and delete the removal of members.
func (h *Hub) moderate(c *call, a *moderationAction) error {
	rid := c.f.Room
	if rid == "" {
		return Errorf(ErrBadRequest, `missing "room"`)
	}
	reason, err := cleanLine("reason", c.f.Reason, h.opts.MaxReasonRunes)
	if err != nil {
		return err
	}
	c.f.Reason = reason
	by := c.member()
	var target *Member
	var targetConn, targetJoinRole string
	if a.target {
		if c.f.Member == "" {
			return Errorf(ErrBadRequest, `missing "member" (a session id)`)
		}
		if c.f.Member == by.ID {
			return Errorf(ErrForbidden, "you cannot do that to yourself")
		}
		target = &Member{ID: c.f.Member}
		it, err := h.store.Get(c.ctx, memKey(rid, c.f.Member))
		switch {
		case err == nil:
			mr := parseMember(it.Value)
			target.Name, targetConn, targetJoinRole = strings.Clone(mr.name), strings.Clone(mr.conn), strings.Clone(mr.role)
		case !errors.Is(err, ErrNotFound):
			return err
		}
	}
	byJoinRole, err := h.joinRole(c, rid)
	if err != nil {
		return err
	}

	m, err := h.updateRoom(c.ctx, rid, c.now, func(m *roomMeta) error {
		by.Role = higherRole(m.role(by.ID), byJoinRole)
		if target != nil {
			target.Role = higherRole(m.role(target.ID), targetJoinRole)
		}
		if !c.server && !allowed(a, by.Role, target) || a.name == "transfer" && !m.Custom {
			return Errorf(ErrForbidden, "you may not "+a.name+" here")
		}
		if target != nil && target.Name == "" {
			target.Name = knownName(m, target.ID)
			if target.Name == "" || (!a.offline && targetConn == "") {
				return Errorf(ErrNotMember, "that person is not in the room")
			}
		}
		if a.name == "delete" {
			return nil
		}
		if a.apply != nil {
			return a.apply(h, c, m, target)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if a.name == "delete" {
		return h.deleteRoom(c, m, by)
	}
	if a.name == "mute" || a.name == "unmute" {
		mu, ok := m.Mutes[target.ID]
		if err := h.setMute(c.ctx, rid, target.ID, muteField(mu, ok)); err != nil {
			return err
		}
	}

	ev := moderationEvent{Type: "moderation", Room: rid, Action: a.name, By: c.actor(by), Target: target, Reason: c.f.Reason}
	if target != nil {
		target.Role = higherRole(m.role(target.ID), targetJoinRole)
		if mu, ok := m.Mutes[target.ID]; ok && a.name == "mute" && mu.Until > 0 {
			ev.Until = mu.Until * 1000
		}
	}
	if a.name == "update" {
		ms, err := h.members(c.ctx, rid)
		if err != nil {
			return err
		}
		info, err := h.roomInfo(c.ctx, m, len(ms))
		if err != nil {
			return err
		}
		ev.Info = &info
	}
	if err := h.announce(c.ctx, m, ev, a.text(&by, target, c, m), c.now); err != nil {
		return err
	}
	if (a.name == "kick" || a.name == "ban") && targetConn != "" {
		if err := h.leaveRoom(c.ctx, rid, target.ID, targetConn); err != nil && !errors.Is(err, ErrNotMember) {
			return err
		}
	}
	h.reply(c, mustJSON(roomReplyFrame{Type: "ok", ID: c.f.ID, Room: rid}))
	return nil
}

// allowed is the permission table: owners may do everything to anyone but
// themselves; moderators may kick, ban, unban, mute and unmute members
// without a role; members may do nothing. Roles are the actor's and the
// target's (with their OnJoin roles). The application (server-side calls)
// may do everything.
func allowed(a *moderationAction, role string, target *Member) bool {
	switch role {
	case RoleOwner:
		return true
	case RoleModerator:
		return !a.owner && (target == nil || target.Role == "")
	}
	return false
}

// joinRole returns the role OnJoin gave the calling session's membership of
// room rid, if it is in the room (one storage read; none for the
// application's own calls).
func (h *Hub) joinRole(c *call, rid string) (string, error) {
	if c.server || h.opts.OnJoin == nil {
		return "", nil
	}
	it, err := h.store.Get(c.ctx, memKey(rid, c.conn.Session))
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.Clone(parseMember(it.Value).role), nil
}

// higherRole returns the higher of two roles.
func higherRole(a, b string) string {
	if rankRole(b) < rankRole(a) {
		return b
	}
	return a
}

// knownName finds the name of someone who is not in the room but whom the
// room remembers (a banned, muted or moderator identity).
func knownName(m *roomMeta, sid string) string {
	if b, ok := m.Bans[sid]; ok {
		return b.Name
	}
	if mu, ok := m.Mutes[sid]; ok {
		return mu.Name
	}
	return m.Mods[sid]
}

// announce tells the room about a moderation action: the structured event
// for clients to update their views, and a system message for the history.
func (h *Hub) announce(ctx context.Context, m *roomMeta, ev moderationEvent, text string, now time.Time) error {
	ms, err := h.members(ctx, m.ID)
	if err != nil {
		return err
	}
	h.dropGone(ctx, h.fanout(ctx, ms, "", mustJSON(ev)))
	msg := Message{Room: m.ID, Text: text, Time: now, System: true}
	return h.post(ctx, &msg, m)
}

// deleteRoom removes a room: everyone in it is told with one moderation
// event and then removed without presence events (the room is gone for all
// of them at once), and the room, its roles and its directory entry are
// deleted. Its messages and games become unreachable at once and are dropped
// by their own expiry.
func (h *Hub) deleteRoom(c *call, m *roomMeta, by Member) error {
	ms, err := h.members(c.ctx, m.ID)
	if err != nil {
		return err
	}
	h.dropGone(c.ctx, h.fanout(c.ctx, ms, "", mustJSON(moderationEvent{Type: "moderation", Room: m.ID, Action: "delete", By: c.actor(by)})))
	if err := h.store.Delete(c.ctx, metaKey(m.ID), IfVersion(m.version)); err != nil {
		return err
	}
	h.releaseRoomSlot(c.ctx, m)
	if err := h.store.Delete(c.ctx, statusKey(m.ID), Always); err != nil {
		return err
	}
	m.Public = false
	if err := h.listRoom(c.ctx, m); err != nil {
		return err
	}
	for _, mr := range ms {
		if err := h.dropMember(c.ctx, m.ID, mr); err != nil {
			return err
		}
	}
	h.reply(c, mustJSON(roomReplyFrame{Type: "ok", ID: c.f.ID, Room: m.ID}))
	return nil
}

// dropMember removes a member of a deleted room: the membership, the name
// it holds and the session's index entry, three unconditional deletes with
// nothing read and nobody told.
func (h *Hub) dropMember(ctx context.Context, rid string, mr memberRec) error {
	for _, k := range []Key{memKey(rid, mr.sid), nameKeyOf(rid, mr.name), {Partition: sessPart(mr.sid), Sort: roomSort(rid)}} {
		if err := h.store.Delete(ctx, k, Always); err != nil {
			return err
		}
	}
	return nil
}

func applyUpdate(h *Hub, c *call, m *roomMeta, _ *Member) error {
	if c.f.Name == "" && c.f.Topic == nil && c.f.Visibility == "" {
		return Errorf(ErrBadRequest, `nothing to update: give "name", "topic" or "visibility"`)
	}
	if c.f.Name != "" {
		name, err := CleanName(c.f.Name, 64)
		if err != nil {
			return Errorf(ErrBadRequest, "room name: "+strings.TrimPrefix(err.(*Error).Message, "name "))
		}
		m.Name = name
	}
	if c.f.Topic != nil {
		topic, err := h.cleanTopic(c.f.Topic)
		if err != nil {
			return err
		}
		m.Topic = topic
	}
	public, err := parseVisibility(c.f.Visibility, m.Public)
	m.Public = public
	return err
}

func applyPromote(_ *Hub, _ *call, m *roomMeta, t *Member) error {
	if m.Mods == nil {
		m.Mods = map[string]string{}
	}
	m.Mods[t.ID] = t.Name
	return nil
}

func applyDemote(_ *Hub, _ *call, m *roomMeta, t *Member) error {
	if m.Mods[t.ID] == "" {
		return Errorf(ErrBadRequest, "that person is not a moderator")
	}
	delete(m.Mods, t.ID)
	return nil
}

// applyTransfer makes the target the owner; the old owner stays on as a
// moderator.
func applyTransfer(_ *Hub, c *call, m *roomMeta, t *Member) error {
	if m.Mods == nil {
		m.Mods = map[string]string{}
	}
	delete(m.Mods, t.ID)
	m.Mods[m.Owner] = c.conn.Name
	m.Owner = t.ID
	return nil
}

func applyBan(h *Hub, c *call, m *roomMeta, t *Member) error {
	if len(m.Bans) >= h.opts.MaxBansPerRoom {
		return Errorf(ErrTooMany, "the ban list is full")
	}
	b := banEntry{Name: t.Name, By: c.conn.Session, At: c.now.Unix()}
	if c.f.Address {
		if it, err := h.store.Get(c.ctx, memKey(m.ID, t.ID)); err == nil {
			if cit, err := h.store.Get(c.ctx, connKey(parseMember(it.Value).conn)); err == nil {
				var rec connRecord
				if json.Unmarshal(cit.Value, &rec) == nil {
					b.Addr = AddrKey(rec.Addr)
				}
			}
		}
	}
	if m.Bans == nil {
		m.Bans = map[string]banEntry{}
	}
	m.Bans[t.ID] = b
	delete(m.Mods, t.ID)
	return nil
}

func applyUnban(_ *Hub, _ *call, m *roomMeta, t *Member) error {
	if _, ok := m.Bans[t.ID]; !ok {
		return Errorf(ErrBadRequest, "that person is not banned")
	}
	delete(m.Bans, t.ID)
	return nil
}

func applyMute(h *Hub, c *call, m *roomMeta, t *Member) error {
	if most := int64(h.opts.MaxMuteDuration / time.Second); c.f.Duration < 0 || c.f.Duration > most {
		return Errorf(ErrBadRequest, "duration is a number of seconds from 0 (until unmuted) to "+itoa(most)+" ("+humanDuration(h.opts.MaxMuteDuration)+")")
	}
	mu := muteInfo{Name: t.Name}
	if c.f.Duration > 0 {
		mu.Until = c.now.Unix() + c.f.Duration
	}
	if m.Mutes == nil {
		m.Mutes = map[string]muteInfo{}
	}
	m.Mutes[t.ID] = mu
	return nil
}

func applyUnmute(_ *Hub, _ *call, m *roomMeta, t *Member) error {
	if _, ok := m.Mutes[t.ID]; !ok {
		return Errorf(ErrBadRequest, "that person is not muted")
	}
	delete(m.Mutes, t.ID)
	return nil
}

// say returns a text function for a system message: %by and %t are
// replaced by the names of the actor and the target; the passive form is
// for the application's own actions, which have no actor.
func say(active, passive string) func(by, t *Member, c *call, m *roomMeta) string {
	return func(by, t *Member, c *call, _ *roomMeta) string {
		format := active
		if c.server {
			format = passive
		}
		return strings.NewReplacer("%by", by.Name, "%t", t.Name).Replace(format)
	}
}

func sayReason(active, passive string) func(by, t *Member, c *call, m *roomMeta) string {
	base := say(active, passive)
	return func(by, t *Member, c *call, m *roomMeta) string {
		s := base(by, t, c, m)
		if c.f.Reason != "" {
			s += ": " + c.f.Reason
		}
		return s
	}
}

func muteText(by, t *Member, c *call, _ *roomMeta) string {
	s := by.Name + " muted " + t.Name
	if c.server {
		s = t.Name + " was muted"
	}
	if c.f.Duration > 0 {
		s += " for " + humanDuration(time.Duration(c.f.Duration)*time.Second)
	}
	return s
}

// durationUnits are the units of humanDuration, largest first.
var durationUnits = []struct {
	d    time.Duration
	name string
}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}}

// humanDuration spells d out for people, to the second: "5 minutes",
// "1 hour 30 minutes", "2 days" (not Go's "5m0s").
func humanDuration(d time.Duration) string {
	var parts []string
	for _, u := range durationUnits {
		n := int64(d / u.d)
		if n == 0 {
			continue
		}
		d -= time.Duration(n) * u.d
		p := itoa(n) + " " + u.name
		if n != 1 {
			p += "s"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "0 seconds"
	}
	return strings.Join(parts, " ")
}

func updateText(by, _ *Member, c *call, m *roomMeta) string {
	var parts []string
	if c.f.Name != "" {
		parts = append(parts, "renamed the room to "+m.Name)
	}
	if c.f.Topic != nil {
		if m.Topic == "" {
			parts = append(parts, "cleared the topic")
		} else {
			parts = append(parts, "set the topic to "+m.Topic)
		}
	}
	if c.f.Visibility != "" {
		if m.Public {
			parts = append(parts, "made the room public")
		} else {
			parts = append(parts, "made the room private")
		}
	}
	if c.server {
		return "The room was updated: " + strings.Join(parts, ", ")
	}
	return by.Name + " " + strings.Join(parts, ", ")
}

// setMute writes a mute (see memberRec.mute; "": none) into sid's member
// item in rid, if sid is a member, after the room's meta got it: a send
// reads the member item, a join copies the meta's mutes into it.
func (h *Hub) setMute(ctx context.Context, rid, sid, mute string) error {
	key := memKey(rid, sid)
	for range 5 {
		it, err := h.store.Get(ctx, key)
		if errors.Is(err, ErrNotFound) {
			return nil // not in the room: a join copies the mute
		}
		if err != nil {
			return err
		}
		r := parseMember(it.Value)
		if r.mute == mute {
			return nil
		}
		r.mute = mute
		if _, err = h.store.Put(ctx, Item{Key: key, Value: r.value(), Expires: it.Expires}, IfVersion(it.Version)); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return Errorf(ErrUnavailable, "the membership is changing too fast, try again")
}

// checkMuted refuses an action of a muted member with ErrMuted: typing,
// and opening or joining a game (a way to be seen by the whole room). It
// costs one storage read in rooms with stored meta, none in default rooms
// (which cannot be moderated).
func (h *Hub) checkMuted(c *call) error {
	m, err := h.loadRoom(c.ctx, c.f.Room)
	if err != nil {
		return err
	}
	if m.muted(c.conn.Session, c.now) {
		return ErrMuted
	}
	return nil
}

// handleRoomBans lists a room's bans and mutes for its owner and
// moderators, so that they can lift them.
func (h *Hub) handleRoomBans(c *call) error {
	if c.f.Room == "" {
		return Errorf(ErrBadRequest, `missing "room"`)
	}
	m, err := h.loadRoom(c.ctx, c.f.Room)
	if err != nil {
		return err
	}
	joinRole, err := h.joinRole(c, c.f.Room)
	if err != nil {
		return err
	}
	if higherRole(m.role(c.conn.Session), joinRole) == "" {
		return Errorf(ErrForbidden, "only the owner and moderators see the ban list")
	}
	type ban struct {
		Member
		At      int64 `json:"at"` // Unix ms
		Address bool  `json:"address,omitempty"`
	}
	type mute struct {
		Member
		Until int64 `json:"until,omitempty"` // Unix ms; absent: until unmuted
	}
	bans, mutes := []ban{}, []mute{}
	for sid, b := range m.Bans {
		bans = append(bans, ban{Member{ID: sid, Name: b.Name}, b.At * 1000, b.Addr != ""})
	}
	for sid, mu := range m.Mutes {
		if m.muted(sid, c.now) {
			mutes = append(mutes, mute{Member{ID: sid, Name: mu.Name}, mu.Until * 1000})
		}
	}
	slices.SortFunc(bans, func(a, b ban) int { return cmp.Compare(a.At, b.At) })
	slices.SortFunc(mutes, func(a, b mute) int { return strings.Compare(a.Name, b.Name) })
	h.reply(c, mustJSON(struct {
		Type  string          `json:"type"`
		ID    json.RawMessage `json:"id,omitempty"`
		Room  string          `json:"room"`
		Bans  []ban           `json:"bans"`
		Mutes []mute          `json:"mutes"`
	}{"room.bans", c.f.ID, c.f.Room, bans, mutes}))
	return nil
}
