package chatfly

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The room directory: the rooms action lists public rooms a page at a time,
// room.info describes one room by id.

type roomInfoFrame struct {
	Type string          `json:"type"` // "room.info"
	ID   json.RawMessage `json:"id,omitempty"`
	Room RoomInfo        `json:"room"`
}

// pageRoom is a room in the order pages list them.
type pageRoom struct {
	RoomInfo
	order int // its place in Options.Rooms; len(Options.Rooms) for the others
}

// comparePlace orders rooms as pages list them: busiest first, then the
// most recently active, then the default rooms in their order, then by id.
func comparePlace(a, b pageRoom) int {
	if c := cmp.Compare(b.Members, a.Members); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Active, a.Active); c != 0 {
		return c
	}
	if c := cmp.Compare(a.order, b.order); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// A cursor is the place of the last room of a page, so the next page starts
// after it even if that room is gone or moved meanwhile.
func (p *pageRoom) cursor() string {
	s := itoa(int64(p.Members)) + "." + itoa(p.Active) + "." + itoa(int64(p.order)) + "." + p.ID
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func parseCursor(s string) (pageRoom, bool) {
	var p pageRoom
	b, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.SplitN(string(b), ".", 4)
	if err != nil || len(parts) != 4 || !ValidRoomID(parts[3]) {
		return p, false
	}
	m, err1 := strconv.Atoi(parts[0])
	a, err2 := strconv.ParseInt(parts[1], 10, 64)
	o, err3 := strconv.Atoi(parts[2])
	p.Members, p.Active, p.order, p.ID = m, a, o, parts[3]
	return p, err1 == nil && err2 == nil && err3 == nil
}

// handleRooms answers one page of the public rooms, default and listed,
// in the order of comparePlace.
func (h *Hub) handleRooms(c *call) error {
	page, more, err := h.roomsPage(c.ctx, c.f.Cursor, c.f.Limit)
	if err != nil {
		return err
	}
	encode := func() []byte {
		f := roomsFrame{Type: "rooms", ID: c.f.ID, Rooms: make([]RoomInfo, len(page))}
		for i := range page {
			f.Rooms[i] = page[i].RoomInfo
		}
		if more {
			f.Next = page[len(page)-1].cursor()
		}
		return mustJSON(f)
	}
	frame := encode()
	for h.maxSend > 0 && len(frame) > h.maxSend && len(page) > 1 {
		page, more = page[:len(page)*3/4], true // the rest on the next page
		frame = encode()
	}
	h.reply(c, frame)
	return nil
}

// roomsPage returns the page of public rooms after cursor ("": the first),
// of at most limit rooms (0: Options.RoomsPage), and whether more follow.
func (h *Hub) roomsPage(ctx context.Context, cursor string, limit int) ([]pageRoom, bool, error) {
	if limit == 0 {
		limit = h.opts.RoomsPage
	}
	if limit < 0 || limit > h.opts.MaxRoomsPage {
		return nil, false, Errorf(ErrBadRequest, "limit is 1 to "+itoa(int64(h.opts.MaxRoomsPage)))
	}
	var after *pageRoom
	if cursor != "" {
		p, ok := parseCursor(cursor)
		if !ok {
			return nil, false, Errorf(ErrBadRequest, "the cursor is not one this server gave")
		}
		after = &p
	}
	rooms, err := h.listing(ctx)
	if err != nil {
		return nil, false, err
	}
	slices.SortFunc(rooms, comparePlace)
	start := 0
	if after != nil {
		i, found := slices.BinarySearchFunc(rooms, *after, comparePlace)
		start = i + boolInt(found)
	}
	page := rooms[start:min(start+limit, len(rooms))]
	return page, start+len(page) < len(rooms), nil
}

// listing returns every public room: the default ones with their live
// occupancy, the others as the directory shows them. The storage calls are
// bounded (one Query of the directory, three calls per public default room)
// and made in parallel.
func (h *Hub) listing(ctx context.Context) ([]pageRoom, error) {
	var rooms []pageRoom
	for i, rc := range h.opts.Rooms {
		if rc.Public {
			rooms = append(rooms, pageRoom{RoomInfo: RoomInfo{ID: rc.ID}, order: i})
		}
	}
	errs := make([]error, len(rooms)+1)
	var dir []listed
	var wg sync.WaitGroup
	wg.Go(func() { dir, errs[0] = h.directory(ctx) })
	for i := range rooms {
		wg.Go(func() {
			rooms[i].RoomInfo, errs[i+1] = h.describe(ctx, &roomMeta{RoomConfig: h.rooms[rooms[i].ID]})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for _, l := range dir {
		if _, ok := h.rooms[l.it.Sort]; ok {
			continue // a default room's id taken by a stored room before it became one
		}
		rooms = append(rooms, pageRoom{RoomInfo: RoomInfo{
			ID: l.it.Sort, Name: l.Name, Topic: l.Topic, Public: true, Custom: l.Custom,
			Members: l.Members, Seq: l.Seq, Active: l.Active,
		}, order: len(h.opts.Rooms)})
	}
	return rooms, nil
}

// handleRoomInfo describes one room by its id. Whoever has the id of a
// private room has its link, so private rooms are described too; an unknown
// id is not_found, exactly like a room that never existed.
func (h *Hub) handleRoomInfo(c *call) error {
	if c.f.Room == "" {
		return Errorf(ErrBadRequest, `missing "room"`)
	}
	m, err := h.loadRoom(c.ctx, c.f.Room)
	if err != nil {
		return err
	}
	if !m.admits(c.conn.Session) {
		return Errorf(ErrNotFound, "no such room")
	}
	info, err := h.describe(c.ctx, m)
	if err != nil {
		return err
	}
	h.reply(c, mustJSON(roomInfoFrame{Type: "room.info", ID: c.f.ID, Room: info}))
	return nil
}

// describe returns a room's current description: its occupancy, latest seq
// and the time of its latest message.
func (h *Hub) describe(ctx context.Context, m *roomMeta) (RoomInfo, error) {
	ms, err := h.members(ctx, m.ID)
	if err != nil {
		return RoomInfo{}, err
	}
	info, err := h.roomInfo(ctx, m, len(ms))
	if err != nil {
		return info, err
	}
	info.Active, err = h.lastActive(ctx, m.ID)
	return info, err
}

// lastActive returns when the latest message of a room was posted, in Unix
// milliseconds, or 0 if it has none.
func (h *Hub) lastActive(ctx context.Context, rid string) (int64, error) {
	last, err := h.store.Query(ctx, Query{Partition: roomPart(rid), Prefix: "msg#", Reverse: true, Limit: 1})
	if err != nil || len(last) == 0 {
		return 0, err
	}
	msg, err := decodeMessage(last[0].Value)
	if err != nil {
		return 0, nil // a damaged message does not hide the room
	}
	return msg.Time.UnixMilli(), nil
}

// The directory partition holds one item per listed room (default rooms
// are not stored): its value is a dirEntry, the summary a page shows, so a
// page is one Query of the partition whatever the number of rooms. The
// partition holds at most Options.MaxListedRooms custom rooms (see admit),
// which bounds that Query.

// dirEntry is the value of a directory item.
type dirEntry struct {
	Name    string `json:"n"`
	Topic   string `json:"t,omitempty"`
	Members int    `json:"m,omitempty"`
	Seq     int64  `json:"s,omitempty"`
	Active  int64  `json:"a,omitempty"` // Unix ms of the latest message
	Custom  bool   `json:"c,omitempty"`
	Talked  bool   `json:"k,omitempty"` // two different people wrote in it
}

// shown is the part of a room's directory entry that activity changes, as
// last written; the room's meta keeps it to decide when to write again.
type shown struct {
	Members int   `json:"m,omitempty"`
	Seq     int64 `json:"s,omitempty"`
	Active  int64 `json:"a,omitempty"`
	At      int64 `json:"at,omitempty"` // Unix s of the write
}

// directoryRefresh is how stale a room's entry may get while only its
// messages or a few of its members change.
const directoryRefresh = time.Minute

// update returns what the directory should show after activity a, and
// whether that is worth a write now: the first listing, the first message,
// a change of members by one in small rooms and by a tenth in large ones,
// and anything else once directoryRefresh has passed since the last write.
// A message is thus one write per minute per room at most.
func (s *shown) update(a activity, now time.Time) (shown, bool) {
	var old shown
	if s != nil {
		old = *s
	}
	next := old
	if a.members >= 0 {
		next.Members = a.members
	}
	if a.seq > old.Seq {
		next.Seq, next.Active = a.seq, a.active
	}
	next.At = now.Unix()
	changed := next.Members != old.Members || next.Seq != old.Seq
	due := s == nil || (old.Seq == 0 && next.Seq > 0) ||
		abs(next.Members-old.Members) >= max(1, old.Members/10) ||
		(changed && now.Unix()-old.At >= int64(directoryRefresh/time.Second))
	return next, due
}

func abs(n int) int { return max(n, -n) }

// entry is the directory entry of a public room.
func (m *roomMeta) entry() dirEntry {
	e := dirEntry{Name: m.Name, Topic: m.Topic, Custom: m.Custom, Talked: len(m.Talkers) >= 2}
	if m.Shown != nil {
		e.Members, e.Seq, e.Active = m.Shown.Members, m.Shown.Seq, m.Shown.Active
	}
	return e
}

// listed is a directory entry with where it is.
type listed struct {
	dirEntry
	it Item
}

// directory reads the directory partition.
func (h *Hub) directory(ctx context.Context) ([]listed, error) {
	items, err := h.store.Query(ctx, Query{Partition: directoryPart})
	if err != nil {
		return nil, err
	}
	out := make([]listed, 0, len(items))
	for _, it := range items {
		var e dirEntry
		if json.Unmarshal(it.Value, &e) != nil {
			continue // not written by this version: listed again by its next activity
		}
		out = append(out, listed{e, it})
	}
	return out, nil
}

// admit lists a public custom room that is not listed yet, item being its
// directory item. While fewer than MaxListedRooms custom rooms are listed,
// any is. Beyond that, only a room in which two different people have
// written gets in, in place of the lowest-ranked listed room nobody talked
// in, or of a lower-ranked one: a flood of new rooms cannot push out rooms
// in use, and an idle one gives way to a room in use. A room left out is
// tried again on its next activity (see noteActivity).
//
// Admissions are serialised within a Hub; Hubs admitting at the same
// moment may each go one over the limit, which the next admission that
// finds the directory full corrects.
func (h *Hub) admit(ctx context.Context, item Item) error {
	var e dirEntry
	if err := json.Unmarshal(item.Value, &e); err != nil {
		return err
	}
	h.dirMu.Lock()
	defer h.dirMu.Unlock()
	all, err := h.directory(ctx)
	if err != nil {
		return err
	}
	var custom []listed
	for _, l := range all {
		if l.Custom && l.it.Sort != item.Sort {
			custom = append(custom, l)
		}
	}
	if len(custom) >= h.opts.MaxListedRooms {
		if !e.Talked {
			return nil
		}
		// The weakest: nobody talked in it, else the lowest ranked.
		weakest := slices.MinFunc(custom, func(a, b listed) int {
			if a.Talked != b.Talked {
				return cmp.Compare(boolInt(a.Talked), boolInt(b.Talked))
			}
			return compareRank(a.dirEntry, b.dirEntry)
		})
		if weakest.Talked && compareRank(e, weakest.dirEntry) <= 0 {
			return nil
		}
		if err := h.store.Delete(ctx, weakest.it.Key, IfVersion(weakest.it.Version)); err != nil {
			if errors.Is(err, ErrConflict) {
				return nil // it changed meanwhile: try again next time
			}
			return err
		}
	}
	_, err = h.store.Put(ctx, item, Always)
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compareRank orders directory entries as pages list them: positive when a
// ranks above b (more members, then more recently active).
func compareRank(a, b dirEntry) int {
	if c := cmp.Compare(a.Members, b.Members); c != 0 {
		return c
	}
	return cmp.Compare(a.Active, b.Active)
}
