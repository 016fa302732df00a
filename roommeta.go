package chatfly

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// roomMeta is a room's configuration, roles and moderation state. Default
// rooms have no stored meta; other rooms keep it in one item, so every
// moderation change is a single compare-and-set and the room's roles and
// bans expire together with it.
type roomMeta struct {
	RoomConfig
	// Custom rooms were created with room.create: they have an owner and
	// expire after RoomTTL without members or messages.
	Custom bool              `json:"custom,omitempty"`
	Owner  string            `json:"owner,omitempty"`
	Mods   map[string]string `json:"mods,omitempty"` // session id → name
	// Staff are the roles RoomConfig.Owners and Moderators give in an
	// application room, by session id (see staffOf).
	Staff   map[string]string   `json:"staff,omitempty"` // session id → role
	Bans    map[string]banEntry `json:"bans,omitempty"`  // session id → ban
	Mutes   map[string]muteInfo `json:"mutes,omitempty"` // session id → mute
	Pair    []string            `json:"pair,omitempty"`  // a roulette pair room admits only these
	Created int64               `json:"created,omitempty"`
	// Talkers are the first two different sessions that wrote in a custom
	// room: a room with two is worth listing (see admit).
	Talkers []string `json:"talkers,omitempty"`
	// Shown is what the directory shows about a public room, as last written.
	Shown *shown `json:"shown,omitempty"`
	// Slot is 1 + the number of the room's slot under MaxCustomRooms
	// (roomslots.go); 0 for rooms that hold none.
	Slot int `json:"slot,omitempty"`

	version int64     // storage version; 0 for default rooms
	expires time.Time // zero: never
	// created is set once storeRoom has written m as a new item: the room
	// was just created (versions tell nothing about that: a new item
	// starts at a version of the Storage's choosing).
	created bool
}

type banEntry struct {
	Name string `json:"name"`
	Addr string `json:"addr,omitempty"` // AddrKey of the address also banned
	By   string `json:"by"`
	At   int64  `json:"at"`
}

type muteInfo struct {
	Name  string `json:"name"`
	Until int64  `json:"until,omitempty"` // Unix seconds; 0: until unmuted
}

// role returns sid's role in the room: "owner", "moderator" or "".
func (m *roomMeta) role(sid string) string {
	switch {
	case sid == m.Owner && sid != "":
		return RoleOwner
	case m.Staff[sid] != "":
		return m.Staff[sid]
	case m.Mods[sid] != "":
		return RoleModerator
	}
	return ""
}

// memberRole returns a member's role: the higher of the room's role for it
// and the one OnJoin gave its membership.
func (m *roomMeta) memberRole(r memberRec) string {
	role := m.role(r.sid)
	if rankRole(r.role) < rankRole(role) {
		role = r.role
	}
	return role
}

// banned reports whether sid, or the address addr (by its AddrKey: an IPv6
// address by its /64), is banned.
func (m *roomMeta) banned(sid, addr string) bool {
	if _, ok := m.Bans[sid]; ok {
		return true
	}
	key := AddrKey(addr)
	for _, b := range m.Bans {
		if b.Addr != "" && AddrKey(b.Addr) == key {
			return true
		}
	}
	return false
}

// muted reports whether sid may not send at now.
func (m *roomMeta) muted(sid string, now time.Time) bool {
	mu, ok := m.Mutes[sid]
	return ok && (mu.Until == 0 || now.Unix() < mu.Until)
}

// loadRoom returns an existing room: a default room of Options.Rooms, or
// one the application or a user created. Unknown and expired rooms, and
// malformed ids, are ErrNotFound.
func (h *Hub) loadRoom(ctx context.Context, rid string) (*roomMeta, error) {
	if rc, ok := h.rooms[rid]; ok {
		return &roomMeta{RoomConfig: rc}, nil
	}
	if !ValidRoomID(rid) {
		return nil, Errorf(ErrNotFound, "no such room")
	}
	it, err := h.store.Get(ctx, metaKey(rid))
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "no such room")
	}
	if err != nil {
		return nil, err
	}
	m := &roomMeta{version: it.Version, expires: it.Expires}
	return m, json.Unmarshal(it.Value, m)
}

