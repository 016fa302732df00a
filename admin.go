package chatfly

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// The application's server-side API: list rooms, change and moderate them,
// push its own events, disconnect people. Everything goes through Storage
// and the Transport, so it works from any process or Lambda sharing the
// Storage, like the Hub's own handlers.

// RoomUpdate is a change to a room's configuration ([Room.Update]). Zero
// fields are left as they are.
type RoomUpdate struct {
	// Name is the new display name (1–64 characters, as room.create's).
	Name string
	// Topic is the new topic; a pointer to "" clears it.
	Topic *string
	// Public lists the room (true) or takes it out of the directory.
	Public *bool
}

// BanOptions are the options of [Room.Ban].
type BanOptions struct {
	// Reason is shown to the room (at most Options.MaxReasonRunes).
	Reason string
	// Address also bans the member's network address (its IPv4 address or
	// IPv6 /64), as room.ban's "address".
	Address bool
}

// Rooms lists the public rooms a page at a time, exactly as the rooms
// action does (see PROTOCOL.md): after cursor ("" for the first page), at
// most limit rooms (0: Options.RoomsPage; at most Options.MaxRoomsPage),
// busiest first. next is the cursor of the following page, "" after the
// last. Private rooms are never listed: look them up by id with [Hub.Room].
func (h *Hub) Rooms(ctx context.Context, cursor string, limit int) (rooms []RoomInfo, next string, err error) {
	page, more, err := h.roomsPage(ctx, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	rooms = make([]RoomInfo, len(page))
	for i := range page {
		rooms[i] = page[i].RoomInfo
	}
	if more {
		next = page[len(page)-1].cursor()
	}
	return rooms, next, nil
}

// DisconnectSession closes the connection of session sid with code and
// reason, from any Hub sharing the Storage (one storage read, then the
// transport's Close; on API Gateway the client gets a close frame first, see
// PROTOCOL.md). The session then leaves its rooms as on any disconnect; it
// may come back with its resume token unless it is also revoked
// ([Hub.RevokeSession]). With 1000 the Hub sends a close frame first, so
// that clients know not to reconnect (they do after a bare 1000). Code 0 is [CloseDisconnected]; others must be 1000,
// 1001, 1008, 1011 or 4000–4999 (bad_request otherwise). A reason is at
// most 120 bytes. A session without a connection is ErrNotFound.
func (h *Hub) DisconnectSession(ctx context.Context, sid string, code CloseCode, reason string) error {
	if sid == "" {
		return Errorf(ErrBadRequest, "no session id")
	}
	if code == 0 {
		code = CloseDisconnected
	}
	if !(code == CloseNormal || code == CloseGoingAway || code == ClosePolicy || code == CloseInternal || code >= 4000 && code <= 4999) {
		return Errorf(ErrBadRequest, "close code "+itoa(int64(code))+" is not 1000, 1001, 1008, 1011 or 4000-4999")
	}
	if len(reason) > 120 {
		return Errorf(ErrTooLong, "a close reason is at most 120 bytes")
	}
	cur, err := h.store.Get(ctx, sessKey(sid))
	if errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "the session is not connected")
	}
	if err != nil {
		return err
	}
	if code == CloseNormal {
		// Clients reconnect after a bare 1000 (API Gateway closes every
		// socket with it): a close frame says this one is meant.
		notice := mustJSON(struct {
			Type   string    `json:"type"`
			Code   CloseCode `json:"code"`
			Reason string    `json:"reason"`
		}{"close", code, reason})
		if err := h.tr.Send(ctx, string(cur.Value), notice); err != nil && !errors.Is(err, ErrGone) {
			return err
		}
	}
	return h.tr.Close(ctx, string(cur.Value), code, reason)
}

// DisconnectUser closes the connection of the verified user userID (see
// [Options.Identify]) like [Hub.DisconnectSession]. A verified user has
// exactly one session id (derived from the user id and Options.Secret), and
// a session one connection at a time (a second tab replaces the first, see
// [CloseReplaced]), so this closes every connection of the user.
func (h *Hub) DisconnectUser(ctx context.Context, userID string, code CloseCode, reason string) error {
	if userID == "" {
		return Errorf(ErrBadRequest, "no user id")
	}
	return h.DisconnectSession(ctx, h.userSession(userID), code, reason)
}

