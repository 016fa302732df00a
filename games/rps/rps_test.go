package rps_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/gametest"
	"github.com/chatfly/chatfly/games/rps"
)

var g rps.Game

var allHands = []string{rps.Rock, rps.Paper, rps.Scissors}

func start(t gametest.TB) []byte { return gametest.Start(t, g, 2, 1) }

func view(t gametest.TB, state []byte, seat int) rps.View {
	t.Helper()
	return gametest.View[rps.View](t, g, state, seat)
}

func hand(h string) string { return fmt.Sprintf(`{"hand":%q}`, h) }

// rounds plays rounds given as pairs of hands, seat 1 moving first in odd
// rounds to cover both orders.
func rounds(t gametest.TB, state []byte, pairs ...[2]string) []byte {
	t.Helper()
	for i, p := range pairs {
		if i%2 == 0 {
			state = gametest.Play(t, g, state, "0:"+hand(p[0]), "1:"+hand(p[1]))
		} else {
			state = gametest.Play(t, g, state, "1:"+hand(p[1]), "0:"+hand(p[0]))
		}
	}
	return state
}

func TestInfo(t *testing.T) {
	gametest.CheckInfo(t, g)
}

func TestIllegalMoves(t *testing.T) {
	fresh := start(t)
	moved := gametest.Play(t, g, fresh, "0:"+hand(rps.Rock))
	won := rounds(t, fresh, [2]string{rps.Rock, rps.Scissors}, [2]string{rps.Rock, rps.Scissors})
	tests := []struct {
		name  string
		state []byte
		seat  int
		move  string
		want  error
	}{
		{"not json", fresh, 0, `rock`, nil},
		{"truncated", fresh, 0, `{"hand":"rock"`, nil},
		{"null", fresh, 0, `null`, nil},
		{"bare string", fresh, 0, `"rock"`, nil},
		{"missing hand", fresh, 0, `{}`, nil},
		{"hand null", fresh, 0, `{"hand":null}`, nil},
		{"hand number", fresh, 0, `{"hand":1}`, nil},
		{"unknown hand", fresh, 0, `{"hand":"lizard"}`, nil},
		{"capitalised hand", fresh, 0, `{"hand":"Rock"}`, nil},
		{"short hand", fresh, 0, `{"hand":"r"}`, nil},
		{"unknown field", fresh, 0, `{"hand":"rock","round":1}`, nil},
		{"duplicate field", fresh, 0, `{"hand":"rock","hand":"paper"}`, nil},
		{"trailing data", fresh, 0, `{"hand":"rock"}]`, nil},
		{"twice in a round", moved, 0, hand(rps.Paper), chatfly.ErrNotYourTurn},
		{"twice in a round, same hand", moved, 0, hand(rps.Rock), chatfly.ErrNotYourTurn},
		{"spectator", fresh, -1, hand(rps.Rock), chatfly.ErrNotPlayer},
		{"no such seat", fresh, 2, hand(rps.Rock), chatfly.ErrNotPlayer},
		{"after the end", won, 0, hand(rps.Rock), chatfly.ErrGameOver},
		{"after the end, loser", won, 1, hand(rps.Rock), chatfly.ErrGameOver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []error
			if tt.want != nil {
				want = append(want, tt.want)
			}
			err := gametest.Illegal(t, g, tt.state, tt.seat, tt.move, want...)
			if tt.want == nil && chatfly.CodeOf(err) != chatfly.ErrIllegalMove.Code {
				t.Fatalf("code %q, want %q (%v)", chatfly.CodeOf(err), chatfly.ErrIllegalMove.Code, err)
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	const r, p, s = rps.Rock, rps.Paper, rps.Scissors
	draws := func(n int) [][2]string {
		d := make([][2]string, n)
		for i := range d {
			d[i] = [2]string{allHands[i%3], allHands[i%3]}
		}
		return d
	}
	tests := []struct {
		name    string
		rounds  [][2]string
		winners []int
		score   [2]int
	}{
		{"two straight wins", [][2]string{{r, s}, {p, r}}, []int{0}, [2]int{2, 0}},
		{"win after a loss", [][2]string{{r, p}, {s, p}, {p, r}}, []int{0}, [2]int{2, 1}},
		{"draws replayed", append(draws(3), [2]string{s, r}, [2]string{p, s}), []int{1}, [2]int{0, 2}},
		{"cap, more wins", append(draws(8), [2]string{r, s}), []int{0}, [2]int{1, 0}},
		{"cap, even", append([][2]string{{r, p}, {p, r}}, draws(7)...), nil, [2]int{1, 1}},
		{"cap, all draws", draws(9), nil, [2]int{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := start(t)
			for i := range tt.rounds {
				if st := gametest.Status(t, g, state); st.Over {
					t.Fatalf("over after %d rounds: %+v", i, st)
				}
				state = rounds(t, state, tt.rounds[i])
			}
			st := gametest.Status(t, g, state)
			if !st.Over || !slices.Equal(st.Winners, tt.winners) || len(st.Turn) != 0 {
				t.Fatalf("status %+v, want winners %v", st, tt.winners)
			}
			v := view(t, state, -1)
			if v.Score != tt.score || !v.Over || len(v.Rounds) != len(tt.rounds) || v.Round != len(tt.rounds) || len(v.Turn) != 0 ||
				!slices.Equal(v.Winners, append([]int{}, tt.winners...)) {
				t.Fatalf("view %+v", v)
			}
			for i, rd := range v.Rounds {
				if rd.Hands != tt.rounds[i] {
					t.Fatalf("round %d hands %v, want %v", i+1, rd.Hands, tt.rounds[i])
				}
			}
		})
	}
}

func TestView(t *testing.T) {
	state := start(t)
	want := `{"seat":-1,"round":1,"score":[0,0],"wins_needed":2,"max_rounds":9,"rounds":[],"moved":[false,false],"turn":[0,1],"over":false,"winners":[]}`
	if got := gametest.ViewJSON(t, g, state, -1); string(got) != want {
		t.Fatalf("spectator view\n%s\nwant\n%s", got, want)
	}
	state = gametest.Play(t, g, state, "1:"+hand(rps.Paper))
	if st := gametest.Status(t, g, state); !slices.Equal(st.Turn, []int{0}) {
		t.Fatalf("turn %v after seat 1 played, want [0]", st.Turn)
	}
	want = `{"seat":0,"round":1,"score":[0,0],"wins_needed":2,"max_rounds":9,"rounds":[],"moved":[false,true],"turn":[0],"over":false,"winners":[]}`
	if got := gametest.ViewJSON(t, g, state, 0); string(got) != want {
		t.Fatalf("opponent view\n%s\nwant\n%s", got, want)
	}
	if v := view(t, state, 1); v.Hand != rps.Paper || v.Moved != [2]bool{false, true} {
		t.Fatalf("own view %+v, want its hand", v)
	}
	state = gametest.Play(t, g, state, "0:"+hand(rps.Scissors))
	want = `{"seat":1,"round":2,"score":[1,0],"wins_needed":2,"max_rounds":9,"rounds":[{"hands":["scissors","paper"],"winner":0}],"moved":[false,false],"turn":[0,1],"over":false,"winners":[]}`
	if got := gametest.ViewJSON(t, g, state, 1); string(got) != want {
		t.Fatalf("view after the round\n%s\nwant\n%s", got, want)
	}
}

// TestHiddenHand checks, on the encoded views, that a hand played in a round
// in play never reaches the other player or a spectator: in the first round
// no hand name appears at all, and in every round their views are the same
// whichever hand was played.
func TestHiddenHand(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		state := start(t)
		for range rapid.IntRange(0, rps.MaxRounds-1).Draw(t, "rounds") {
			if gametest.Status(t, g, state).Over {
				break
			}
			state = rounds(t, state, [2]string{
				rapid.SampledFrom(allHands).Draw(t, "hand0"),
				rapid.SampledFrom(allHands).Draw(t, "hand1"),
			})
		}
		if gametest.Status(t, g, state).Over {
			return
		}
		mover := rapid.IntRange(0, 1).Draw(t, "mover")
		other := 1 - mover
		firstRound := len(view(t, state, -1).Rounds) == 0
		var seen [2][]byte // views of other and of the spectator
		for i, h := range allHands {
			next := gametest.Move(t, g, state, mover, hand(h))
			if v := view(t, next, mover); v.Hand != h || !v.Moved[mover] {
				t.Fatalf("mover's own view %+v, want hand %s", v, h)
			}
			for j, seat := range []int{other, -1} {
				b := gametest.ViewJSON(t, g, next, seat)
				if firstRound {
					for _, name := range allHands {
						if bytes.Contains(b, []byte(name)) {
							t.Fatalf("view of seat %d holds %q before both moved: %s", seat, name, b)
						}
					}
				}
				if i > 0 && !bytes.Equal(b, seen[j]) {
					t.Fatalf("view of seat %d depends on the hidden hand:\n%s\n%s", seat, seen[j], b)
				}
				seen[j] = b
			}
		}
	})
}

func TestState(t *testing.T) {
	state := gametest.Play(t, g, start(t), "0:"+hand(rps.Rock), "1:"+hand(rps.Paper), "1:"+hand(rps.Scissors))
	if want := `{"r":["rp"],"p":".s"}`; string(state) != want {
		t.Fatalf("state %s, want %s", state, want)
	}
	for _, bad := range []string{``, `{"r":[],"p":"rr"}`, `{"r":[],"p":"x."}`, `{"r":["rr","r"],"p":".."}`, `{"r":["rs","rs","rs"],"p":".."}`, `{"r":["rs","rs"],"p":"r."}`, `{"r":[]}`} {
		_, err1 := g.Move([]byte(bad), 1, json.RawMessage(hand(rps.Rock)))
		_, err2 := g.View([]byte(bad), 0)
		_, err3 := g.Status([]byte(bad))
		for _, err := range []error{err1, err2, err3} {
			if err == nil || chatfly.CodeOf(err) != chatfly.ErrInternal.Code {
				t.Fatalf("state %q: error %v, want an internal error", bad, err)
			}
		}
	}
}

// legal lists the three hands for a seat yet to play, read from its view.
func legal(t *rapid.T) gametest.Legal {
	return func(state []byte, seat int) []json.RawMessage {
		v := view(t, state, seat)
		if v.Over || v.Moved[seat] {
			return nil
		}
		var moves []json.RawMessage
		for _, h := range allHands {
			moves = append(moves, json.RawMessage(hand(h)))
		}
		return moves
	}
}

func TestRandomPlay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := gametest.PlayRandom(t, g, 2, 2*rps.MaxRounds, legal(t))
		v := view(t, r.State, -1)
		if r.Moves != 2*len(v.Rounds) {
			t.Fatalf("%d moves for %d rounds", r.Moves, len(v.Rounds))
		}
		var want []int
		switch {
		case v.Score[0] > v.Score[1]:
			want = []int{0}
		case v.Score[1] > v.Score[0]:
			want = []int{1}
		}
		if !slices.Equal(r.Status.Winners, want) || (max(v.Score[0], v.Score[1]) < rps.WinsNeeded && len(v.Rounds) != rps.MaxRounds) {
			t.Fatalf("outcome %+v for view %+v", r.Status, v)
		}
	})
}

func TestStartDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { gametest.CheckStart(t, g) })
}