// saveRoom writes m if nobody changed it since it was read (ErrConflict
// otherwise), extending a custom room's life (and its slot's).
func (h *Hub) saveRoom(ctx context.Context, m *roomMeta, now time.Time) error {
	if !m.Custom {
		return h.storeRoom(ctx, m)
	}
	m.expires = now.Add(h.opts.RoomTTL)
	if err := h.storeRoom(ctx, m); err != nil {
		return err
	}
	if m.created {
		return nil // its slot was claimed with the same life
	}
	return h.extendRoomSlot(ctx, m)
}

// storeRoom writes m as it is if nobody changed it since it was read
// (ErrConflict otherwise), and with it its status item and directory entry.
func (h *Hub) storeRoom(ctx context.Context, m *roomMeta) error {
	v, err := h.store.Put(ctx, Item{Key: metaKey(m.ID), Value: mustJSON(m), Expires: m.expires}, IfVersion(m.version))
	if err != nil {
		return err
	}
	m.version, m.created = v, m.version == 0
	return atOnce(func() error { return h.listRoom(ctx, m) }, func() error { return h.putStatus(ctx, m) })
}

// putStatus writes the status item of the room m (see roomStatus).
func (h *Hub) putStatus(ctx context.Context, m *roomMeta) error {
	_, err := h.store.Put(ctx, Item{Key: statusKey(m.ID), Value: mustJSON(m.status()), Expires: m.expires}, Always)
	return err
}

