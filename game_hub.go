package chatfly

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"time"
)

// Games in rooms. A game is one Storage item in its room's partition; every
// change (a seat taken, a move, a resignation) is a compare-and-set on its
// version, retried from a fresh read on conflict, so two Hubs can never both
// apply a move to the same version. Each player receives the view the Game
// renders for their seat, spectators the public view.

// gameRecord is the stored form of a game.
type gameRecord struct {
	ID       string          `json:"id"`
	Game     string          `json:"game"`
	Room     string          `json:"room"`
	Status   string          `json:"status"` // open, playing, over
	Size     int             `json:"size"`
	Seats    []Member        `json:"seats"`
	Invited  []string        `json:"invited,omitempty"` // session ids; empty: open seats
	Order    []string        `json:"order,omitempty"`   // seat order at the start (rematches), if set
	Seed     uint64          `json:"seed"`
	State    json.RawMessage `json:"state,omitempty"`
	Result   *GameStatus     `json:"result,omitempty"`
	Reason   string          `json:"reason,omitempty"` // how it ended: "", resigned, left, timeout
	Deadline int64           `json:"deadline,omitempty"`
	Started  int64           `json:"started"`
	Held     []Key           `json:"held,omitempty"` // the slots of an open game (game_limits.go)

	version int64
}

func gameKey(rid, gid string) Key { return Key{Partition: roomPart(rid), Sort: "game#" + gid} }

// How long game records live after their last change (see Hub.gameTTL):
// finished ones stay for a rematch, running ones as long as moves keep
// coming. Open ones live for Options.OpenGameTTL.
const (
	gameOverTTL    = time.Hour
	gamePlayingTTL = 24 * time.Hour
)

func (g *gameRecord) seatOf(sid string) int {
	return slices.IndexFunc(g.Seats, func(m Member) bool { return m.ID == sid })
}

// gameFrame is the game.state event: the game as one recipient may see it.
type gameFrame struct {
	Type string          `json:"type"` // game.state
	ID   json.RawMessage `json:"id,omitempty"`
	Room string          `json:"room"`
	Game gameView        `json:"game"`
}

