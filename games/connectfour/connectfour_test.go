package connectfour_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/connectfour"
	"github.com/chatfly/chatfly/games/gametest"
)

var g connectfour.Game

func start(t *testing.T) []byte { return gametest.Start(t, g, 2, 1) }

func view(t gametest.TB, state []byte, seat int) connectfour.View {
	t.Helper()
	return gametest.View[connectfour.View](t, g, state, seat)
}

// drops turns column numbers into alternating moves starting with seat 0.
func drops(cols ...int) []string {
	moves := make([]string, len(cols))
	for i, c := range cols {
		moves[i] = fmt.Sprintf(`%d:{"column":%d}`, i%2, c)
	}
	return moves
}

// board renders a view's rows, top first, with '.' for empty cells.
func board(v connectfour.View) string {
	var b strings.Builder
	for _, row := range v.Rows {
		for _, c := range row {
			if c == "" {
				c = "."
			}
			b.WriteString(c)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestInfo(t *testing.T) {
	gametest.CheckInfo(t, g)
}

func TestIllegalMoves(t *testing.T) {
	fresh := start(t)
	fullCol := gametest.Play(t, g, fresh, drops(0, 0, 0, 0, 0, 0)...)
	won := gametest.Play(t, g, fresh, drops(0, 0, 1, 1, 2, 2, 3)...)
	tests := []struct {
		name  string
		state []byte
		seat  int
		move  string
		want  error
	}{
		{"not json", fresh, 0, `drop 3`, nil},
		{"truncated", fresh, 0, `{"column":3`, nil},
		{"null", fresh, 0, `null`, nil},
		{"array", fresh, 0, `[3]`, nil},
		{"missing column", fresh, 0, `{}`, nil},
		{"column null", fresh, 0, `{"column":null}`, nil},
		{"column string", fresh, 0, `{"column":"3"}`, nil},
		{"column fraction", fresh, 0, `{"column":2.5}`, nil},
		{"unknown field", fresh, 0, `{"column":3,"row":0}`, nil},
		{"tic-tac-toe move", fresh, 0, `{"cell":3}`, nil},
		{"duplicate field", fresh, 0, `{"column":3,"column":4}`, nil},
		{"trailing data", fresh, 0, `{"column":3} x`, nil},
		{"negative", fresh, 0, `{"column":-1}`, nil},
		{"too big", fresh, 0, `{"column":7}`, nil},
		{"full column", fullCol, 0, `{"column":0}`, nil},
		{"out of turn", fresh, 1, `{"column":3}`, chatfly.ErrNotYourTurn},
		{"spectator", fresh, -1, `{"column":3}`, chatfly.ErrNotPlayer},
		{"no such seat", fresh, 2, `{"column":3}`, chatfly.ErrNotPlayer},
		{"after the end", won, 1, `{"column":6}`, chatfly.ErrGameOver},
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
	if err := gametest.Illegal(t, g, fullCol, 0, `{"column":0}`); err.Error() != "chatfly: illegal_move: column 0 is full" {
		t.Fatalf("full column error %q", err)
	}
}

func TestWin(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cols   []int
		winner int
		line   []connectfour.Cell
	}{
		{"horizontal", []int{0, 0, 1, 1, 2, 2, 3}, 0, []connectfour.Cell{{5, 0}, {5, 1}, {5, 2}, {5, 3}}},
		{"vertical", []int{0, 1, 0, 1, 0, 1, 6, 1}, 1, []connectfour.Cell{{5, 1}, {4, 1}, {3, 1}, {2, 1}}},
		{"rising diagonal", []int{0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3}, 0, []connectfour.Cell{{5, 0}, {4, 1}, {3, 2}, {2, 3}}},
		{"falling diagonal", []int{6, 5, 5, 4, 4, 3, 4, 3, 3, 0, 3}, 0, []connectfour.Cell{{5, 6}, {4, 5}, {3, 4}, {2, 3}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			state := gametest.Play(t, g, start(t), drops(tt.cols...)...)
			st := gametest.Status(t, g, state)
			if !st.Over || !slices.Equal(st.Winners, []int{tt.winner}) || len(st.Turn) != 0 {
				t.Fatalf("status %+v, want seat %d to win", st, tt.winner)
			}
			v := view(t, state, -1)
			line := slices.Clone(v.Line)
			want := slices.Clone(tt.line)
			less := func(a, b connectfour.Cell) int { return (a.Row*10 + a.Column) - (b.Row*10 + b.Column) }
			slices.SortFunc(line, less)
			slices.SortFunc(want, less)
			if !v.Over || !slices.Equal(v.Winners, []int{tt.winner}) || !slices.Equal(line, want) || len(v.Playable) != 0 {
				t.Fatalf("view %+v\n%s", v, board(v))
			}
		})
	}
}

func TestDraw(t *testing.T) {
	// Found by a search: a full board with no four in a row.
	cols := []int{1, 0, 0, 0, 0, 0, 1, 0, 3, 1, 1, 2, 1, 2, 1, 3, 2, 3, 2, 3, 2, 2, 3, 4, 3, 4, 6, 4, 4, 5, 5, 5, 5, 4, 5, 6, 6, 4, 6, 6, 5, 6}
	state := gametest.Play(t, g, start(t), drops(cols...)...)
	st := gametest.Status(t, g, state)
	if !st.Over || len(st.Winners) != 0 || len(st.Turn) != 0 {
		t.Fatalf("status %+v, want a draw", st)
	}
	v := view(t, state, 0)
	want := "YRYRYRY\nYRRRYRY\nRRRYRRR\nYYRYYYR\nRRYYYRY\nYRYRYYR\n"
	if board(v) != want || len(v.Line) != 0 || len(v.Winners) != 0 || *v.Last != (connectfour.Cell{Row: 0, Column: 6}) {
		t.Fatalf("view %+v\n%s", v, board(v))
	}
}

func TestView(t *testing.T) {
	state := start(t)
	v := view(t, state, 1)
	if v.Seat != 1 || v.Last != nil || len(v.Playable) != 7 || !slices.Equal(v.Turn, []int{0}) || v.Marks != [2]string{"R", "Y"} {
		t.Fatalf("initial view %+v", v)
	}
	state = gametest.Play(t, g, state, drops(3, 3)...)
	got := string(gametest.ViewJSON(t, g, state, -1))
	empty := `["","","","","","",""]`
	want := `{"seat":-1,"marks":["R","Y"],"rows":[` + strings.Repeat(empty+",", 4) +
		`["","","","Y","","",""],["","","","R","","",""]],"playable":[0,1,2,3,4,5,6],"turn":[0],"over":false,"winners":[],"last":{"row":4,"column":3},"line":[]}`
	if got != want {
		t.Fatalf("spectator view\n%s\nwant\n%s", got, want)
	}
	full := gametest.Play(t, g, start(t), drops(2, 2, 2, 2, 2, 2)...)
	if v := view(t, full, 0); slices.Contains(v.Playable, 2) || len(v.Playable) != 6 {
		t.Fatalf("playable %v with column 2 full", v.Playable)
	}
	for _, seat := range []int{-2, 2} {
		if _, err := g.View(state, seat); !errors.Is(err, chatfly.ErrNotPlayer) {
			t.Fatalf("View(seat %d) error %v, want ErrNotPlayer", seat, err)
		}
	}
}

func TestState(t *testing.T) {
	state := gametest.Play(t, g, start(t), drops(3, 3)...)
	if want := `{"b":"...R......Y` + strings.Repeat(".", 31) + `","l":10}`; string(state) != want {
		t.Fatalf("state %s, want %s", state, want)
	}
	floating := `{"b":"R.......Y` + strings.Repeat(".", 33) + `","l":8}`
	for _, bad := range []string{``, `[]`, `{"b":"R","l":0}`, floating, `{"b":"R` + strings.Repeat(".", 41) + `","l":-1}`} {
		_, err1 := g.Move([]byte(bad), 1, json.RawMessage(`{"column":1}`))
		_, err2 := g.View([]byte(bad), 0)
		_, err3 := g.Status([]byte(bad))
		for _, err := range []error{err1, err2, err3} {
			if err == nil || chatfly.CodeOf(err) != chatfly.ErrInternal.Code {
				t.Fatalf("state %q: error %v, want an internal error", bad, err)
			}
		}
	}
}

// legal lists the playable columns of the player's view.
func legal(t *rapid.T) gametest.Legal {
	return func(state []byte, seat int) []json.RawMessage {
		var moves []json.RawMessage
		for _, c := range view(t, state, seat).Playable {
			moves = append(moves, json.RawMessage(fmt.Sprintf(`{"column":%d}`, c)))
		}
		return moves
	}
}

func TestRandomPlay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := gametest.PlayRandom(t, g, 2, connectfour.Rows*connectfour.Columns, legal(t))
		v := view(t, r.State, -1)
		full := !strings.Contains(board(v), ".")
		switch {
		case len(r.Status.Winners) == 1 && len(v.Line) < 4:
			t.Fatalf("won without a line: %+v", v)
		case len(r.Status.Winners) == 0 && (!full || len(v.Line) > 0):
			t.Fatalf("drawn with free cells or a line:\n%s", board(v))
		case len(r.Status.Winners) > 1:
			t.Fatalf("two winners: %+v", r.Status)
		}
	})
}

func TestStartDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { gametest.CheckStart(t, g) })
}
