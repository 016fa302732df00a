package chatfly

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"time"
)

// Per-address limits. Sessions cost nothing, so the limits that hold back
// one script key on the client's address instead, through AddrKey. They live
// in Storage (the addr#<key> partition, see keys.go) so that they hold across
// every Hub and Lambda sharing it.

// AddrKey returns the key under which per-address limits and address bans
// count a client address ([ConnectRequest.RemoteAddr]): the IP without port
// or zone, IPv4 as is ("203.0.113.7"), IPv4-mapped IPv6 as IPv4, and IPv6 by
// its /64 prefix ("2001:db8:1:2::/64"), since one subscriber is usually
// given a whole /64. An address that is not an IP is its own key if it is
// short and printable ("pipe"), else a hash of it ("h:…"); the empty address
// has the empty key, which no limit counts.
func AddrKey(addr string) string {
	if addr == "" {
		return ""
	}
	ip, ok := parseIP(addr)
	if !ok {
		return rawAddrKey(addr)
	}
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// parseIP parses an IP address with or without a port, brackets or zone,
// and unmaps IPv4-mapped IPv6 addresses.
func parseIP(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	return ip.Unmap().WithZone(""), err == nil
}

// rawAddrKey keeps a non-IP address usable as part of a storage key and of
// a member item ("\n"-separated): printable ASCII of at most 64 bytes as is,
// anything else hashed.
func rawAddrKey(s string) string {
	if len(s) <= 64 && strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) < 0 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "h:" + hex.EncodeToString(sum[:12])
}

func addrPart(key string) string { return "addr#" + key }

func addrConnKey(key, conn string) Key { return Key{Partition: addrPart(key), Sort: "conn#" + conn} }

func addrQueueKey(key, sid string) Key { return Key{Partition: addrPart(key), Sort: "rq#" + sid} }

// rouletteAddrTTL is how long a roulette.join counts against its address's
// RouletteWaiting limit without another roulette.join (waiting clients send
// one every 20 s to keep their place).
const rouletteAddrTTL = 2 * time.Minute

// addrKey is the limit key of the connection making the call.
func (c *call) addrKey() string { return AddrKey(c.conn.Addr) }

// holdSlot is add-then-check: it writes the item of one holder of a
// bounded resource of an address (prefix: its sort-key prefix), then counts
// the holders with a Query of at most limit+1 items; beyond limit it takes
// its item back and reports false. Concurrent claims can each see the
// others and all refuse, but never all succeed beyond the limit.
func (h *Hub) holdSlot(ctx context.Context, item Key, prefix string, limit int, exp time.Time) (bool, error) {
	if _, err := h.store.Put(ctx, Item{Key: item, Expires: exp}, Always); err != nil {
		return false, err
	}
	held, err := h.store.Query(ctx, Query{Partition: item.Partition, Prefix: prefix, Limit: limit + 1})
	if err == nil && len(held) <= limit {
		return true, nil
	}
	if derr := h.store.Delete(ctx, item, Always); err == nil {
		err = derr
	}
	return false, err
}

// admitConn counts a new connection against its address's Connections
// limit until exp (the expiry of its connection record). Disconnect releases
// it (releaseAddr); a lost disconnect expires with the connection's record,
// which hello and touch extend (refreshAddr).
func (h *Hub) admitConn(ctx context.Context, conn, addr string, exp time.Time) error {
	key, limit := AddrKey(addr), h.opts.AddressLimits.Connections
	if key == "" || limit < 0 {
		return nil
	}
	ok, err := h.holdSlot(ctx, addrConnKey(key, conn), "conn#", limit, exp)
	if err == nil && !ok {
		err = Errorf(ErrTooMany, "too many connections from your network (at most "+itoa(int64(limit))+")")
	}
	return err
}

// releaseAddr forgets what a connection that has ended held of its
// address's limits: its connection and its session's roulette entry.
func (h *Hub) releaseAddr(ctx context.Context, conn string, rec connRecord) error {
	key := AddrKey(rec.Addr)
	if key == "" {
		return nil
	}
	ws := []Write{{Item: Item{Key: addrConnKey(key, conn)}, Delete: true}}
	if rec.Session != "" {
		ws = append(ws, Write{Item: Item{Key: addrQueueKey(key, rec.Session)}, Delete: true})
	}
	return h.writeMany(ctx, ws)
}