type gameView struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Title    string   `json:"title"`
	Status   string   `json:"status"`
	Size     int      `json:"size"`
	Seats    []Member `json:"seats"`
	Invited  []string `json:"invited,omitempty"`
	You      int      `json:"you"` // your seat, or -1
	Turn     []int    `json:"turn"`
	Winners  []int    `json:"winners,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Deadline int64    `json:"deadline,omitempty"`
	Version  int64    `json:"version"`
	View     any      `json:"view,omitempty"`
}

func (h *Hub) registerGames() {
	h.games = make(map[string]Game, len(h.opts.Games))
	for _, g := range h.opts.Games {
		h.games[g.Info().Name] = g
	}
	h.handlers["game.start"] = h.gameStart
	// A muted member cannot open or join a game (the room sees it), but
	// may play on in one already running: muting is about what the room
	// reads, a move says nothing, and refusing it would make the muted
	// player's opponents lose their game (or wait for the turn timer).
	// Moderators who want someone out of a game kick them (a forfeit).
	h.handlers["game.accept"] = func(c *call) error {
		if err := h.checkMuted(c); err != nil {
			return err
		}
		return h.gameChange(c, h.applyAccept)
	}
	h.handlers["game.move"] = func(c *call) error { return h.gameChange(c, h.applyMove) }
	h.handlers["game.resign"] = func(c *call) error { return h.gameChange(c, h.applyResign) }
	h.handlers["game.claim"] = func(c *call) error { return h.gameChange(c, h.applyClaim) }
	h.handlers["game.list"] = h.gameList
	h.handlers["game.rematch"] = h.gameRematch
}

// gameRematch starts a new game of a finished one with the same players,
// seats rotated so that someone else moves first; the others are invited.
func (h *Hub) gameRematch(c *call) error {
	if c.f.Room == "" || c.f.Game == "" {
		return Errorf(ErrBadRequest, `"room" and "game" (the game id) are required`)
	}
	if err := h.membership(c); err != nil {
		return err
	}
	old, err := h.loadGame(c.ctx, c.f.Room, c.f.Game)
	if err != nil {
		return err
	}
	seat := old.seatOf(c.conn.Session)
	switch {
	case seat < 0:
		return ErrNotPlayer
	case old.Status != "over":
		return Errorf(ErrForbidden, "the game is not over yet")
	}
	c.f.Game, c.f.Players, c.f.Invite = old.Game, old.Size, nil
	order := make([]string, len(old.Seats))
	for i, m := range old.Seats {
		order[(i+len(old.Seats)-1)%len(old.Seats)] = m.ID // everyone moves up a seat
		if m.ID != c.conn.Session {
			c.f.Invite = append(c.f.Invite, m.ID)
		}
	}
	return h.openGame(c, order)
}

// gameStart opens a game in a room: the starter takes the first seat; the
// others are invited (invite: session ids) or the seats are open to anyone
// in the room. game.rematch is game.start with the same players.
func (h *Hub) gameStart(c *call) error {
	if err := h.membership(c); err != nil {
		return err
	}
	return h.openGame(c, nil)
}

// openGame opens a game for a member of the room; order, if set, is the
// seat order at the start. Muted members cannot open games: a game is
// shown to everyone in the room.
func (h *Hub) openGame(c *call, order []string) error {
	if err := h.checkMuted(c); err != nil {
		return err
	}
	g, ok := h.games[c.f.Game]
	if !ok {
		return Errorf(ErrNotFound, "no such game "+quote(c.f.Game))
	}
	info := g.Info()
	size := c.f.Players
	if size == 0 {
		size = max(info.MinPlayers, len(c.f.Invite)+1)
	}
	if size < info.MinPlayers || size > info.MaxPlayers {
		return Errorf(ErrBadRequest, info.Title+" is for "+itoa(int64(info.MinPlayers))+"–"+itoa(int64(info.MaxPlayers))+" players")
	}
	if len(c.f.Invite) >= size || slices.Contains(c.f.Invite, c.conn.Session) {
		return Errorf(ErrBadRequest, "invite up to "+itoa(int64(size-1))+" other people")
	}
	for _, sid := range c.f.Invite {
		if _, err := h.store.Get(c.ctx, memKey(c.f.Room, sid)); err != nil {
			if errors.Is(err, ErrNotFound) {
				return Errorf(ErrNotMember, "you can only invite people in the room")
			}
			return err
		}
	}
	if err := h.allowGameStart(c); err != nil {
		return err
	}
	// The seed decides hidden things (a secret word): it comes from
	// crypto/rand and never leaves the server.
	var seed [8]byte
	_, _ = crand.Read(seed[:])
	rec := &gameRecord{
		ID: newGameID(c.now), Game: info.Name, Room: c.f.Room, Status: "open", Size: size,
		Seats: []Member{c.member()}, Invited: c.f.Invite, Order: order,
		Seed: binary.LittleEndian.Uint64(seed[:]), Started: c.now.UnixMilli(),
	}
	if err := h.startIfFull(rec, c.now); err != nil {
		return err
	}
	if rec.Status == "open" {
		if err := h.holdOpenSlots(c, rec); err != nil {
			return err
		}
	}
	v, err := h.store.Put(c.ctx, Item{Key: gameKey(rec.Room, rec.ID), Value: mustJSON(rec), Expires: h.gameTTL(rec, c.now)}, IfAbsent)
	if err != nil {
		h.releaseSlots(c.ctx, rec.Held)
		return err
	}
	rec.version = v
	return h.publishGame(c, rec)
}

// startIfFull starts the game once every seat is taken.
func (h *Hub) startIfFull(rec *gameRecord, now time.Time) error {
	if rec.Status != "open" || len(rec.Seats) < rec.Size {
		return nil
	}
	if len(rec.Order) == len(rec.Seats) {
		slices.SortStableFunc(rec.Seats, func(a, b Member) int {
			return slices.Index(rec.Order, a.ID) - slices.Index(rec.Order, b.ID)
		})
	}
	g := h.games[rec.Game]
	players := make([]string, len(rec.Seats))
	for i, m := range rec.Seats {
		players[i] = m.ID
	}
	state, err := g.Start(players, rand.New(rand.NewPCG(rec.Seed, rec.Seed>>1|1)))
	if err != nil {
		return err
	}
	rec.Status, rec.State = "playing", state
	return h.afterChange(rec, now)
}

// afterChange updates a playing game's outcome and turn deadline.
func (h *Hub) afterChange(rec *gameRecord, now time.Time) error {
	st, err := h.games[rec.Game].Status(rec.State)
	if err != nil {
		return err
	}
	if st.Over {
		rec.Status, rec.Result, rec.Deadline = "over", &st, 0
		return nil
	}
	if h.opts.TurnTimeout > 0 {
		rec.Deadline = now.Add(h.opts.TurnTimeout).UnixMilli()
	}
	return nil
}

// gameChange applies change to a stored game with compare-and-set,
// retrying from a fresh read when another Hub changed it meanwhile, then
// publishes the new state.
func (h *Hub) gameChange(c *call, change func(*call, *gameRecord) error) error {
	if c.f.Room == "" || c.f.Game == "" {
		return Errorf(ErrBadRequest, `"room" and "game" (the game id) are required`)
	}
	if err := h.membership(c); err != nil {
		return err
	}
	for range 20 {
		rec, err := h.loadGame(c.ctx, c.f.Room, c.f.Game)
		if err != nil {
			return err
		}
		if h.games[rec.Game] == nil {
			return Errorf(ErrNotFound, "this server no longer has the game "+quote(rec.Game))
		}
		if err := change(c, rec); err != nil {
			return err
		}
		done := rec.settle()
		v, err := h.store.Put(c.ctx, Item{Key: gameKey(rec.Room, rec.ID), Value: mustJSON(rec), Expires: h.gameTTL(rec, c.now)}, IfVersion(rec.version))
		if errors.Is(err, ErrConflict) {
			continue // another Hub applied a change first: decide again on the new state
		}
		if err != nil {
			return err
		}
		h.releaseSlots(c.ctx, done)
		rec.version = v
		return h.publishGame(c, rec)
	}
	return Errorf(ErrUnavailable, "the game is too busy, try again")
}

func (h *Hub) loadGame(ctx context.Context, rid, gid string) (*gameRecord, error) {
	it, err := h.store.Get(ctx, gameKey(rid, gid))
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "no such game in this room")
	}
	if err != nil {
		return nil, err
	}
	rec := &gameRecord{version: it.Version}
	return rec, json.Unmarshal(it.Value, rec)
}

func (h *Hub) applyAccept(c *call, rec *gameRecord) error {
	sid := c.conn.Session
	switch {
	case rec.Status != "open":
		return Errorf(ErrForbidden, "the game has already started")
	case rec.seatOf(sid) >= 0:
		return Errorf(ErrBadRequest, "you are already playing")
	case len(rec.Invited) > 0 && !slices.Contains(rec.Invited, sid):
		return Errorf(ErrForbidden, "you were not invited to this game")
	}
	rec.Seats = append(rec.Seats, c.member())
	return h.startIfFull(rec, c.now)
}

func (h *Hub) applyMove(c *call, rec *gameRecord) error {
	seat := rec.seatOf(c.conn.Session)
	switch {
	case rec.Status == "over":
		return ErrGameOver
	case seat < 0:
		return ErrNotPlayer
	case rec.Status != "playing":
		return Errorf(ErrNotYourTurn, "the game has not started yet")
	}
	g := h.games[rec.Game]
	st, err := g.Status(rec.State)
	if err != nil {
		return err
	}
	if !slices.Contains(st.Turn, seat) {
		return ErrNotYourTurn
	}
	if len(c.f.Move) == 0 {
		return Errorf(ErrIllegalMove, `missing "move"`)
	}
	state, err := g.Move(rec.State, seat, c.f.Move)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return Errorf(ErrIllegalMove, err.Error())
	}
	rec.State = state
	return h.afterChange(rec, c.now)
}

// forfeit ends a game: the seats in losers lose, everyone else wins.
func (h *Hub) forfeit(rec *gameRecord, losers []int, reason string) {
	if e, ok := h.games[rec.Game].(GameEnder); ok && rec.State != nil {
		if state, err := e.End(rec.State); err == nil {
			rec.State = state
		}
	}
	st := &GameStatus{Over: true}
	for i := range rec.Seats {
		if !slices.Contains(losers, i) {
			st.Winners = append(st.Winners, i)
		}
	}
	rec.Status, rec.Result, rec.Reason, rec.Deadline = "over", st, reason, 0
}

func (h *Hub) applyResign(c *call, rec *gameRecord) error {
	seat := rec.seatOf(c.conn.Session)
	switch {
	case seat < 0:
		return ErrNotPlayer
	case rec.Status == "over":
		return ErrGameOver
	case rec.Status == "open":
		rec.Status, rec.Reason, rec.Result = "over", "cancelled", &GameStatus{Over: true}
		return nil
	}
	h.forfeit(rec, []int{seat}, "resigned")
	return nil
}

// applyClaim lets a waiting player end a game whose turn timer ran out: the
// players whose move was awaited forfeit.
func (h *Hub) applyClaim(c *call, rec *gameRecord) error {
	seat := rec.seatOf(c.conn.Session)
	switch {
	case seat < 0:
		return ErrNotPlayer
	case rec.Status != "playing":
		return ErrGameOver
	case rec.Deadline == 0 || c.now.UnixMilli() < rec.Deadline:
		return Errorf(ErrForbidden, "the turn timer has not run out")
	}
	st, err := h.games[rec.Game].Status(rec.State)
	if err != nil {
		return err
	}
	if slices.Contains(st.Turn, seat) {
		return Errorf(ErrForbidden, "it is your own move that is late")
	}
	h.forfeit(rec, st.Turn, "timeout")
	return nil
}

// forfeitOnLeave ends the running games of a room in which sid plays, when
// sid leaves the room or disconnects.
func (h *Hub) forfeitOnLeave(ctx context.Context, rid, sid string, now time.Time) {
	items, err := h.store.Query(ctx, Query{Partition: roomPart(rid), Prefix: "game#"})
	if err != nil || len(items) == 0 {
		return
	}
	for _, it := range items {
		var rec gameRecord
		if json.Unmarshal(it.Value, &rec) != nil || rec.Status == "over" || rec.seatOf(sid) < 0 || h.games[rec.Game] == nil {
			continue
		}
		rec.version = it.Version
		seat := rec.seatOf(sid)
		if rec.Status == "open" {
			rec.Status, rec.Reason, rec.Result = "over", "cancelled", &GameStatus{Over: true}
		} else {
			h.forfeit(&rec, []int{seat}, "left")
		}
		done := rec.settle()
		v, err := h.store.Put(ctx, Item{Key: it.Key, Value: mustJSON(&rec), Expires: h.gameTTL(&rec, now)}, IfVersion(it.Version))
		if err != nil {
			continue // changed meanwhile; whoever changed it published it
		}
		h.releaseSlots(ctx, done)
		rec.version = v
		if err := h.broadcastGame(ctx, &rec, nil); err != nil {
			h.log.WarnContext(ctx, "chatfly: publishing forfeit", "err", err)
		}
	}
}

// publishGame answers the caller and tells the room.
func (h *Hub) publishGame(c *call, rec *gameRecord) error {
	return h.broadcastGame(c.ctx, rec, c)
}

// broadcastGame sends every member of the game's room the game as they may
// see it: players their seat's view, spectators the public view (encoded
// once). The caller, if any, gets theirs as the reply to its frame.
func (h *Hub) broadcastGame(ctx context.Context, rec *gameRecord, c *call) error {
	ms, err := h.members(ctx, rec.Room)
	if err != nil {
		return err
	}
	spectator, err := h.gameFrame(rec, -1, nil)
	if err != nil {
		return err
	}
	var spectators []memberRec
	for _, m := range ms {
		seat := rec.seatOf(m.sid)
		isCaller := c != nil && m.conn == c.connID
		switch {
		case isCaller:
			frame, err := h.gameFrame(rec, seat, c.f.ID)
			if err != nil {
				return err
			}
			h.reply(c, frame)
		case seat >= 0:
			frame, err := h.gameFrame(rec, seat, nil)
			if err != nil {
				return err
			}
			if err := h.tr.Send(ctx, m.conn, frame); err != nil && !errors.Is(err, ErrGone) {
				h.log.WarnContext(ctx, "chatfly: sending game state", "err", err)
			}
		default:
			spectators = append(spectators, m)
		}
	}
	h.dropGone(ctx, h.fanout(ctx, spectators, "", spectator))
	return nil
}

// gameFrame renders the game for seat (-1: spectator).
func (h *Hub) gameFrame(rec *gameRecord, seat int, id json.RawMessage) ([]byte, error) {
	g := h.games[rec.Game]
	info := g.Info()
	v := gameView{
		ID: rec.ID, Name: rec.Game, Title: info.Title, Status: rec.Status, Size: rec.Size,
		Seats: rec.Seats, Invited: rec.Invited, You: seat, Turn: []int{}, Reason: rec.Reason,
		Deadline: rec.Deadline, Version: rec.version,
	}
	if rec.State != nil {
		view, err := g.View(rec.State, seat)
		if err != nil {
			return nil, err
		}
		v.View = view
		if rec.Status == "playing" {
			st, err := g.Status(rec.State)
			if err != nil {
				return nil, err
			}
			v.Turn = st.Turn
		}
	}
	if rec.Result != nil {
		v.Winners = rec.Result.Winners
	}
	return mustJSON(gameFrame{Type: "game.state", ID: id, Room: rec.Room, Game: v}), nil
}

// gameList answers with the room's games as the caller may see them: a
// bounded choice of the newest ones (see Hub.listGames).
func (h *Hub) gameList(c *call) error {
	if err := h.membership(c); err != nil {
		return err
	}
	items, err := h.store.Query(c.ctx, Query{Partition: roomPart(c.f.Room), Prefix: "game#", Reverse: true, Limit: 5 * h.opts.MaxGameList})
	if err != nil {
		return err
	}
	recs := h.listGames(items, c.conn.Session)
	games := make([]json.RawMessage, 0, len(recs))
	for _, rec := range recs {
		frame, err := h.gameFrame(rec, rec.seatOf(c.conn.Session), nil)
		if err != nil {
			return err
		}
		games = append(games, frame)
	}
	h.reply(c, mustJSON(struct {
		Type  string            `json:"type"`
		ID    json.RawMessage   `json:"id,omitempty"`
		Room  string            `json:"room"`
		Games []json.RawMessage `json:"games"`
		Kinds []GameInfo        `json:"available"`
	}{"game.list", c.f.ID, c.f.Room, games, h.gameInfos()}))
	return nil
}

func (h *Hub) gameInfos() []GameInfo {
	infos := make([]GameInfo, 0, len(h.opts.Games))
	for _, g := range h.opts.Games {
		infos = append(infos, g.Info())
	}
	return infos
}
