package chatfly

import (
	"context"
	"encoding/json"
)

// The room directory: the rooms action lists public rooms a page at a time,
// room.info describes one room by id.

type roomInfoFrame struct {
	Type string          `json:"type"` // "room.info"
	ID   json.RawMessage `json:"id,omitempty"`
	Room RoomInfo        `json:"room"`
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
