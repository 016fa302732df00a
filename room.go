package chatfly

import (
	"context"
	"errors"
	"time"
)

// Session is one person talking through one connection: an anonymous name
// with a resumable identity, or a verified user returned by the Identify
// hook. Hooks receive it; it is a read-only snapshot, safe to share.
type Session interface {
	// ID is the session's id. It stays the same when the person reconnects
	// with their resume token.
	ID() string
	// Name is the display name.
	Name() string
	// UserID is the verified user id from the Identify hook, or "" for an
	// anonymous session.
	UserID() string
	// ConnID is the transport's id of the session's current connection.
	ConnID() string
	// RemoteAddr is the client's network address, if the host adapter knew it.
	RemoteAddr() string
}

// Member is a person in a room, as the protocol shows it.
type Member struct {
	// ID is the member's session id.
	ID string `json:"id"`
	// Name is the member's display name.
	Name string `json:"name"`
	// Role is "owner" or "moderator" for those roles in a room, else
	// empty. It is set in member lists and presence events.
	Role string `json:"role,omitempty"`
}

// Message is one chat message in a room.
type Message struct {
	// Room is the room's id.
	Room string `json:"room"`
	// Seq is the message's sequence number in the room: assigned by
	// Storage, gapless and strictly increasing.
	Seq int64 `json:"seq"`
	// From is the sender. For system messages it is the zero Member.
	From Member `json:"from"`
	// Text is the message text.
	Text string `json:"text"`
	// Time is when the server accepted the message.
	Time time.Time `json:"-"`
	// System marks messages posted by the server or application (see
	// [Room.Post]) rather than by a member.
	System bool `json:"system,omitempty"`
}

// RoomInfo describes a room as the rooms action lists it.
type RoomInfo struct {
	// ID is the room's id.
	ID string `json:"id"`
	// Name is the display name.
	Name string `json:"name"`
	// Topic is the room's topic, if any.
	Topic string `json:"topic,omitempty"`
	// Public rooms are listed by the rooms action.
	Public bool `json:"public"`
	// Members is the number of people in the room now.
	Members int `json:"members"`
	// Seq is the sequence number of the room's latest message (0 if none).
	Seq int64 `json:"seq"`
	// Epoch identifies the lifetime of the room's message sequence: it
	// changes when the room's messages were wiped and numbering started
	// again (a room that expired or was deleted and was made again, a
	// memory server that restarted), so a client that saw seq N in another
	// epoch knows that N says nothing now. 0 while the room has no message.
	// Set by the join and room.info actions.
	Epoch int64 `json:"epoch,omitempty"`
	// Active is when the latest message was posted, in Unix
	// milliseconds (0 if none). Set by the rooms and room.info actions
	// and by [Room.Info].
	Active int64 `json:"active,omitempty"`
	// Custom marks rooms created with room.create: they have an owner
	// and moderators, and expire when inactive.
	Custom bool `json:"custom,omitempty"`
}

