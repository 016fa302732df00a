package chatfly_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/builtin"
)

// rawSince returns the raw frame lines sent to conn from index from on.
func (th *testHub) rawSince(conn string, from int) string {
	th.tr.mu.Lock()
	defer th.tr.mu.Unlock()
	return strings.Join(th.tr.raw[conn][from:], "\n")
}

func (th *testHub) rawLen(conn string) int {
	th.tr.mu.Lock()
	defer th.tr.mu.Unlock()
	return len(th.tr.raw[conn])
}

// startGame starts name with the given players in "games" and returns its id.
func (th *testHub) startGame(name string, players ...string) string {
	th.t.Helper()
	var sids []string
	for _, p := range players[1:] {
		sids = append(sids, th.memberID("games", p))
	}
	inv, _ := json.Marshal(sids)
	r := th.reply(th.conns[players[0]], `{"action":"game.start","id":1,"room":"games","game":"`+name+`","invite":`+string(inv)+`}`)
	id := gameOf(r)["id"].(string)
	for _, p := range players[1:] {
		th.reply(th.conns[p], `{"action":"game.accept","id":1,"room":"games","game":"`+id+`"}`)
	}
	return id
}

func newGameHub(t *testing.T, names ...string) *testHub {
	th := newTestHub(t, &chatfly.Options{Games: builtin.All(), RateLimit: chatfly.RateLimit{Count: -1}})
	th.conns = map[string]string{}
	for _, n := range names {
		th.conns[n], _ = th.hello(n)
		th.join(th.conns[n], "games")
	}
	return th
}

// In rock-paper-scissors a hand is never in any frame sent to the opponent
// or a spectator before both have moved.
func TestHiddenMoveNeverLeaks(t *testing.T) {
	th := newGameHub(t, "Ada", "Bob", "Sam")
	id := th.startGame("rps", "Ada", "Bob")
	move := func(who, hand string) {
		r := th.reply(th.conns[who], `{"action":"game.move","id":1,"room":"games","game":"`+id+`","move":{"hand":"`+hand+`"}}`)
		if r["type"] != "game.state" {
			t.Fatalf("%s plays %s: %v", who, hand, r)
		}
	}
	for _, round := range [][2]string{{"rock", "scissors"}, {"paper", "paper"}, {"scissors", "paper"}} {
		bob, sam := th.rawLen(th.conns["Bob"]), th.rawLen(th.conns["Sam"])
		move("Ada", round[0])
		for who, from := range map[string]int{"Bob": bob, "Sam": sam} {
			got := withoutPastRounds(t, th.rawSince(th.conns[who], from))
			// As a JSON string: the game's title says "Rock, paper, scissors".
			if strings.Contains(got, `"`+round[0]+`"`) {
				t.Fatalf("before Bob moved, %s received Ada's hand %q:\n%s", who, round[0], got)
			}
		}
		ada := th.rawLen(th.conns["Ada"])
		move("Bob", round[1])
		if got := th.rawSince(th.conns["Ada"], ada); !strings.Contains(got, `"`+round[1]+`"`) {
			t.Fatalf("after both moved, Ada does not see Bob's %q:\n%s", round[1], got)
		}
	}
	end := ofType(th.tr.take(th.conns["Sam"]), "game.state")
	if g := gameOf(end[len(end)-1]); g["status"] != "over" || g["winners"].([]any)[0] != float64(0) {
		t.Fatalf("rps result: %v", g)
	}
}

