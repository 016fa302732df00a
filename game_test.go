package chatfly_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

// nim is a tiny turn-based game for testing the Hub's game plumbing: the
// players take 1 or 2 from a pile of 7 in turn; whoever takes the last one
// wins.
type nim struct{}

type nimState struct {
	Pile int `json:"pile"`
	Next int `json:"next"`
	Won  int `json:"won"` // seat+1 of the winner, 0 while playing
}

func (nim) Info() chatfly.GameInfo {
	return chatfly.GameInfo{Name: "nim", Title: "Nim", MinPlayers: 2, MaxPlayers: 2}
}

func (nim) Start([]string, *rand.Rand) ([]byte, error) { return json.Marshal(nimState{Pile: 7}) }

func (nim) Move(state []byte, seat int, move json.RawMessage) ([]byte, error) {
	var s nimState
	_ = json.Unmarshal(state, &s)
	var m struct{ Take int }
	if err := json.Unmarshal(move, &m); err != nil || m.Take < 1 || m.Take > 2 || m.Take > s.Pile {
		return nil, chatfly.Errorf(chatfly.ErrIllegalMove, "take 1 or 2")
	}
	s.Pile -= m.Take
	if s.Pile == 0 {
		s.Won = seat + 1
	}
	s.Next = 1 - seat
	return json.Marshal(s)
}

func (nim) View(state []byte, _ int) (any, error) { return json.RawMessage(state), nil }

func (nim) Status(state []byte) (chatfly.GameStatus, error) {
	var s nimState
	if err := json.Unmarshal(state, &s); err != nil {
		return chatfly.GameStatus{}, err
	}
	if s.Won > 0 {
		return chatfly.GameStatus{Over: true, Winners: []int{s.Won - 1}}, nil
	}
	return chatfly.GameStatus{Turn: []int{s.Next}}, nil
}

func gameOf(ev map[string]any) map[string]any { return ev["game"].(map[string]any) }

func TestGameInviteMoveAndErrors(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{Games: []chatfly.Game{nim{}}})
	a, _ := th.hello("Ada")
	b, wb := th.hello("Bob")
	spec, _ := th.hello("Sam")
	for _, c := range []string{a, b, spec} {
		th.join(c, "games")
	}
	th.wantError(a, `{"action":"game.start","room":"games","game":"chess"}`, "not_found")
	th.wantError(a, `{"action":"game.start","room":"games","game":"nim","players":5}`, "bad_request")
	r := th.reply(a, `{"action":"game.start","id":1,"room":"games","game":"nim","invite":["`+wb["session"].(string)+`"]}`)
	g := gameOf(r)
	if r["type"] != "game.state" || g["status"] != "open" || g["you"] != float64(0) {
		t.Fatalf("start: %v", r)
	}
	id := g["id"].(string)
	frame := func(action, extra string) string {
		return `{"action":"` + action + `","id":1,"room":"games","game":"` + id + `"` + extra + `}`
	}
	th.wantError(spec, frame("game.accept", ""), "forbidden") // not invited
	r = th.reply(b, frame("game.accept", ""))
	if g := gameOf(r); g["status"] != "playing" || g["you"] != float64(1) {
		t.Fatalf("accept: %v", r)
	}
	if s := ofType(th.tr.take(spec), "game.state"); len(s) == 0 || gameOf(s[len(s)-1])["you"] != float64(-1) {
		t.Fatalf("spectator got %v", s)
	}

	// Illegal moves get an error code and change nothing.
	th.wantError(b, frame("game.move", `,"move":{"take":1}`), "not_your_turn")
	th.wantError(spec, frame("game.move", `,"move":{"take":1}`), "not_player")
	th.wantError(a, frame("game.move", `,"move":{"take":3}`), "illegal_move")
	th.wantError(a, frame("game.move", `,"move":"garbage"`), "illegal_move")
	th.wantError(a, frame("game.move", ``), "illegal_move")
	for i, who := range []string{a, b, a, b, a} { // 7 = 2+1+2+1+1
		take := []string{"2", "1", "2", "1", "1"}[i]
		r := th.reply(who, frame("game.move", `,"move":{"take":`+take+`}`))
		if r["type"] != "game.state" {
			t.Fatalf("move %d: %v", i, r)
		}
	}
	last := ofType(th.tr.take(spec), "game.state")
	end := gameOf(last[len(last)-1])
	if end["status"] != "over" || end["winners"].([]any)[0] != float64(0) {
		t.Fatalf("end seen by the spectator: %v", end)
	}
	th.wantError(b, frame("game.move", `,"move":{"take":1}`), "game_over")
}

func TestGameForfeitOnLeaveAndTimer(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{Games: []chatfly.Game{nim{}}, TurnTimeout: time.Minute})
	a, _ := th.hello("Ada")
	b, _ := th.hello("Bob")
	th.join(a, "games")
	th.join(b, "games")
	start := func() string {
		id := gameOf(th.reply(a, `{"action":"game.start","id":1,"room":"games","game":"nim"}`))["id"].(string)
		th.reply(b, `{"action":"game.accept","id":1,"room":"games","game":"`+id+`"}`)
		return id
	}
	id := start()
	// Ada's move is late: Bob may claim the game only after the timer.
	claim := `{"action":"game.claim","id":1,"room":"games","game":"` + id + `"}`
	th.wantError(b, claim, "forbidden")
	th.clock.Advance(61 * time.Second)
	th.wantError(a, claim, "forbidden") // not for the late player
	r := th.reply(b, claim)
	if g := gameOf(r); g["status"] != "over" || g["reason"] != "timeout" || g["winners"].([]any)[0] != float64(1) {
		t.Fatalf("claim: %v", r)
	}

	// Leaving the room forfeits a running game.
	id = start()
	th.tr.take(b)
	th.reply(a, `{"action":"leave","id":1,"room":"games"}`)
	s := ofType(th.tr.take(b), "game.state")
	if len(s) != 1 || gameOf(s[0])["reason"] != "left" || gameOf(s[0])["id"] != id {
		t.Fatalf("after Ada left: %v", s)
	}
}

func TestGameListForLateJoiners(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{Games: []chatfly.Game{nim{}}})
	a, _ := th.hello("Ada")
	th.join(a, "games")
	th.reply(a, `{"action":"game.start","id":1,"room":"games","game":"nim"}`)
	late, _ := th.hello("Late")
	th.join(late, "games")
	r := th.reply(late, `{"action":"game.list","id":1,"room":"games"}`)
	games := r["games"].([]any)
	if len(games) != 1 || !strings.Contains(string(mustJSON(games[0])), `"status":"open"`) || r["available"].([]any)[0].(map[string]any)["name"] != "nim" {
		t.Fatalf("game.list: %v", r)
	}
	// Anyone may take an open seat.
	id := gameOf(games[0].(map[string]any))["id"].(string)
	if g := gameOf(th.reply(late, `{"action":"game.accept","id":1,"room":"games","game":"`+id+`"}`)); g["status"] != "playing" {
		t.Fatalf("open seat: %v", g)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(errors.New("test: " + err.Error()))
	}
	return b
}