// SendEvent sends the application's event typ with payload to session sid
// alone, as {"type":"custom","event":typ,"data":payload} (see
// [Room.Publish] for the rules of typ and payload). It costs one storage
// read. A session without a connection is ErrNotFound. Events are not
// stored: a session that is not connected misses them.
func (h *Hub) SendEvent(ctx context.Context, sid, typ string, payload any) error {
	frame, err := h.customEvent("", typ, payload)
	if err != nil {
		return err
	}
	cur, err := h.store.Get(ctx, sessKey(sid))
	if errors.Is(err, ErrNotFound) || (err == nil && sid == "") {
		return Errorf(ErrNotFound, "the session is not connected")
	}
	if err != nil {
		return err
	}
	if err := h.tr.Send(ctx, string(cur.Value), frame); errors.Is(err, ErrGone) {
		return Errorf(ErrNotFound, "the session is not connected")
	} else if err != nil {
		return err
	}
	return nil
}

// customEventFrame is a custom event of the application.
type customEventFrame struct {
	Type  string          `json:"type"` // "custom"
	Room  string          `json:"room,omitempty"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// customEvent encodes a custom event after checking its type and size.
func (h *Hub) customEvent(rid, typ string, payload any) ([]byte, error) {
	if typ == "" || len(typ) > 64 || strings.ContainsFunc(typ, func(r rune) bool {
		return !(r == '_' || r == '.' || r == ':' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return nil, Errorf(ErrBadRequest, "an event type is 1-64 characters of A-Z a-z 0-9 _ . : -")
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return nil, Errorf(ErrBadRequest, "the payload cannot be encoded as JSON: "+err.Error())
	}
	if len(data) > h.opts.MaxEventBytes {
		return nil, Errorf(ErrTooLarge, "the payload is larger than "+itoa(int64(h.opts.MaxEventBytes))+" bytes")
	}
	return mustJSON(customEventFrame{Type: "custom", Room: rid, Event: typ, Data: data}), nil
}

// Publish delivers the application's event typ with payload to everyone in
// the room, through the same fan-out as chat messages (in order with them
// within one Hub), as {"type":"custom","room":...,"event":typ,"data":payload}.
// typ is 1–64 characters of [A-Za-z0-9_.:-]; payload is encoded with
// encoding/json and may be at most Options.MaxEventBytes (too_large).
// Events are not stored: people who join later do not get them. It costs
// the storage calls of a message's fan-out (the room and its members) and
// no write.
func (r *roomHandle) Publish(ctx context.Context, typ string, payload any) error {
	frame, err := r.h.customEvent(r.id, typ, payload)
	if err != nil {
		return err
	}
	if _, err := r.h.loadRoom(ctx, r.id); err != nil {
		return err
	}
	release, err := r.h.holdRoom(ctx, r.id)
	if err != nil {
		return err
	}
	ms, err := r.h.members(ctx, r.id)
	var gone []memberRec
	if err == nil {
		gone = r.h.fanout(ctx, ms, "", frame)
	}
	release()
	r.h.dropGone(ctx, gone)
	return err
}

// moderate runs a room.* action for the application: with every
// permission, announced without an actor (see PROTOCOL.md).
func (r *roomHandle) moderate(ctx context.Context, action string, f inFrame) error {
	f.Action, f.Room = action, r.id
	c := &call{ctx: ctx, f: &f, now: r.h.opts.Now(), server: true}
	return r.h.moderate(c, moderationActions[action])
}

func (r *roomHandle) Update(ctx context.Context, u RoomUpdate) (RoomInfo, error) {
	f := inFrame{Name: u.Name, Topic: u.Topic}
	if u.Public != nil {
		f.Visibility = map[bool]string{true: "public", false: "private"}[*u.Public]
	}
	if err := r.moderate(ctx, "room.update", f); err != nil {
		return RoomInfo{}, err
	}
	return r.Info(ctx)
}

func (r *roomHandle) Delete(ctx context.Context) error {
	return r.moderate(ctx, "room.delete", inFrame{})
}

func (r *roomHandle) Kick(ctx context.Context, memberID, reason string) error {
	return r.moderate(ctx, "room.kick", inFrame{Member: memberID, Reason: reason})
}

func (r *roomHandle) Ban(ctx context.Context, memberID string, opts BanOptions) error {
	return r.moderate(ctx, "room.ban", inFrame{Member: memberID, Reason: opts.Reason, Address: opts.Address})
}

func (r *roomHandle) Unban(ctx context.Context, memberID string) error {
	return r.moderate(ctx, "room.unban", inFrame{Member: memberID})
}

func (r *roomHandle) Mute(ctx context.Context, memberID string, d time.Duration) error {
	if d < 0 {
		return Errorf(ErrBadRequest, "a mute's duration is not negative")
	}
	return r.moderate(ctx, "room.mute", inFrame{Member: memberID, Duration: int64((d + time.Second - 1) / time.Second)})
}

func (r *roomHandle) Unmute(ctx context.Context, memberID string) error {
	return r.moderate(ctx, "room.unmute", inFrame{Member: memberID})
}
