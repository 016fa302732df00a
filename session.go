package chatfly

import (
	"context"
	"errors"
	"strconv"
)

// handleHello starts a session on the connection: anonymous with a name, the
// same identity again with a resume token, or the verified identity the
// Identify hook attached at Connect.
func (h *Hub) handleHello(c *call) error {
	if c.conn.Session != "" {
		return ErrAlreadyHello
	}
	var sid, name, token string
	switch {
	case c.conn.User != "":
		sid, name = h.userSession(c.conn.User), c.conn.Name
	case c.f.Token != "":
		p, err := h.parseToken(c.f.Token, c.now)
		if err != nil {
			return err
		}
		if err := h.checkRevoked(c.ctx, p.Session); err != nil {
			return err
		}
		sid, name = p.Session, p.Name
	default:
		n, err := CleanName(c.f.Name, h.opts.MaxNameRunes)
		if err != nil {
			return err
		}
		if err := h.allowNewSession(c); err != nil {
			return err
		}
		sid, name = newID(), n
	}
	if c.conn.User == "" {
		token = h.signToken(sid, name, c.now)
	}

	exp := c.now.Add(h.opts.PresenceTTL)
	rec := c.conn
	rec.Session, rec.Name = sid, name
	ver, err := h.store.Put(c.ctx, Item{Key: connKey(c.connID), Value: mustJSON(rec), Expires: exp}, IfVersion(c.ver))
	if err != nil {
		switch {
		case errors.Is(err, ErrConflict) && c.hc != nil:
			return errStateLost // its frames are not concurrent: the record is gone
		case errors.Is(err, ErrConflict):
			return ErrAlreadyHello // a concurrent hello on the same connection won
		}
		return err
	}
	c.conn, c.ver, c.exp = rec, ver, exp
	h.refreshAddr(c.ctx, c.connID, rec.Addr, exp)

	// One connection per session: a previous one (a half-open socket, a
	// second tab of a verified user) is told it was replaced. Its
	// memberships move to this connection when it joins again.
	if prev, err := h.store.Get(c.ctx, sessKey(sid)); err == nil && string(prev.Value) != c.connID {
		if err := h.tr.Close(c.ctx, string(prev.Value), CloseReplaced, "replaced by a new connection"); err != nil {
			h.log.DebugContext(c.ctx, "chatfly: closing replaced connection", "conn", string(prev.Value), "err", err)
		}
	}
	if _, err := h.store.Put(c.ctx, Item{Key: sessKey(sid), Value: []byte(c.connID), Expires: exp}, Always); err != nil {
		return err
	}
	h.reply(c, mustJSON(welcomeFrame{Type: "welcome", ID: c.f.ID, Session: sid, Name: name, Token: token, User: c.conn.User, Protocol: ProtocolVersion, Limits: h.wireLimits()}))
	return nil
}

// handlePing answers pong; the presence refresh happens in Receive.
func (h *Hub) handlePing(c *call) error {
	h.reply(c, mustJSON(roomReplyFrame{Type: "pong", ID: c.f.ID, TS: c.now.UnixMilli()}))
	return nil
}

// sessionRooms lists the rooms a session is in.
func (h *Hub) sessionRooms(ctx context.Context, sid string) ([]string, error) {
	items, err := h.store.Query(ctx, Query{Partition: sessPart(sid), Prefix: "room#"})
	if err != nil {
		return nil, err
	}
	rooms := make([]string, len(items))
	for i, it := range items {
		rooms[i] = it.Sort[len("room#"):]
	}
	return rooms, nil
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}
