package tictactoe_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/gametest"
	"github.com/chatfly/chatfly/games/tictactoe"
)

var g tictactoe.Game

func start(t *testing.T) []byte { return gametest.Start(t, g, 2, 1) }

func view(t gametest.TB, state []byte, seat int) tictactoe.View {
	t.Helper()
	return gametest.View[tictactoe.View](t, g, state, seat)
}

func TestInfo(t *testing.T) {
	gametest.CheckInfo(t, g)
	if g.Info().Name != tictactoe.Name {
		t.Fatalf("Info().Name = %q", g.Info().Name)
	}
}

func TestIllegalMoves(t *testing.T) {
	fresh := start(t)
	mid := gametest.Play(t, g, fresh, `0:{"cell":4}`)
	won := gametest.Play(t, g, fresh, `0:{"cell":0}`, `1:{"cell":3}`, `0:{"cell":1}`, `1:{"cell":4}`, `0:{"cell":2}`)
	tests := []struct {
		name  string
		state []byte
		seat  int
		move  string
		want  error
	}{
		{"not json", fresh, 0, `cell 4`, nil},
		{"truncated", fresh, 0, `{"cell":`, nil},
		{"empty", fresh, 0, ``, nil},
		{"null", fresh, 0, `null`, nil},
		{"array", fresh, 0, `[4]`, nil},
		{"number", fresh, 0, `4`, nil},
		{"missing cell", fresh, 0, `{}`, nil},
		{"cell null", fresh, 0, `{"cell":null}`, nil},
		{"cell string", fresh, 0, `{"cell":"4"}`, nil},
		{"cell fraction", fresh, 0, `{"cell":4.5}`, nil},
		{"cell bool", fresh, 0, `{"cell":true}`, nil},
		{"unknown field", fresh, 0, `{"cell":4,"mark":"X"}`, nil},
		{"wrong case", fresh, 0, `{"Cell":4}`, nil},
		{"duplicate field", fresh, 0, `{"cell":4,"cell":5}`, nil},
		{"trailing data", fresh, 0, `{"cell":4}{"cell":5}`, nil},
		{"negative", fresh, 0, `{"cell":-1}`, nil},
		{"too big", fresh, 0, `{"cell":9}`, nil},
		{"huge", fresh, 0, `{"cell":1e100}`, nil},
		{"occupied", mid, 1, `{"cell":4}`, nil},
		{"out of turn at start", fresh, 1, `{"cell":0}`, chatfly.ErrNotYourTurn},
		{"out of turn twice", mid, 0, `{"cell":0}`, chatfly.ErrNotYourTurn},
		{"spectator", fresh, -1, `{"cell":0}`, chatfly.ErrNotPlayer},
		{"no such seat", fresh, 2, `{"cell":0}`, chatfly.ErrNotPlayer},
		{"after the end", won, 1, `{"cell":8}`, chatfly.ErrGameOver},
		{"after the end, winner", won, 0, `{"cell":8}`, chatfly.ErrGameOver},
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
			if tt.want != nil && chatfly.CodeOf(err) != tt.want.(*chatfly.Error).Code {
				t.Fatalf("code %q, want %q (%v)", chatfly.CodeOf(err), tt.want.(*chatfly.Error).Code, err)
			}
		})
	}
}

func TestOccupiedMessage(t *testing.T) {
	mid := gametest.Play(t, g, start(t), `0:{"cell":4}`)
	err := gametest.Illegal(t, g, mid, 1, `{"cell":4}`)
	if got, want := err.Error(), "chatfly: illegal_move: cell 4 is taken"; got != want {
		t.Fatalf("error %q, want %q", got, want)
	}
}

func TestWin(t *testing.T) {
	for _, tt := range []struct {
		moves  []string
		winner int
		line   []int
	}{
		{[]string{`0:{"cell":0}`, `1:{"cell":3}`, `0:{"cell":1}`, `1:{"cell":4}`, `0:{"cell":2}`}, 0, []int{0, 1, 2}},
		{[]string{`0:{"cell":0}`, `1:{"cell":2}`, `0:{"cell":1}`, `1:{"cell":4}`, `0:{"cell":8}`, `1:{"cell":6}`}, 1, []int{2, 4, 6}},
		// X completes a row and a column at once with the last mark.
		{[]string{`0:{"cell":0}`, `1:{"cell":3}`, `0:{"cell":1}`, `1:{"cell":4}`, `0:{"cell":5}`, `1:{"cell":7}`, `0:{"cell":8}`, `1:{"cell":6}`, `0:{"cell":2}`}, 0, []int{0, 1, 2, 5, 8}},
	} {
		state := gametest.Play(t, g, start(t), tt.moves...)
		st := gametest.Status(t, g, state)
		if !st.Over || !slices.Equal(st.Winners, []int{tt.winner}) || len(st.Turn) != 0 {
			t.Fatalf("after %v: status %+v, want seat %d to win", tt.moves, st, tt.winner)
		}
		for seat := -1; seat < 2; seat++ {
			v := view(t, state, seat)
			if !v.Over || !slices.Equal(v.Winners, []int{tt.winner}) || !slices.Equal(v.Line, tt.line) || len(v.Turn) != 0 {
				t.Fatalf("view %+v, want winner %d line %v", v, tt.winner, tt.line)
			}
		}
	}
}