// Room is a handle on one room for the application's server-side code: post
// system or bot messages, read members and history, change, moderate or
// delete the room, and push the application's own events into it. Obtain
// one with [Hub.Room] or [Hub.OpenRoom]. It holds no state beyond the room
// id, and is safe for concurrent use. (Only chatfly implements it: it is a
// handle, not a plug point, so it may grow.)
//
// The moderation methods act as the application: they are allowed in every
// room but the default rooms (Options.Rooms, which have no stored state:
// forbidden) and roulette pair rooms, on anyone, and are announced to the
// room like the room.* actions, with a moderation event without "by" and a
// system message. memberID is a session id ([Member.ID]); like the room.*
// actions, Kick and Mute need the member in the room, and the others also
// take someone the room remembers (not_member otherwise).
type Room interface {
	// ID returns the room's id.
	ID() string
	// Info returns the room's current description and occupancy.
	Info(ctx context.Context) (RoomInfo, error)
	// Members returns the people in the room, ordered by session id.
	Members(ctx context.Context) ([]Member, error)
	// History returns up to limit messages with seq < before (before <= 0:
	// the latest), oldest first.
	History(ctx context.Context, before int64, limit int) ([]Message, error)
	// Post stores and delivers a message from the application. An empty
	// from.ID marks it a system message; otherwise it is shown as sent by
	// from (a bot, say), who need not be a member.
	Post(ctx context.Context, from Member, text string) (Message, error)

	// Update changes the room's name, topic or visibility (room.update)
	// and returns the room after the change.
	Update(ctx context.Context, u RoomUpdate) (RoomInfo, error)
	// Delete removes the room and everyone from it (room.delete).
	Delete(ctx context.Context) error
	// Kick removes a member from the room; they may join again.
	Kick(ctx context.Context, memberID, reason string) error
	// Ban removes a member and keeps them out.
	Ban(ctx context.Context, memberID string, opts BanOptions) error
	// Unban lifts a ban.
	Unban(ctx context.Context, memberID string) error
	// Mute stops a member from sending for d (rounded up to a second; 0:
	// until unmuted, at most Options.MaxMuteDuration).
	Mute(ctx context.Context, memberID string, d time.Duration) error
	// Unmute lifts a mute.
	Unmute(ctx context.Context, memberID string) error
	// Publish delivers the application's own event to the room's members.
	Publish(ctx context.Context, typ string, payload any) error
}

// OpenRoom opens the room cfg.ID, creating it if it does not exist, and
// returns a handle on it. An application uses it to give every page or
// document its own room. An existing room keeps its configuration; the
// default rooms of Options.Rooms always exist. Public rooms are listed by the
// rooms action.
func (h *Hub) OpenRoom(ctx context.Context, cfg RoomConfig) (Room, error) {
	if _, ok := h.rooms[cfg.ID]; ok {
		return &roomHandle{h: h, id: cfg.ID}, nil
	}
	if !ValidRoomID(cfg.ID) {
		return nil, Errorf(ErrBadRequest, "room ids are 1-64 characters of A-Z a-z 0-9 _ -")
	}
	if cfg.Name == "" {
		cfg.Name = cfg.ID
	}
	m := &roomMeta{RoomConfig: cfg, Staff: h.staffOf(cfg), Created: h.opts.Now().Unix()}
	switch err := h.saveRoom(ctx, m, h.opts.Now()); {
	case errors.Is(err, ErrConflict): // it exists: keep it as it is
	case err != nil:
		return nil, err
	}
	return &roomHandle{h: h, id: cfg.ID}, nil
}

// Room returns a handle on an existing room, or ErrNotFound.
func (h *Hub) Room(ctx context.Context, id string) (Room, error) {
	if _, err := h.loadRoom(ctx, id); err != nil {
		return nil, err
	}
	return &roomHandle{h: h, id: id}, nil
}

// roomHandle implements Room.
type roomHandle struct {
	h  *Hub
	id string
}

func (r *roomHandle) ID() string { return r.id }

func (r *roomHandle) Info(ctx context.Context) (RoomInfo, error) {
	m, err := r.h.loadRoom(ctx, r.id)
	if err != nil {
		return RoomInfo{}, err
	}
	return r.h.describe(ctx, m)
}

func (r *roomHandle) Members(ctx context.Context) ([]Member, error) {
	m, err := r.h.loadRoom(ctx, r.id)
	if err != nil {
		return nil, err
	}
	ms, err := r.h.members(ctx, r.id)
	return withRoles(ms, m), err
}

func (r *roomHandle) History(ctx context.Context, before int64, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = r.h.opts.HistoryLength
	}
	items, _, err := r.h.history(ctx, r.id, before, limit)
	if err != nil {
		return nil, err
	}
	msgs := make([]Message, 0, len(items))
	for _, it := range items {
		m, err := decodeMessage(it.Value)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func (r *roomHandle) Post(ctx context.Context, from Member, text string) (Message, error) {
	if err := r.h.checkText(text); err != nil {
		return Message{}, err
	}
	room, err := r.h.loadRoom(ctx, r.id)
	if err != nil {
		return Message{}, err
	}
	m := Message{Room: r.id, From: from, Text: text, Time: r.h.opts.Now(), System: from.ID == ""}
	err = r.h.post(ctx, &m, room)
	return m, err
}
