package scenario

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/games/builtin"
)

func games() []chatfly.Game { return builtin.All() }

// roomChat: two people join a room, see each other arrive, talk, type; a
// third gets the history; the room list shows the occupancy; a leave is
// seen.
func roomChat(e *env) {
	ada, lin := e.dial("Ada", nil), e.dial("Lin", nil)
	if j := e.join(ada, "lobby"); len(j.Members) != 1 || j.Room.ID != "lobby" {
		e.t.Fatalf("Ada joined %+v", j)
	}
	if j := e.join(lin, "lobby"); len(j.Members) != 2 {
		e.t.Fatalf("Lin sees members %+v", j.Members)
	}
	if p := e.next(ada, "presence"); p.Event != "join" || p.Member.Name != "Lin" || p.Members != 2 {
		e.t.Fatalf("Ada's presence event: %+v", p)
	}
	seq := e.send(ada, "lobby", "hi Lin")
	if m := e.next(lin, "message"); m.Text != "hi Lin" || m.From.Name != "Ada" || m.Seq != seq {
		e.t.Fatalf("Lin got %+v, want seq %d", m, seq)
	}
	if m := e.next(ada, "message"); m.Text != "hi Lin" {
		e.t.Fatalf("Ada's own message came back as %+v", m)
	}
	e.send(lin, "lobby", "hello Ada")
	if m := e.next(ada, "message"); m.Text != "hello Ada" || m.From.ID != lin.Welcome().Session {
		e.t.Fatalf("Ada got %+v", m)
	}
	if err := lin.Typing(e.ctx(), "lobby"); err != nil {
		e.t.Fatal(err)
	}
	if ty := e.next(ada, "typing"); ty.Member.Name != "Lin" || ty.Room != "lobby" {
		e.t.Fatalf("Ada's typing event: %+v", ty)
	}

	cy := e.dial("Cy", nil)
	rooms, _, err := cy.Rooms(e.ctx(), "", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	i := slices.IndexFunc(rooms, func(r chatfly.RoomInfo) bool { return r.ID == "lobby" })
	if i != 0 || rooms[i].Members != 2 || rooms[i].Seq != 2 {
		e.t.Fatalf("rooms: %+v", rooms)
	}
	j := e.join(cy, "lobby")
	if len(j.History) != 2 || j.History[0].Text != "hi Lin" || j.History[1].Text != "hello Ada" {
		e.t.Fatalf("Cy's history: %+v", j.History)
	}
	msgs, _, err := cy.History(e.ctx(), "lobby", 2, 10)
	if err != nil || len(msgs) != 1 || msgs[0].Seq != 1 {
		e.t.Fatalf("history before 2: %+v, %v", msgs, err)
	}
	if err := lin.Leave(e.ctx(), "lobby"); err != nil {
		e.t.Fatal(err)
	}
	p := e.nextWhere(cy, "presence", func(ev client.Event) bool { return ev.Event == "leave" })
	if p.Member.Name != "Lin" || p.Members != 2 {
		e.t.Fatalf("Cy's leave event: %+v", p)
	}
	_, err = lin.Send(e.ctx(), "lobby", "still here?")
	e.wantCode("sending after leaving", err, chatfly.ErrNotMember)
}

// fanOut: one message reaches every member of a busier room exactly once.
func fanOut(e *env) {
	const n = 8
	cs := make([]*client.Client, n)
	for i := range cs {
		cs[i] = e.dial(fmt.Sprintf("P%d", i), nil)
		e.join(cs[i], "random")
	}
	seq := e.send(cs[0], "random", "to everyone")
	for _, c := range cs {
		if m := e.next(c, "message"); m.Seq != seq || m.Text != "to everyone" {
			e.t.Fatalf("%s got %+v", c.Welcome().Name, m)
		}
	}
	e.send(cs[n-1], "random", "and back")
	for _, c := range cs {
		if m := e.next(c, "message"); m.Seq != seq+1 {
			e.t.Fatalf("%s got %+v, want seq %d exactly once", c.Welcome().Name, m, seq+1)
		}
	}
}

// helloAndResume: bad names are refused; a resume token gives the same
// session and name on a new connection; a forged token is refused.
func helloAndResume(e *env) {
	_, err := e.tryDial("", &client.Options{Name: "  "})
	e.wantCode("blank name", err, chatfly.ErrInvalidName)
	_, err = e.tryDial("", &client.Options{Name: "evil\u202eeman"})
	e.wantCode("bidi override in name", err, chatfly.ErrInvalidName)

	ada := e.dial("Ada", nil)
	w := ada.Welcome()
	if w.Session == "" || w.Token == "" || w.Name != "Ada" || w.Protocol != chatfly.ProtocolVersion {
		e.t.Fatalf("welcome %+v", w)
	}
	e.join(ada, "lobby")
	e.send(ada, "lobby", "before")
	if err := ada.Close(); err != nil {
		e.t.Fatal(err)
	}
	again := e.dial("", &client.Options{Token: w.Token})
	if w2 := again.Welcome(); w2.Session != w.Session || w2.Name != "Ada" {
		e.t.Fatalf("resumed as %+v, want session %s", w2, w.Session)
	}
	j, err := again.Join(e.ctx(), "lobby", 1)
	if err != nil || len(j.History) != 0 || j.Room.Seq != 1 {
		e.t.Fatalf("rejoin after 1: %+v, %v", j, err)
	}
	_, err = e.tryDial("", &client.Options{Token: w.Token[:len(w.Token)-2] + "xx"})
	e.wantCode("forged token", err, chatfly.ErrInvalidToken)
}

// connectRejected: the application's identity hook refuses a connection
// before the WebSocket upgrade (API Gateway: $connect answers 403).
func connectRejected(e *env) {
	for _, opts := range []*client.Options{
		{Name: "Mallory", HTTPHeader: header(banHeader, "1")},
		{Name: "Mallory"},
	} {
		url := e.d.URL
		if opts.HTTPHeader == nil {
			url += "?ban=1"
		}
		_, err := client.Dial(e.ctx(), url, opts)
		var he *client.HandshakeError
		if !errors.As(err, &he) || he.StatusCode != 403 {
			e.t.Fatalf("banned dial: %v, want a 403 handshake error", err)
		}
		if e.d.Gateway {
			// API Gateway passes the status of $connect's refusal only.
			if len(he.Body) != 0 {
				e.t.Fatalf("API Gateway passed the refusal body %q", he.Body)
			}
			continue
		}
		if !errors.Is(err, chatfly.ErrRejected) {
			e.t.Fatalf("banned dial: %v, want code rejected", err)
		}
		if !strings.Contains(he.Error()+string(he.Body), "banned from this server") {
			e.t.Fatalf("the refusal does not say why: %v %s", he, he.Body)
		}
	}
	// Others still get in.
	e.join(e.dial("Ada", nil), "lobby")
}

// verifiedUser: the identity hook names the user; a second connection of
// the same user replaces the first.
func verifiedUser(e *env) {
	u := e.dial("", &client.Options{HTTPHeader: header(userHeader, "42")})
	if w := u.Welcome(); w.User != "42" || w.Name != "User 42" || w.Token != "" {
		e.t.Fatalf("verified welcome %+v", w)
	}
	e.join(u, "lobby")
	other := e.dial("Ada", nil)
	j := e.join(other, "lobby")
	if !slices.ContainsFunc(j.Members, func(m chatfly.Member) bool { return m.Name == "User 42" }) {
		e.t.Fatalf("members %+v", j.Members)
	}
}

// customRoom: a private room is created, not listed, joined by link,
// moderated.
func customRoom(e *env) {
	owner, guest := e.dial("Olga", nil), e.dial("Gus", nil)
	var created struct {
		Type string           `json:"type"`
		Room chatfly.RoomInfo `json:"room"`
	}
	e.do(owner, "room.create", map[string]any{"name": "Book club", "topic": "Dune", "visibility": "private"}, &created)
	if created.Type != "room.created" || !created.Room.Custom || created.Room.Public {
		e.t.Fatalf("room.created %+v", created)
	}
	id := created.Room.ID
	rooms, _, err := guest.Rooms(e.ctx(), "", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	if slices.ContainsFunc(rooms, func(r chatfly.RoomInfo) bool { return r.ID == id }) {
		e.t.Fatal("a private room is listed")
	}
	e.join(owner, id)
	j := e.join(guest, id)
	if j.Room.Topic != "Dune" || j.Members[slices.IndexFunc(j.Members, func(m chatfly.Member) bool { return m.Name == "Olga" })].Role != "owner" {
		e.t.Fatalf("guest joined %+v", j)
	}
	e.send(guest, id, "hi all")
	if m := e.next(owner, "message"); m.Text != "hi all" {
		e.t.Fatalf("owner got %+v", m)
	}
	_, err = guest.Do(e.ctx(), "room.kick", map[string]any{"room": id, "member": owner.Welcome().Session})
	e.wantCode("member kicking the owner", err, chatfly.ErrForbidden)
	e.do(owner, "room.ban", map[string]any{"room": id, "member": guest.Welcome().Session, "reason": "spoilers"}, nil)
	if m := e.next(guest, "moderation"); !strings.Contains(string(m.Raw), `"action":"ban"`) {
		e.t.Fatalf("guest got %s", m.Raw)
	}
	_, err = guest.Join(e.ctx(), id, 0)
	e.wantCode("banned guest rejoining", err, chatfly.ErrBanned)
}

type rouletteFrame struct {
	Type    string         `json:"type"`
	Room    string         `json:"room"`
	Partner chatfly.Member `json:"partner"`
	Shared  []string       `json:"shared"`
	Reason  string         `json:"reason"`
}

// roulette: two strangers are paired and chat; one presses next and meets a
// third, the other is told; leave ends a pair.
func roulette(e *env) {
	ann, bo, cy := e.dial("Ann", nil), e.dial("Bo", nil), e.dial("Cy", nil)
	var r rouletteFrame
	e.do(ann, "roulette.join", map[string]any{"interests": []string{"Go", "music"}}, &r)
	if r.Type != "roulette.waiting" {
		e.t.Fatalf("Ann: %+v", r)
	}
	e.do(bo, "roulette.join", map[string]any{"interests": []string{"go"}}, &r)
	if r.Type != "roulette.matched" || r.Partner.Name != "Ann" || !slices.Equal(r.Shared, []string{"go"}) {
		e.t.Fatalf("Bo: %+v", r)
	}
	m := decode[rouletteFrame](e, e.next(ann, "roulette.matched"))
	if m.Room != r.Room || m.Partner.Name != "Bo" {
		e.t.Fatalf("Ann's match: %+v", m)
	}
	e.send(ann, m.Room, "hello stranger")
	if msg := e.next(bo, "message"); msg.Text != "hello stranger" || msg.Room != r.Room {
		e.t.Fatalf("Bo got %+v", msg)
	}
	_, err := cy.Join(e.ctx(), r.Room, 0)
	if err == nil {
		e.t.Fatal("a third person joined a pair room")
	}

	var w rouletteFrame
	e.do(cy, "roulette.join", nil, &w)
	if w.Type != "roulette.waiting" {
		e.t.Fatalf("Cy: %+v", w)
	}
	var r2 rouletteFrame
	e.do(bo, "roulette.next", nil, &r2)
	if r2.Type != "roulette.matched" || r2.Partner.Name != "Cy" || r2.Room == r.Room {
		e.t.Fatalf("Bo after next: %+v", r2)
	}
	if ended := decode[rouletteFrame](e, e.next(ann, "roulette.ended")); ended.Reason != "next" || ended.Room != r.Room {
		e.t.Fatalf("Ann after Bo's next: %+v", ended)
	}
	if m := decode[rouletteFrame](e, e.next(cy, "roulette.matched")); m.Partner.Name != "Bo" {
		e.t.Fatalf("Cy: %+v", m)
	}
	if _, err := ann.Send(e.ctx(), r.Room, "still there?"); err == nil {
		e.t.Fatal("Ann could still send into the ended pair room")
	}
	var left rouletteFrame
	e.do(cy, "roulette.leave", nil, &left)
	if left.Type != "roulette.left" {
		e.t.Fatalf("Cy leaving: %+v", left)
	}
	if ended := decode[rouletteFrame](e, e.next(bo, "roulette.ended")); ended.Reason != "left" || ended.Room != r2.Room {
		e.t.Fatalf("Bo after Cy left: %+v", ended)
	}
}

type gameState struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Game struct {
		ID      string           `json:"id"`
		Name    string           `json:"name"`
		Status  string           `json:"status"`
		Seats   []chatfly.Member `json:"seats"`
		You     int              `json:"you"`
		Turn    []int            `json:"turn"`
		Winners []int            `json:"winners"`
		Version int64            `json:"version"`
		View    struct {
			Board []string `json:"board"`
		} `json:"view"`
	} `json:"game"`
}

// game: Ada invites Lin to tic-tac-toe in the games room and wins, while
// Cy watches; a move out of turn and an illegal move are refused.
func game(e *env) {
	ada, lin, cy := e.dial("Ada", nil), e.dial("Lin", nil), e.dial("Cy", nil)
	for _, c := range []*client.Client{ada, lin, cy} {
		e.join(c, "games")
	}
	var list struct {
		Available []chatfly.GameInfo `json:"available"`
	}
	e.do(cy, "game.list", map[string]any{"room": "games"}, &list)
	for _, want := range []string{"tictactoe", "connectfour", "rps", "wordguess"} {
		if !slices.ContainsFunc(list.Available, func(g chatfly.GameInfo) bool { return g.Name == want }) {
			e.t.Fatalf("game.list offers %+v, without %s", list.Available, want)
		}
	}

	var st gameState
	e.do(ada, "game.start", map[string]any{"room": "games", "game": "tictactoe", "invite": []string{lin.Welcome().Session}}, &st)
	if st.Type != "game.state" || st.Game.Status != "open" || st.Game.You != 0 {
		e.t.Fatalf("started %+v", st)
	}
	id := st.Game.ID
	invited := decode[gameState](e, e.next(lin, "game.state"))
	if invited.Game.ID != id || invited.Game.Status != "open" {
		e.t.Fatalf("Lin's invitation %+v", invited)
	}
	_, err := cy.Do(e.ctx(), "game.accept", map[string]any{"room": "games", "game": id})
	e.wantCode("accepting someone else's invitation", err, chatfly.ErrForbidden)
	e.do(lin, "game.accept", map[string]any{"room": "games", "game": id}, &st)
	if st.Game.Status != "playing" || st.Game.You != 1 || !slices.Equal(st.Game.Turn, []int{0}) {
		e.t.Fatalf("accepted %+v", st)
	}
	move := func(c *client.Client, cell int) gameState {
		var st gameState
		e.do(c, "game.move", map[string]any{"room": "games", "game": id, "move": map[string]int{"cell": cell}}, &st)
		return st
	}
	_, err = lin.Do(e.ctx(), "game.move", map[string]any{"room": "games", "game": id, "move": map[string]int{"cell": 4}})
	e.wantCode("moving out of turn", err, chatfly.ErrNotYourTurn)
	move(ada, 0)
	_, err = lin.Do(e.ctx(), "game.move", map[string]any{"room": "games", "game": id, "move": map[string]int{"cell": 0}})
	e.wantCode("playing a taken cell", err, chatfly.ErrIllegalMove)
	_, err = cy.Do(e.ctx(), "game.move", map[string]any{"room": "games", "game": id, "move": map[string]int{"cell": 5}})
	e.wantCode("a spectator moving", err, chatfly.ErrNotPlayer)
	move(lin, 3)
	move(ada, 1)
	move(lin, 4)
	final := move(ada, 2)
	if final.Game.Status != "over" || !slices.Equal(final.Game.Winners, []int{0}) {
		e.t.Fatalf("final %+v", final)
	}
	// The spectator saw the game end, as a spectator.
	seen := decode[gameState](e, e.nextWhere(cy, "game.state", func(ev client.Event) bool {
		return decode[gameState](e, ev).Game.Status == "over"
	}))
	if seen.Game.You != -1 || !slices.Equal(seen.Game.Winners, []int{0}) || seen.Game.Version != final.Game.Version {
		e.t.Fatalf("Cy saw %+v, want the final version %d", seen, final.Game.Version)
	}
	_, err = lin.Do(e.ctx(), "game.move", map[string]any{"room": "games", "game": id, "move": map[string]int{"cell": 8}})
	e.wantCode("moving after the end", err, chatfly.ErrGameOver)
}

// badInput: malformed frames get error frames and the connection stays
// open; a frame over the size limit closes it with 1009 (standalone) or is
// answered too_large (API Gateway).
func badInput(e *env) {
	c := e.dial("Ada", nil)
	for _, tc := range []struct {
		frame string
		want  *chatfly.Error
	}{
		{`not json`, chatfly.ErrBadJSON},
		{`{"action":"fly","id":"u1"}`, chatfly.ErrUnknownAction},
		{`{"action":"join","id":"j1"}`, chatfly.ErrBadRequest},
		{`{"action":"hello","id":"h2","name":"Again"}`, chatfly.ErrAlreadyHello},
		{`{"action":"send","id":"s1","room":"lobby","text":"hi"}`, chatfly.ErrNotMember},
	} {
		if err := c.SendRaw(e.ctx(), []byte(tc.frame)); err != nil {
			e.t.Fatal(err)
		}
		if got := e.next(c, "error").Err(); !errors.Is(got, tc.want) {
			e.t.Fatalf("%s: got %v, want %s", tc.frame, got, tc.want.Code)
		}
	}
	e.join(c, "lobby")
	big := `{"action":"send","id":"big","room":"lobby","text":"` + strings.Repeat("x", chatfly.DefaultMaxFrameBytes) + `"}`
	if err := c.SendRaw(e.ctx(), []byte(big)); err != nil {
		e.t.Fatal(err)
	}
	if e.d.Gateway {
		if got := e.next(c, "error").Err(); !errors.Is(got, chatfly.ErrTooLarge) {
			e.t.Fatalf("oversized frame: %v, want too_large", got)
		}
		e.send(c, "lobby", "still connected")
		return
	}
	var ce *client.CloseError
	if err := e.ended(c); !errors.As(err, &ce) || ce.Code != int(chatfly.CloseTooBig) {
		e.t.Fatalf("oversized frame ended the connection with %v, want 1009", err)
	}
}

// replaced: the same session connecting again closes the older connection
// with 4001.
func replaced(e *env) {
	first := e.dial("Ada", nil)
	second := e.dial("", &client.Options{Token: first.Welcome().Token})
	if second.Welcome().Session != first.Welcome().Session {
		e.t.Fatal("the token did not resume the session")
	}
	if e.d.Gateway {
		// API Gateway cannot send close codes: the Hub's code comes in a
		// close frame, then the connection ends.
		ev := e.next(first, "close")
		if cl := decode[struct {
			Code int `json:"code"`
		}](e, ev); cl.Code != int(chatfly.CloseReplaced) {
			e.t.Fatalf("close frame %s, want code 4001", ev.Raw)
		}
		e.ended(first)
	} else {
		var ce *client.CloseError
		if err := e.ended(first); !errors.As(err, &ce) || ce.Code != int(chatfly.CloseReplaced) {
			e.t.Fatalf("replaced connection ended with %v, want 4001", err)
		}
	}
	e.join(second, "lobby")
}

// disconnectLeaves: a client that hangs up leaves its rooms; the others see
// it go.
func disconnectLeaves(e *env) {
	ada, lin := e.dial("Ada", nil), e.dial("Lin", nil)
	e.join(ada, "lobby")
	e.join(lin, "lobby")
	if err := lin.Close(); err != nil {
		e.t.Fatal(err)
	}
	p := e.nextWhere(ada, "presence", func(ev client.Event) bool { return ev.Event == "leave" })
	if p.Member.Name != "Lin" || p.Members != 1 {
		e.t.Fatalf("Ada saw %+v", p)
	}
	rooms, _, err := ada.Rooms(e.ctx(), "", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	if i := slices.IndexFunc(rooms, func(r chatfly.RoomInfo) bool { return r.ID == "lobby" }); rooms[i].Members != 1 {
		e.t.Fatalf("rooms after Lin left: %+v", rooms)
	}
}

// flood: a client that floods past the rate limit (50 frames per 10 s) is
// told once (rate_limited, with the id of its first frame over the limit;
// once more if the flood straddles two windows) and closed with 1008 once
// it has sent twice the limit in a window; someone else chats on. Over API
// Gateway the close is announced by a close frame, and the rate_limited
// reply may be overtaken by it.
func flood(e *env) {
	// The rate limit counts in fixed windows of 10 s aligned to the Unix
	// epoch, hello included. Start early in one, so that the hello and
	// the flood usually stay inside it, and note whether they did.
	const window = 10 * time.Second
	if left := window - time.Duration(time.Now().UnixNano()%int64(window)); left < 3*time.Second {
		time.Sleep(left)
	}
	w0 := time.Now().UnixNano() / int64(window)
	f := e.dial("Flood", nil)
	for i := 0; i < 400; i++ {
		if f.SendRaw(e.ctx(), []byte(`{"action":"ping","id":"f`+strconv.Itoa(i)+`"}`)) != nil {
			break // closed
		}
	}
	var limited []string // ids of the rate_limited errors
	timeout := time.After(Timeout)
	for open := true; open; {
		select {
		case ev, ok := <-f.Events():
			if open = ok; ok && errors.Is(ev.Err(), chatfly.ErrRateLimited) {
				var r struct{ ID string }
				_ = json.Unmarshal(ev.Raw, &r)
				limited = append(limited, r.ID)
			}
		case <-timeout:
			e.t.Fatal("the flooder's connection is still open")
		}
	}
	err := f.Err()
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != int(chatfly.ClosePolicy) {
		e.t.Fatalf("the flooder's connection ended with %v, want 1008", err)
	}
	crossed := time.Now().UnixNano()/int64(window) != w0
	first := -1
	if len(limited) > 0 {
		first, _ = strconv.Atoi(strings.TrimPrefix(limited[0], "f"))
	}
	switch {
	case len(limited) > 2:
		e.t.Fatalf("rate_limited replies to %v, want at most one per window", limited)
	case e.d.Gateway:
		// API Gateway hands a connection's frames to the functions
		// concurrently: which frame is the first over the limit is a race,
		// and its reply may lose the race with the close.
	case !crossed && (len(limited) != 1 || first != 49):
		e.t.Fatalf("rate_limited replies to %v, want one, to f49 (the 51st frame, after hello)", limited)
	case crossed && first < 49:
		// A window that began during the flood restarted the count, so
		// the first frame over the limit came later.
		e.t.Fatalf("rate_limited replies to %v, want the first to f49 or later (the flood crossed a window)", limited)
	}
	lin := e.dial("Lin", nil)
	e.join(lin, "lobby")
	e.send(lin, "lobby", "still open for business")
}