func TestDraw(t *testing.T) {
	state := gametest.Play(t, g, start(t),
		`0:{"cell":0}`, `1:{"cell":1}`, `0:{"cell":2}`, `1:{"cell":4}`, `0:{"cell":3}`,
		`1:{"cell":5}`, `0:{"cell":7}`, `1:{"cell":6}`, `0:{"cell":8}`)
	st := gametest.Status(t, g, state)
	if !st.Over || len(st.Winners) != 0 || len(st.Turn) != 0 {
		t.Fatalf("status %+v, want a draw", st)
	}
	v := view(t, state, -1)
	want := [9]string{"X", "O", "X", "X", "O", "O", "O", "X", "X"}
	if v.Board != want || !v.Over || len(v.Winners) != 0 || len(v.Line) != 0 || v.Last != 8 {
		t.Fatalf("view %+v", v)
	}
}

func TestView(t *testing.T) {
	state := start(t)
	v := view(t, state, 0)
	if v.Seat != 0 || v.Marks != [2]string{"X", "O"} || v.Last != -1 || !slices.Equal(v.Turn, []int{0}) || v.Over {
		t.Fatalf("initial view %+v", v)
	}
	state = gametest.Play(t, g, state, `0:{"cell":4}`)
	a, b, spec := gametest.ViewJSON(t, g, state, 0), gametest.ViewJSON(t, g, state, 1), gametest.ViewJSON(t, g, state, -1)
	if want := `{"seat":0,"marks":["X","O"],"board":["","","","","X","","","",""],"turn":[1],"over":false,"winners":[],"last":4,"line":[]}`; string(a) != want {
		t.Fatalf("view of seat 0:\n%s\nwant\n%s", a, want)
	}
	if !bytes.Equal(bytes.Replace(a, []byte(`"seat":0`), []byte(`"seat":1`), 1), b) ||
		!bytes.Equal(bytes.Replace(a, []byte(`"seat":0`), []byte(`"seat":-1`), 1), spec) {
		t.Fatalf("views differ beyond the seat:\n%s\n%s\n%s", a, b, spec)
	}
	for _, seat := range []int{-2, 2} {
		if _, err := g.View(state, seat); !errors.Is(err, chatfly.ErrNotPlayer) {
			t.Fatalf("View(seat %d) error %v, want ErrNotPlayer", seat, err)
		}
	}
}

func TestState(t *testing.T) {
	state := gametest.Play(t, g, start(t), `0:{"cell":4}`, `1:{"cell":0}`)
	if want := `{"b":"O...X....","l":0}`; string(state) != want {
		t.Fatalf("state %s, want %s", state, want)
	}
	for _, bad := range []string{``, `{`, `{"b":"XX.......","l":0}`, `{"b":"X........","l":9}`, `{"b":"X........","l":1}`, `{"b":"X.......","l":0}`, `{"b":"Z........","l":0}`} {
		_, err1 := g.Move([]byte(bad), 0, json.RawMessage(`{"cell":1}`))
		_, err2 := g.View([]byte(bad), 0)
		_, err3 := g.Status([]byte(bad))
		for _, err := range []error{err1, err2, err3} {
			if err == nil || chatfly.CodeOf(err) != chatfly.ErrInternal.Code {
				t.Fatalf("state %q: error %v, want an internal error", bad, err)
			}
		}
	}
}

// legal lists the empty cells, read from the player's view.
func legal(t *rapid.T) gametest.Legal {
	return func(state []byte, seat int) []json.RawMessage {
		var moves []json.RawMessage
		for i, c := range view(t, state, seat).Board {
			if c == "" {
				moves = append(moves, json.RawMessage(fmt.Sprintf(`{"cell":%d}`, i)))
			}
		}
		return moves
	}
}

func TestRandomPlay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := gametest.PlayRandom(t, g, 2, 9, legal(t))
		v := view(t, r.State, -1)
		full := !slices.Contains(v.Board[:], "")
		switch {
		case len(r.Status.Winners) == 1 && len(v.Line) < 3:
			t.Fatalf("won without a line: %+v", v)
		case len(r.Status.Winners) == 0 && (!full || len(v.Line) > 0):
			t.Fatalf("drawn with free cells or a line: %+v", v)
		case len(r.Status.Winners) > 1:
			t.Fatalf("two winners: %+v", r.Status)
		}
	})
}

func TestStartDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { gametest.CheckStart(t, g) })
}
