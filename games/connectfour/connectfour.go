// Package connectfour is Connect Four for two players as a [chatfly.Game].
//
// The board has 7 columns and 6 rows. Seat 0 plays red ("R") and moves
// first; seat 1 plays yellow ("Y"). A move drops a disc into a column,
// numbered 0 to 6 from the left:
//
//	{"column": 3}
//
// The disc falls to the lowest free row. Four discs in a row, column or
// diagonal win; a full board without one is a draw. Every player and
// spectator sees the same [View].
package connectfour

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/internal/rules"
)

// Name is the game's id in game.start.
const Name = "connectfour"

// The board's size.
const (
	Columns = 7
	Rows    = 6
)

// Game is Connect Four. The zero value is ready to use; it has no fields
// and is safe for concurrent use.
type Game struct{}

var _ chatfly.Game = Game{}

// Move is a move: the column to drop a disc into, 0 to 6 from the left.
type Move struct {
	Column int `json:"column"`
}

// Cell is a position on the board in the coordinates of [View.Rows]: row 0
// is the top row, column 0 the leftmost.
type Cell struct {
	Row    int `json:"row"`
	Column int `json:"column"`
}

// View is what a player or spectator sees: the whole game, as Connect Four
// hides nothing.
type View struct {
	// Seat is the viewer's seat, -1 for a spectator.
	Seat int `json:"seat"`
	// Marks are the discs of the seats: ["R", "Y"] (red, yellow).
	Marks [2]string `json:"marks"`
	// Rows is the board as displayed, top row first: "", "R" or "Y".
	Rows [Rows][Columns]string `json:"rows"`
	// Playable lists the columns that are not full (empty when over).
	Playable []int `json:"playable"`
	// Turn lists the seat to move (empty when over).
	Turn []int `json:"turn"`
	// Over reports the end of the game; Winners is then the winning seat,
	// or empty for a draw.
	Over    bool  `json:"over"`
	Winners []int `json:"winners"`
	// Last is the disc dropped last, null before the first move.
	Last *Cell `json:"last"`
	// Line lists the discs of the winning line(s), empty unless won.
	Line []Cell `json:"line"`
}

// state is the stored state: the board as 42 bytes of '.', 'R' or 'Y',
// bottom row first (index row*7+column, row 0 at the bottom), and the index
// of the last disc or -1.
type state struct {
	Board string `json:"b"`
	Last  int    `json:"l"`
}

const size = Rows * Columns

var marks = [2]string{"R", "Y"}

// Info describes Connect Four.
func (Game) Info() chatfly.GameInfo {
	return chatfly.GameInfo{Name: Name, Title: "Connect Four", MinPlayers: 2, MaxPlayers: 2}
}

// Start returns the empty board. It uses no randomness.
func (Game) Start(players []string, _ *rand.Rand) ([]byte, error) {
	if len(players) != 2 {
		return nil, chatfly.Errorf(chatfly.ErrBadRequest, "Connect Four needs 2 players")
	}
	return json.Marshal(state{Board: strings.Repeat(".", size), Last: -1})
}

// Move drops a disc of seat into a column.
func (Game) Move(data []byte, seat int, move json.RawMessage) ([]byte, error) {
	s, err := decode(data)
	if err != nil {
		return nil, err
	}
	turn, over, _, _ := s.outcome()
	switch {
	case over:
		return nil, rules.GameOver()
	case seat < 0 || seat > 1:
		return nil, rules.NotPlayer(seat)
	case seat != turn:
		return nil, rules.NotYourTurn("it is the other player's turn")
	}
	fields, err := rules.Fields(move, "column")
	if err != nil {
		return nil, err
	}
	raw, ok := fields["column"]
	if !ok {
		return nil, rules.Illegal(`missing "column"`)
	}
	col, ok := rules.Int(raw)
	if !ok || col < 0 || col >= Columns {
		return nil, rules.Illegal(`"column" must be a number from 0 to 6`)
	}
	row := s.height(col)
	if row == Rows {
		return nil, rules.Illegal("column " + strconv.Itoa(col) + " is full")
	}
	i := row*Columns + col
	b := []byte(s.Board)
	b[i] = marks[seat][0]
	return json.Marshal(state{Board: string(b), Last: i})
}