// listRoom puts a public room in the directory, or takes a private one out.
// A custom room that is not listed yet must be admitted (see admit).
func (h *Hub) listRoom(ctx context.Context, m *roomMeta) error {
	key := Key{Partition: directoryPart, Sort: m.ID}
	if !m.Public {
		return h.store.Delete(ctx, key, Always)
	}
	it := Item{Key: key, Value: mustJSON(m.entry()), Expires: m.expires}
	if !m.Custom {
		_, err := h.store.Put(ctx, it, Always) // the application's rooms are always listed
		return err
	}
	if !m.created {
		if _, err := h.store.Put(ctx, it, IfExists); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return h.admit(ctx, it)
}

// updateRoom applies change to the room's stored meta with compare-and-set,
// retrying when another Hub changed it meanwhile. Default rooms have no
// stored state and roulette pair rooms no roles, so changing them is
// forbidden.
func (h *Hub) updateRoom(ctx context.Context, rid string, now time.Time, change func(*roomMeta) error) (*roomMeta, error) {
	for range 20 {
		m, err := h.loadRoom(ctx, rid)
		if err != nil {
			return nil, err
		}
		if m.version == 0 || len(m.Pair) > 0 {
			return nil, Errorf(ErrForbidden, "this room has no owner and cannot be moderated")
		}
		if err := change(m); err != nil {
			return nil, err
		}
		if err := h.saveRoom(ctx, m, now); !errors.Is(err, ErrConflict) {
			return m, err
		}
	}
	return nil, Errorf(ErrUnavailable, "the room is changing too fast, try again")
}

// keepAlive extends the life of a custom room that is in use: at most a few
// writes per RoomTTL, when a quarter of it has passed since the last one.
// Failures are left to the next activity.
func (h *Hub) keepAlive(ctx context.Context, m *roomMeta, now time.Time) {
	h.noteActivity(ctx, m, now, activity{members: -1})
}

// activity is what an event tells about a room: its number of members (-1:
// unknown), and for a message its seq, time and sender.
type activity struct {
	members int
	seq     int64
	active  int64  // Unix ms
	poster  string // session id; "" for system messages
}

// roomStatus is the part of a room's meta that a send needs: whether the
// message is worth noting in the meta (see noteActivity) and how long the
// message and the room's seq live. The Hub writes it in the room's status
// item with every write of the meta, and a send reads it with the members
// (one Query) instead of reading the meta, which holds up to ~100 KB of
// bans and mutes. Writes of two Hubs may leave it behind the meta: the
// send that acts on a stale status reads the meta and mends it.
type roomStatus struct {
	Custom  bool     `json:"c,omitempty"`
	Public  bool     `json:"p,omitempty"`
	Talkers []string `json:"k,omitempty"`
	Shown   *shown   `json:"s,omitempty"`
	Expires int64    `json:"x,omitempty"` // Unix s; 0: never
	Version int64    `json:"v"`           // of the meta it was written with
}

// status is m's roomStatus.
func (m *roomMeta) status() roomStatus {
	s := roomStatus{Custom: m.Custom, Public: m.Public, Talkers: m.Talkers, Shown: m.Shown, Version: m.version}
	if !m.expires.IsZero() {
		s.Expires = m.expires.Unix()
	}
	return s
}

// due decides what activity a at now changes in a room of status s:
// whether it extends the room's life (see keepAlive), whether its poster
// becomes one of the first two people who wrote in it, and what the
// directory should show, if that changed enough to write it now (see
// shown.update; nil otherwise).
func (h *Hub) due(s roomStatus, now time.Time, a activity) (extend, talker bool, show *shown) {
	var expires time.Time
	if s.Expires != 0 {
		expires = time.Unix(s.Expires, 0)
	}
	extend = s.Custom && expires.Sub(now) <= h.opts.RoomTTL*3/4
	talker = s.Custom && a.poster != "" && len(s.Talkers) < 2 && !slices.Contains(s.Talkers, a.poster)
	if s.Public {
		next, due := s.Shown.update(a, now)
		if due || extend || talker {
			show = &next
		}
	}
	return extend, talker, show
}

// noteActivity keeps a room's stored meta up to date with an event, in one
// write (and the directory entry's) that is rare by design: it extends a
// custom room's life (see keepAlive), records the first two people who wrote in it, and refreshes
// what the directory shows about it when that changed enough (see
// shown.update). It reports whether it wrote. Failures are left to the
// next activity.
func (h *Hub) noteActivity(ctx context.Context, m *roomMeta, now time.Time, a activity) bool {
	if m.version == 0 {
		return false // a default room: nothing stored
	}
	extend, talker, show := h.due(m.status(), now, a)
	if talker {
		m.Talkers = append(m.Talkers, a.poster)
	}
	if show != nil {
		m.Shown = show
	}
	var err error
	switch {
	case extend:
		err = h.saveRoom(ctx, m, now)
		if err == nil && a.seq == 0 {
			// The sequence counter lives as long as the room (a message
			// has just extended it). Touch keeps its version, so the room's
			// epoch (RoomInfo.Epoch) stays; Add(0) bumps it, and clients
			// then see a reset (PROTOCOL.md).
			if t, ok := h.store.(Toucher); ok {
				if err = t.Touch(ctx, seqKey(m.ID), h.seqExpiry(m.Custom, now), Always); errors.Is(err, ErrConflict) {
					err = nil // no message yet: nothing to keep
				}
			} else {
				_, err = h.store.Add(ctx, seqKey(m.ID), 0, h.seqExpiry(m.Custom, now))
			}
		}
	case talker || show != nil:
		err = h.storeRoom(ctx, m)
	default:
		return false
	}
	if err != nil && !errors.Is(err, ErrConflict) {
		h.log.WarnContext(ctx, "chatfly: extending room", "room", m.ID, "err", err)
	}
	return err == nil
}

// seqExpiry is when a room's sequence counter may be forgotten: never for
// default and application rooms; for custom rooms, with the room.
func (h *Hub) seqExpiry(custom bool, now time.Time) time.Time {
	if !custom {
		return time.Time{}
	}
	return now.Add(h.opts.RoomTTL)
}

// messageExpiry is when a message posted at t expires: after MessageTTL,
// and in custom rooms no later than the room could expire, so that a room
// goes with all its messages.
func (h *Hub) messageExpiry(custom bool, t time.Time) time.Time {
	ttl := h.opts.MessageTTL
	if custom {
		ttl = min(ttl, h.opts.RoomTTL)
	}
	return t.Add(ttl)
}

// withRoles returns ms as protocol members, with their roles in m.
func withRoles(ms []memberRec, m *roomMeta) []Member {
	out := make([]Member, len(ms))
	for i, r := range ms {
		out[i] = Member{ID: r.sid, Name: r.name, Role: m.memberRole(r)}
	}
	slices.SortStableFunc(out, func(a, b Member) int { return rankRole(a.Role) - rankRole(b.Role) })
	return out
}

func rankRole(role string) int {
	switch role {
	case RoleOwner:
		return 0
	case RoleModerator:
		return 1
	}
	return 2
}
