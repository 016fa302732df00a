package chatfly

import (
	"context"
	"errors"
	"math/rand/v2"
)

// The cap on custom rooms that exist at once (Options.MaxCustomRooms),
// across every Hub sharing the Storage. Each room made with room.create
// holds one of MaxCustomRooms slot items, claimed with IfAbsent, so
// creations racing on any number of Hubs cannot exceed it. A slot expires
// with its room: saveRoom extends both together, and room.delete frees it.
// Nothing is counted, so nothing drifts when rooms expire.
//
// The slots are grouped in blocks of roomSlotBlock, one partition each: a
// creation reads one random block (one Query of at most roomSlotBlock small
// items) and claims a free slot in it with one Put, trying up to
// roomSlotTries blocks in turn. It is refused before the cap only if every block
// it tried was full, which is rare until the server is within a few
// percent of the cap.

const (
	roomSlotBlock = 100
	roomSlotTries = 3
)

func customRoomSlotKey(n int) Key {
	return Key{Partition: "croom#" + itoa(int64(n/roomSlotBlock)), Sort: itoa(int64(n % roomSlotBlock))}
}

// claimRoomSlot takes a free slot for a new custom room, or refuses it with
// too_many.
func (h *Hub) claimRoomSlot(c *call, m *roomMeta) error {
	limit := h.opts.MaxCustomRooms
	if limit < 0 {
		return nil
	}
	blocks := (limit + roomSlotBlock - 1) / roomSlotBlock
	first := rand.IntN(blocks)
	for i := range min(roomSlotTries, blocks) {
		b := (first + i) % blocks
		items, err := h.store.Query(c.ctx, Query{Partition: customRoomSlotKey(b * roomSlotBlock).Partition})
		if err != nil {
			return err
		}
		taken := make(map[string]bool, len(items))
		for _, it := range items {
			taken[it.Sort] = true
		}
		for n := b * roomSlotBlock; n < min(limit, (b+1)*roomSlotBlock); n++ {
			k := customRoomSlotKey(n)
			if taken[k.Sort] {
				continue
			}
			_, err := h.store.Put(c.ctx, Item{Key: k, Value: []byte(m.ID), Expires: c.now.Add(h.opts.RoomTTL)}, IfAbsent)
			if err == nil {
				m.Slot = n + 1
				return nil
			}
			if !errors.Is(err, ErrConflict) {
				return err
			}
		}
	}
	return Errorf(ErrTooMany, "the server has too many rooms right now, try again later")
}

// extendRoomSlot makes a room's slot last as long as the room.
func (h *Hub) extendRoomSlot(ctx context.Context, m *roomMeta) error {
	if m.Slot == 0 {
		return nil
	}
	_, err := h.store.Put(ctx, Item{Key: customRoomSlotKey(m.Slot - 1), Value: []byte(m.ID), Expires: m.expires}, Always)
	return err
}

// releaseRoomSlot frees the slot of a room that goes away, if it is still
// the room's.
func (h *Hub) releaseRoomSlot(ctx context.Context, m *roomMeta) {
	if m.Slot == 0 {
		return
	}
	it, err := h.store.Get(ctx, customRoomSlotKey(m.Slot-1))
	if err == nil && string(it.Value) == m.ID {
		err = h.store.Delete(ctx, it.Key, IfVersion(it.Version))
	}
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		h.log.WarnContext(ctx, "chatfly: freeing a room's slot", "room", m.ID, "err", err)
	}
}