// View returns the [View] of the game; every seat sees the same.
func (Game) View(data []byte, seat int) (any, error) {
	s, err := decode(data)
	if err != nil {
		return nil, err
	}
	if err := rules.CheckSeat(seat, 2); err != nil {
		return nil, err
	}
	turn, over, winner, line := s.outcome()
	v := View{Seat: seat, Marks: marks, Playable: []int{}, Turn: []int{}, Over: over, Winners: []int{}, Line: []Cell{}}
	for i := range size {
		if c := s.Board[i]; c != '.' {
			v.Rows[Rows-1-i/Columns][i%Columns] = string(c)
		}
	}
	if !over {
		v.Turn = []int{turn}
		for col := range Columns {
			if s.height(col) < Rows {
				v.Playable = append(v.Playable, col)
			}
		}
	}
	if winner >= 0 {
		v.Winners = []int{winner}
	}
	if s.Last >= 0 {
		c := cellOf(s.Last)
		v.Last = &c
	}
	for _, i := range line {
		v.Line = append(v.Line, cellOf(i))
	}
	return v, nil
}

// Status reports the seat to move, or the outcome.
func (Game) Status(data []byte) (chatfly.GameStatus, error) {
	s, err := decode(data)
	if err != nil {
		return chatfly.GameStatus{}, err
	}
	turn, over, winner, _ := s.outcome()
	return rules.TurnStatus(turn, over, winner), nil
}

// cellOf converts a state index to view coordinates.
func cellOf(i int) Cell { return Cell{Row: Rows - 1 - i/Columns, Column: i % Columns} }

// decode decodes and checks a stored state.
func decode(data []byte) (state, error) {
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return s, rules.BadState(Name, err)
	}
	r, y := strings.Count(s.Board, "R"), strings.Count(s.Board, "Y")
	if len(s.Board) != size || r+y+strings.Count(s.Board, ".") != size || (r != y && r != y+1) ||
		s.Last < -1 || s.Last >= size || (s.Last == -1) != (r+y == 0) || (s.Last >= 0 && s.Board[s.Last] == '.') {
		return s, rules.BadState(Name, nil)
	}
	for i := Columns; i < size; i++ {
		if s.Board[i] != '.' && s.Board[i-Columns] == '.' {
			return s, rules.BadState(Name, nil) // a floating disc
		}
	}
	return s, nil
}

// height returns the number of discs in column col.
func (s state) height(col int) int {
	h := 0
	for h < Rows && s.Board[h*Columns+col] != '.' {
		h++
	}
	return h
}

// directions are the steps (row, column) of the four line directions.
var directions = [4][2]int{{0, 1}, {1, 0}, {1, 1}, {1, -1}}

// outcome returns the seat to move, whether the game is over, the winning
// seat (-1 for none) and the state indexes of the winning lines' discs in
// increasing order.
func (s state) outcome() (turn int, over bool, winner int, line []int) {
	winner = -1
	var won [size]bool
	for i := range size {
		c := s.Board[i]
		if c == '.' {
			continue
		}
		row, col := i/Columns, i%Columns
		for _, d := range directions {
			n := 1
			for n < 4 {
				r, k := row+n*d[0], col+n*d[1]
				if r < 0 || r >= Rows || k < 0 || k >= Columns || s.Board[r*Columns+k] != c {
					break
				}
				n++
			}
			if n < 4 {
				continue
			}
			if c == 'R' {
				winner = 0
			} else {
				winner = 1
			}
			for j := range 4 {
				won[(row+j*d[0])*Columns+col+j*d[1]] = true
			}
		}
	}
	for i, w := range won {
		if w {
			line = append(line, i)
		}
	}
	filled := size - strings.Count(s.Board, ".")
	return filled % 2, winner >= 0 || filled == size, winner, line
}
