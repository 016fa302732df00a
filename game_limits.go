package chatfly

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"
)

// Limits on games. A game that waits for players (status "open") is shown
// to everyone in its room, so open games are capped per session and room,
// and server-wide; they expire OpenGameTTL after they were opened. Started
// and finished games need no slot: starting one takes the players, and
// finished ones expire an hour after their end (game.list shows only the
// latest few).
//
// Each open game holds slots: one of the MaxOpenGamesPerSession slots of
// its starter in the room, one of the room's MaxOpenGamesPerRoom and one of
// MaxOpenGames server-wide. A slot is an item claimed with IfAbsent, so no
// cap can be exceeded by starts racing on any number of Hubs; it expires
// with the open game and is deleted when the game starts or is cancelled.
// (A slot deleted just after it expired could free a slot someone else has
// just claimed: one game too many, at worst, for one OpenGameTTL.)

// globalSlotProbes is how many server-wide slots a start tries (from a
// random one on) before it is refused, so that a start costs one Put, not
// a read of all slots; it may be refused early only when the server is
// nearly full (as a rough guide, at 75% of MaxOpenGames about 1 start in 3).
const globalSlotProbes = 4

// maxListedOver is how many finished games game.list includes at most.
const maxListedOver = 3

// gameTTL is how long a game record lives from now: an open game until
// OpenGameTTL after it was opened (with its slots), a finished one for a
// rematch, a running one as long as moves keep coming.
func (h *Hub) gameTTL(g *gameRecord, now time.Time) time.Time {
	switch g.Status {
	case "open":
		return time.UnixMilli(g.Started).Add(h.opts.OpenGameTTL)
	case "over":
		return now.Add(gameOverTTL)
	}
	return now.Add(gamePlayingTTL)
}

// holdOpenSlots claims the slots of an open game, or refuses it with
// too_many; rec.Held lists what it holds. Storage calls: one Query of the
// room's slots and one Put per slot claimed (three, more only when racing
// other starts or when the server is nearly full).
func (h *Hub) holdOpenSlots(c *call, rec *gameRecord) error {
	items, err := h.store.Query(c.ctx, Query{Partition: roomPart(rec.Room), Prefix: openSlotPrefix})
	if err != nil {
		return err
	}
	taken := make(map[string]bool, len(items))
	for _, it := range items {
		taken[it.Sort] = true
	}
	free := func(n int, key func(int) Key) []Key {
		var keys []Key
		for i := range n {
			if k := key(i); !taken[k.Sort] {
				keys = append(keys, k)
			}
		}
		return keys
	}
	sid := c.conn.Session
	pools := []struct {
		keys []Key
		full string
	}{
		{free(h.opts.MaxOpenGamesPerSession, func(i int) Key { return sessionSlotKey(rec.Room, sid, i) }),
			"you already have " + itoa(int64(h.opts.MaxOpenGamesPerSession)) + " games waiting for players in this room: wait until they start, or cancel one"},
		{free(h.opts.MaxOpenGamesPerRoom, func(i int) Key { return roomSlotKey(rec.Room, i) }),
			"this room already has " + itoa(int64(h.opts.MaxOpenGamesPerRoom)) + " games waiting for players: join one of them"},
	}
	if h.opts.MaxOpenGames > 0 {
		keys := make([]Key, min(globalSlotProbes, h.opts.MaxOpenGames))
		first := rand.IntN(h.opts.MaxOpenGames)
		for i := range keys {
			keys[i] = globalSlotKey((first + i) % h.opts.MaxOpenGames)
		}
		pools = append(pools, struct {
			keys []Key
			full string
		}{keys, "the server has too many games waiting for players, try again later"})
	}
	value := []byte(rec.Room + "\n" + rec.ID)
	exp := h.gameTTL(rec, c.now)
	for _, p := range pools {
		k, err := h.claimSlot(c.ctx, p.keys, value, exp)
		if err == nil && k == nil {
			err = Errorf(ErrTooMany, p.full)
		}
		if err != nil {
			h.releaseSlots(c.ctx, rec.Held)
			rec.Held = nil
			return err
		}
		rec.Held = append(rec.Held, *k)
	}
	return nil
}

// claimSlot claims the first free key of keys; nil if all are taken.
func (h *Hub) claimSlot(ctx context.Context, keys []Key, value []byte, exp time.Time) (*Key, error) {
	for _, k := range keys {
		_, err := h.store.Put(ctx, Item{Key: k, Value: value, Expires: exp}, IfAbsent)
		if err == nil {
			return &k, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
	}
	return nil, nil
}

// releaseSlots deletes slots; one that cannot be deleted expires anyway.
func (h *Hub) releaseSlots(ctx context.Context, keys []Key) {
	for _, k := range keys {
		if err := h.store.Delete(ctx, k, Always); err != nil {
			h.log.WarnContext(ctx, "chatfly: releasing an open game's slot", "key", k.Partition+"/"+k.Sort, "err", err)
		}
	}
}

// settle returns the slots a game no longer needs once it is not open, and
// forgets them; the caller deletes them after storing the game.
func (g *gameRecord) settle() []Key {
	if g.Status == "open" {
		return nil
	}
	held := g.Held
	g.Held = nil
	return held
}

// listGames chooses what game.list shows sid of a room's newest games
// (items, newest first): at most MaxGameList, of which at most
// maxListedOver finished, sid's own unfinished games first, so that a
// player who comes back finds theirs even in a busy room. The choice keeps
// the newest-first order.
func (h *Hub) listGames(items []Item, sid string) []*gameRecord {
	var recs []*gameRecord
	for _, it := range items {
		rec := &gameRecord{version: it.Version}
		if json.Unmarshal(it.Value, rec) == nil && h.games[rec.Game] != nil {
			recs = append(recs, rec)
		}
	}
	picked := make([]bool, len(recs))
	n, over := 0, 0
	for _, own := range []bool{true, false} {
		for i, rec := range recs {
			if picked[i] || n == h.opts.MaxGameList || (rec.Status != "over" && rec.seatOf(sid) >= 0) != own {
				continue
			}
			if rec.Status == "over" {
				if over == maxListedOver {
					continue
				}
				over++
			}
			picked[i] = true
			n++
		}
	}
	chosen := make([]*gameRecord, 0, n)
	for i, rec := range recs {
		if picked[i] {
			chosen = append(chosen, rec)
		}
	}
	return chosen
}

// sortable is the URL-safe base64 alphabet in ASCII order.
const sortable = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

// newGameID returns a 12-character game id that sorts by creation time:
// 7 characters of Unix milliseconds (until the year 2109), then 30 random
// bits, so that game.list reads a room's newest games first.
func newGameID(now time.Time) string {
	var b [12]byte
	ms := uint64(now.UnixMilli())
	for i := 6; i >= 0; i-- {
		b[i] = sortable[ms&63]
		ms >>= 6
	}
	_, _ = crand.Read(b[7:])
	for i := 7; i < len(b); i++ {
		b[i] = sortable[b[i]&63]
	}
	return string(b[:])
}