// In wordguess the secret word is in no frame to anyone before it is
// revealed, and in everyone's frames after.
func TestSecretWordNeverLeaks(t *testing.T) {
	th := newGameHub(t, "Ada", "Bob", "Cy", "Sam")
	id := th.startGame("wordguess", "Ada", "Bob", "Cy")
	it, err := th.store.Get(context.Background(), chatfly.Key{Partition: "room#games", Sort: "game#" + id})
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		State struct {
			Word string `json:"w"`
		} `json:"state"`
	}
	if err := json.Unmarshal(it.Value, &rec); err != nil || rec.State.Word == "" {
		t.Fatalf("stored game: %s (%v)", it.Value, err)
	}
	secret := rec.State.Word
	frames := func() string {
		var all []string
		for _, n := range []string{"Ada", "Bob", "Cy", "Sam"} {
			all = append(all, th.rawSince(th.conns[n], 0))
		}
		return strings.Join(all, "\n")
	}
	// Guess wrong letters in turn until the misses run out, checking every
	// frame sent so far after each move.
	order := []string{"Ada", "Bob", "Cy"}
	turn := 0
	for _, l := range "qjxzvkwyfbmhpgcdulsrtnoiae" {
		if strings.ContainsRune(secret, l) {
			continue
		}
		r := th.reply(th.conns[order[turn%3]], `{"action":"game.move","id":1,"room":"games","game":"`+id+`","move":{"letter":"`+string(l)+`"}}`)
		if r["type"] != "game.state" {
			t.Fatalf("guess %c: %v", l, r)
		}
		turn++
		if gameOf(r)["status"] == "over" {
			break
		}
		if v, ok := jsonValueWith(t, frames(), secret); ok {
			t.Fatalf("the secret %q appeared in a frame before the end: %q", secret, v)
		}
	}
	last := ofType(th.tr.take(th.conns["Sam"]), "game.state")
	if g := gameOf(last[len(last)-1]); g["status"] != "over" {
		t.Fatalf("game not over after the misses: %v", g)
	}
	if !strings.Contains(th.rawSince(th.conns["Sam"], 0), `"word":"`+secret+`"`) {
		t.Fatal("the secret is not revealed to spectators at the end")
	}
}

// jsonValueWith returns the first string value in the JSON frames (one a
// line) that has word as one of its words, ignoring case. Only values
// count: a secret such as "event" is also a field name of the protocol.
func jsonValueWith(t *testing.T, frames, word string) (string, bool) {
	t.Helper()
	var walk func(v any) (string, bool)
	walk = func(v any) (string, bool) {
		switch v := v.(type) {
		case string:
			notLetter := func(r rune) bool { return !unicode.IsLetter(r) }
			return v, slices.ContainsFunc(strings.FieldsFunc(v, notLetter), func(w string) bool { return strings.EqualFold(w, word) })
		case []any:
			for _, e := range v {
				if s, ok := walk(e); ok {
					return s, true
				}
			}
		case map[string]any:
			for _, e := range v {
				if s, ok := walk(e); ok {
					return s, true
				}
			}
		}
		return "", false
	}
	for _, line := range strings.Split(frames, "\n") {
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("frame %q: %v", line, err)
		}
		if s, ok := walk(v); ok {
			return s, true
		}
	}
	return "", false
}

func TestRematchRotatesSeats(t *testing.T) {
	th := newGameHub(t, "Ada", "Bob")
	id := th.startGame("tictactoe", "Ada", "Bob")
	th.reply(th.conns["Bob"], `{"action":"game.resign","id":1,"room":"games","game":"`+id+`"}`)
	r := th.reply(th.conns["Bob"], `{"action":"game.rematch","id":1,"room":"games","game":"`+id+`"}`)
	newID := gameOf(r)["id"].(string)
	r = th.reply(th.conns["Ada"], `{"action":"game.accept","id":1,"room":"games","game":"`+newID+`"}`)
	g := gameOf(r)
	if seats := g["seats"].([]any); seats[0].(map[string]any)["name"] != "Bob" || g["you"] != float64(1) {
		t.Fatalf("rematch seats: %v (Ada moved first last time; Bob should now)", g)
	}
}

// withoutPastRounds drops the history of completed rounds (whose hands are
// public) from raw game.state frames, keeping everything else as sent.
func withoutPastRounds(t *testing.T, frames string) string {
	var out []string
	for _, line := range strings.Split(frames, "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if g, ok := ev["game"].(map[string]any); ok {
			if v, ok := g["view"].(map[string]any); ok {
				delete(v, "rounds")
			}
		}
		b, _ := json.Marshal(ev)
		out = append(out, string(b))
	}
	return strings.Join(out, "\n")
}

// A word game ended by a resignation still reveals its word.
func TestForfeitRevealsSecret(t *testing.T) {
	th := newGameHub(t, "Ada", "Bob")
	id := th.startGame("wordguess", "Ada", "Bob")
	r := th.reply(th.conns["Bob"], `{"action":"game.resign","id":1,"room":"games","game":"`+id+`"}`)
	g := gameOf(r)
	view := g["view"].(map[string]any)
	if g["status"] != "over" || g["reason"] != "resigned" || view["word"] == nil || view["over"] != true || g["winners"].([]any)[0] != float64(0) {
		t.Fatalf("after a resignation: %v", g)
	}
	th.wantError(th.conns["Ada"], `{"action":"game.move","room":"games","game":"`+id+`","move":{"letter":"e"}}`, "game_over")
}