// refreshAddr extends a live connection's hold on its address's Connections
// limit together with its presence (from hello and touch). IfExists: a
// connection that Disconnect released is not counted again.
func (h *Hub) refreshAddr(ctx context.Context, conn, addr string, exp time.Time) {
	if key := AddrKey(addr); key != "" && h.opts.AddressLimits.Connections >= 0 {
		_, _ = h.store.Put(ctx, Item{Key: addrConnKey(key, conn), Expires: exp}, IfExists)
	}
}

// allowAddr counts one action against a per-address fixed-window limit of
// limit per window (like the rate counters), and returns a too_many error
// with the message what once it is over.
func (h *Hub) allowAddr(c *call, kind string, limit int, window time.Duration, what string) error {
	key := c.addrKey()
	if key == "" || limit < 0 {
		return nil
	}
	w := c.now.UnixNano() / int64(window)
	n, err := h.store.Add(c.ctx, Key{Partition: addrPart(key), Sort: kind + "#" + itoa(w)}, 1, time.Unix(0, (w+2)*int64(window)))
	if err == nil && n > int64(limit) {
		err = Errorf(ErrTooMany, what+" (at most "+itoa(int64(limit))+")")
	}
	return err
}

// allowNewSession counts a new anonymous session against its address's
// SessionsPerHour.
func (h *Hub) allowNewSession(c *call) error {
	return h.allowAddr(c, "sess", h.opts.AddressLimits.SessionsPerHour, time.Hour,
		"too many new sessions from your network in the last hour; resume with your token or try again later")
}

// allowRoomCreate counts a room.create against its address's RoomsPerHour.
func (h *Hub) allowRoomCreate(c *call) error {
	return h.allowAddr(c, "room", h.opts.AddressLimits.RoomsPerHour, time.Hour,
		"too many rooms created from your network in the last hour")
}

// allowGameStart counts a game.start or game.rematch against its address's
// GamesPerMinute.
func (h *Hub) allowGameStart(c *call) error {
	return h.allowAddr(c, "game", h.opts.AddressLimits.GamesPerMinute, time.Minute,
		"too many games started from your network in the last minute")
}

// admitRoulette counts the calling session's roulette.join against its
// address's RouletteWaiting limit, refreshing its hold if it is already
// waiting. A refused session is taken out of the queue.
func (h *Hub) admitRoulette(c *call) error {
	key, limit := c.addrKey(), h.opts.AddressLimits.RouletteWaiting
	if key == "" || limit < 0 {
		return nil
	}
	ok, err := h.holdSlot(c.ctx, addrQueueKey(key, c.conn.Session), "rq#", limit, c.now.Add(rouletteAddrTTL))
	if err != nil || ok {
		return err
	}
	if err := h.matcher.Remove(c.ctx, c.conn.Session); err != nil {
		return err
	}
	return Errorf(ErrTooMany, "too many people from your network are waiting for roulette (at most "+itoa(int64(limit))+")")
}

// leftRoulette releases the roulette holds of waiters that are no longer
// waiting (paired, or left).
func (h *Hub) leftRoulette(ctx context.Context, ws ...Waiter) {
	for _, w := range ws {
		if w.Addr == "" {
			continue
		}
		if err := h.store.Delete(ctx, addrQueueKey(w.Addr, w.Session), Always); err != nil && !errors.Is(err, ErrNotFound) {
			h.log.WarnContext(ctx, "chatfly: releasing roulette entry", "session", w.Session, "err", err)
		}
	}
}

// shareFull reports whether the address key already has its share of room
// members ms, where the share applies: once the room is at least half full
// (MaxMembersPerRoom/2), at most RoomShare members from one address. Below
// that, rooms are never short of space, and a class behind one school NAT
// can still meet in a room of its own.
func (h *Hub) shareFull(ms []memberRec, key string) bool {
	share := h.opts.AddressLimits.RoomShare
	if key == "" || share < 0 || len(ms) < h.opts.MaxMembersPerRoom/2 {
		return false
	}
	n := 0
	for _, m := range ms {
		if m.addr == key {
			n++
		}
	}
	return n >= share
}
