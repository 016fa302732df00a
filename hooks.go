package chatfly

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// The application's hooks on joins and room creation, and its own actions.

// Roles a member may have in a room, as [JoinDecision.Role] gives them and
// [Member.Role] shows them (RoleMember is shown as no role).
const (
	// RoleOwner may do every room.* action (see PROTOCOL.md).
	RoleOwner = "owner"
	// RoleModerator may kick, ban, unban, mute and unmute members
	// without a role.
	RoleModerator = "moderator"
	// RoleMember has no moderation rights.
	RoleMember = "member"
)

// JoinRequest is what [Options.OnJoin] decides on.
type JoinRequest struct {
	// Session is the person joining: a verified user (UserID set) or an
	// anonymous session.
	Session Session
	// Room describes the room: ID, Name, Topic, Public and Custom are
	// set; Members, Seq and Active are not (reading them would cost every
	// join storage calls).
	Room RoomInfo
	// Role is the person's role in the room before the hook: "owner" or
	// "moderator" from the room's configuration or promotions, else "".
	Role string
}

// JoinDecision is [Options.OnJoin]'s answer when it admits a join.
type JoinDecision struct {
	// Role gives the person a role for as long as this membership lasts
	// (until they leave or disconnect; OnJoin decides again at the next
	// join): RoleOwner or RoleModerator. RoleMember or "" gives nothing
	// beyond the room's own roles: a member has the higher of the two.
	Role string
}

// CreateRoomRequest is what [Options.OnCreateRoom] decides on.
type CreateRoomRequest struct {
	// Session is the person creating the room, its future owner.
	Session Session
	// Room is the room as asked for: its new ID, Name, Topic and Public.
	Room RoomConfig
}

// CreateRoomDecision is [Options.OnCreateRoom]'s answer when it admits a
// creation.
type CreateRoomDecision struct {
	// Room, if not nil, replaces the room's Name, Topic, Public and
	// MaxMembers (its ID stays). They must be valid, as for room.create;
	// an invalid one fails the creation with "internal" (and is logged).
	Room *RoomConfig
}

// ActionFunc handles an application action of [Options.Actions]. Its
// result is encoded with encoding/json as the "data" of the result frame
// (nil: null). An *Error reaches the client with its code and message; any
// other error is logged and the client gets a plain "rejected".
type ActionFunc func(ctx context.Context, req ActionRequest) (any, error)

// ActionRequest is one call of an application action.
type ActionRequest struct {
	// Session is the caller.
	Session Session
	// Action is the action's name.
	Action string
	// Data is the frame's "data" field as sent (nil if absent).
	Data json.RawMessage
	// Frame is the whole frame as sent.
	Frame json.RawMessage
}

// appActionPrefix starts every application action; chatfly's own actions
// never do.
const appActionPrefix = "app."

// validAction reports whether name may be an application action.
func validAction(name string) bool {
	rest, ok := strings.CutPrefix(name, appActionPrefix)
	return ok && len(rest) > 0 && len(rest) <= 60 && !strings.ContainsFunc(rest, func(r rune) bool {
		return !(r == '_' || r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
}

// registerActions adds the application's actions; New panics on a bad name,
// as for a short secret: it is a configuration mistake.
func (h *Hub) registerActions() {
	for name, fn := range h.opts.Actions {
		if !validAction(name) || fn == nil {
			panic("chatfly: application action " + quote(name) + ": names are \"app.\" and 1-60 characters of A-Z a-z 0-9 _ . -, with a function")
		}
		h.handlers[name] = func(c *call) error { return h.handleAction(c, fn) }
	}
}

type resultFrame struct {
	Type string          `json:"type"` // "result"
	ID   json.RawMessage `json:"id,omitempty"`
	Data json.RawMessage `json:"data"`
}

func (h *Hub) handleAction(c *call, fn ActionFunc) error {
	res, err := fn(c.ctx, ActionRequest{Session: c.session(), Action: c.f.Action, Data: c.f.Data, Frame: c.f.raw})
	if err != nil {
		return h.publicError(c.ctx, "action "+c.f.Action, err, ErrRejected, c.attrs()...)
	}
	data, err := json.Marshal(res)
	if err != nil {
		return err // logged, answered "internal"
	}
	frame := mustJSON(resultFrame{Type: "result", ID: c.f.ID, Data: data})
	if h.maxSend > 0 && len(frame) > h.maxSend {
		h.log.ErrorContext(c.ctx, "chatfly: an action's result is larger than the transport delivers", "action", c.f.Action, "bytes", len(frame))
		return Errorf(ErrTooLarge, "the result is too large")
	}
	h.reply(c, frame)
	return nil
}

// checkJoin runs OnJoin for a join of room m and returns the role it gave.
func (h *Hub) checkJoin(c *call, m *roomMeta) (string, error) {
	if h.opts.OnJoin == nil || len(m.Pair) > 0 {
		return "", nil
	}
	info := RoomInfo{ID: m.ID, Name: m.Name, Topic: m.Topic, Public: m.Public, Custom: m.Custom}
	d, err := h.opts.OnJoin(c.ctx, JoinRequest{Session: c.session(), Room: info, Role: m.role(c.conn.Session)})
	if err != nil {
		return "", h.publicError(c.ctx, "OnJoin", err, ErrForbidden, c.attrs()...)
	}
	switch d.Role {
	case RoleOwner, RoleModerator:
		return d.Role, nil
	case "", RoleMember:
		return "", nil
	}
	h.log.ErrorContext(c.ctx, "chatfly: OnJoin returned an unknown role", "role", d.Role)
	return "", ErrInternal
}

// checkCreate runs OnCreateRoom for the room m about to be created and
// applies its changes.
func (h *Hub) checkCreate(c *call, m *roomMeta) error {
	if h.opts.OnCreateRoom == nil {
		return nil
	}
	d, err := h.opts.OnCreateRoom(c.ctx, CreateRoomRequest{Session: c.session(), Room: m.RoomConfig})
	if err != nil {
		return h.publicError(c.ctx, "OnCreateRoom", err, ErrForbidden, c.attrs()...)
	}
	if d.Room == nil {
		return nil
	}
	name, nerr := CleanName(d.Room.Name, 64)
	topic, terr := cleanLine("topic", d.Room.Topic, h.opts.MaxTopicRunes)
	if err := errors.Join(nerr, terr); err != nil {
		h.log.ErrorContext(c.ctx, "chatfly: OnCreateRoom returned an invalid room", "err", err)
		return ErrInternal
	}
	m.Name, m.Topic, m.Public, m.MaxMembers = name, topic, d.Room.Public, d.Room.MaxMembers
	return nil
}

// staffOf returns the roles of RoomConfig.Owners and Moderators by session
// id. Each entry may be a user id or a session id; both readings are kept,
// which is safe: anonymous session ids are random, and verified ones are
// keyed with the secret, so neither can be chosen to match an entry.
func (h *Hub) staffOf(cfg RoomConfig) map[string]string {
	staff := map[string]string{}
	for _, g := range []struct {
		ids  []string
		role string
	}{{cfg.Moderators, RoleModerator}, {cfg.Owners, RoleOwner}} {
		for _, id := range g.ids {
			if id != "" {
				staff[id], staff[h.userSession(id)] = g.role, g.role
			}
		}
	}
	if len(staff) == 0 {
		return nil
	}
	return staff
}
