// Package tictactoe is tic-tac-toe for two players as a [chatfly.Game].
//
// Seat 0 plays X and moves first; seat 1 plays O. A move is
//
//	{"cell": 4}
//
// with cells numbered 0 to 8 row by row from the top left. Three marks in a
// row, column or diagonal win; a full board without one is a draw. Every
// player and spectator sees the same [View].
//
// Register it with chatfly.Options{Games: []chatfly.Game{tictactoe.Game{}}},
// or use chatfly/games/builtin.
package tictactoe

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/internal/rules"
)

// Name is the game's id in game.start.
const Name = "tictactoe"

// Game is tic-tac-toe. The zero value is ready to use; it has no fields and
// is safe for concurrent use.
type Game struct{}

var _ chatfly.Game = Game{}

// Move is a move: the cell to mark, 0 to 8, row by row from the top left.
type Move struct {
	Cell int `json:"cell"`
}

// View is what a player or spectator sees: the whole game, as tic-tac-toe
// hides nothing.
type View struct {
	// Seat is the viewer's seat, -1 for a spectator.
	Seat int `json:"seat"`
	// Marks are the marks of the seats: ["X", "O"].
	Marks [2]string `json:"marks"`
	// Board holds the 9 cells row by row: "", "X" or "O".
	Board [9]string `json:"board"`
	// Turn lists the seat to move (empty when over).
	Turn []int `json:"turn"`
	// Over reports the end of the game; Winners is then the winning seat,
	// or empty for a draw.
	Over    bool  `json:"over"`
	Winners []int `json:"winners"`
	// Last is the cell marked last, -1 before the first move.
	Last int `json:"last"`
	// Line lists the cells of the winning line(s), empty unless won.
	Line []int `json:"line"`
}

// state is the stored state: the board as 9 bytes of '.', 'X' or 'O', and
// the last cell played.
type state struct {
	Board string `json:"b"`
	Last  int    `json:"l"`
}

var marks = [2]string{"X", "O"}

var lines = [8][3]int{
	{0, 1, 2}, {3, 4, 5}, {6, 7, 8},
	{0, 3, 6}, {1, 4, 7}, {2, 5, 8},
	{0, 4, 8}, {2, 4, 6},
}

// Info describes tic-tac-toe.
func (Game) Info() chatfly.GameInfo {
	return chatfly.GameInfo{Name: Name, Title: "Tic-tac-toe", MinPlayers: 2, MaxPlayers: 2}
}

// Start returns the empty board. It uses no randomness.
func (Game) Start(players []string, _ *rand.Rand) ([]byte, error) {
	if len(players) != 2 {
		return nil, chatfly.Errorf(chatfly.ErrBadRequest, "tic-tac-toe needs 2 players")
	}
	return json.Marshal(state{Board: ".........", Last: -1})
}

// Move marks a cell for seat.
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
		return nil, rules.NotYourTurn("it is " + marks[turn] + "'s turn")
	}
	fields, err := rules.Fields(move, "cell")
	if err != nil {
		return nil, err
	}
	raw, ok := fields["cell"]
	if !ok {
		return nil, rules.Illegal(`missing "cell"`)
	}
	cell, ok := rules.Int(raw)
	if !ok || cell < 0 || cell > 8 {
		return nil, rules.Illegal(`"cell" must be a number from 0 to 8`)
	}
	if s.Board[cell] != '.' {
		return nil, rules.Illegal("cell " + strconv.Itoa(cell) + " is taken")
	}
	b := []byte(s.Board)
	b[cell] = marks[seat][0]
	return json.Marshal(state{Board: string(b), Last: cell})
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
	v := View{Seat: seat, Marks: marks, Turn: []int{}, Over: over, Winners: []int{}, Last: s.Last, Line: line}
	for i := range 9 {
		if c := s.Board[i]; c != '.' {
			v.Board[i] = string(c)
		}
	}
	if !over {
		v.Turn = []int{turn}
	}
	if winner >= 0 {
		v.Winners = []int{winner}
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

// decode decodes and checks a stored state.
func decode(data []byte) (state, error) {
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return s, rules.BadState(Name, err)
	}
	x, o := strings.Count(s.Board, "X"), strings.Count(s.Board, "O")
	if len(s.Board) != 9 || x+o+strings.Count(s.Board, ".") != 9 || (x != o && x != o+1) ||
		s.Last < -1 || s.Last > 8 || (s.Last == -1) != (x+o == 0) || (s.Last >= 0 && s.Board[s.Last] == '.') {
		return s, rules.BadState(Name, nil)
	}
	return s, nil
}

// outcome returns the seat to move, whether the game is over, the winning
// seat (-1 for none) and the cells of the winning lines.
func (s state) outcome() (turn int, over bool, winner int, line []int) {
	winner = -1
	line = []int{}
	for _, l := range lines {
		c := s.Board[l[0]]
		if c == '.' || s.Board[l[1]] != c || s.Board[l[2]] != c {
			continue
		}
		if c == 'X' {
			winner = 0
		} else {
			winner = 1
		}
		for _, i := range l {
			if !slices.Contains(line, i) {
				line = append(line, i)
			}
		}
	}
	slices.Sort(line)
	filled := 9 - strings.Count(s.Board, ".")
	return filled % 2, winner >= 0 || filled == 9, winner, line
}
