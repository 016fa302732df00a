// Package rps is rock-paper-scissors, best of three, for two players as a
// [chatfly.Game].
//
// Both players choose at the same time: while a round is in play both seats
// are in Status.Turn until each has moved. A move is
//
//	{"hand": "rock"}   // or "paper" or "scissors"
//
// and each seat moves once per round. A hand stays hidden until both hands
// of the round are in: the other player and spectators see only that it was
// played ([View.Moved]), never which hand. Once both moved the round is
// scored and appears in [View.Rounds] with both hands.
//
// The first player to win [WinsNeeded] rounds wins the game. A drawn round
// is replayed, but at most [MaxRounds] rounds are played in all: if nobody
// has won by then, the player with more round wins wins, and equal scores
// are a draw.
package rps

import (
	"encoding/json"
	"math/rand/v2"
	"strings"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/internal/rules"
)

// Name is the game's id in game.start.
const Name = "rps"

const (
	// WinsNeeded is the number of round wins that wins the game.
	WinsNeeded = 2
	// MaxRounds caps the number of rounds, drawn ones included.
	MaxRounds = 9
)

// The hands of a [Move].
const (
	Rock     = "rock"
	Paper    = "paper"
	Scissors = "scissors"
)

// Game is rock-paper-scissors, best of three. The zero value is ready to
// use; it has no fields and is safe for concurrent use.
type Game struct{}

var _ chatfly.Game = Game{}

// Move is a move: the hand to play, [Rock], [Paper] or [Scissors].
type Move struct {
	Hand string `json:"hand"`
}

// Round is a completed round.
type Round struct {
	// Hands are the hands of seat 0 and seat 1.
	Hands [2]string `json:"hands"`
	// Winner is the seat that won the round, -1 for a drawn round.
	Winner int `json:"winner"`
}

// View is what a player or spectator sees. It never holds a hand of the
// round in play except the viewer's own.
type View struct {
	// Seat is the viewer's seat, -1 for a spectator.
	Seat int `json:"seat"`
	// Round is the number of the round in play, from 1; once over, the
	// number of rounds played.
	Round int `json:"round"`
	// Score counts the rounds won by seat 0 and seat 1.
	Score [2]int `json:"score"`
	// WinsNeeded and MaxRounds are the rules: [WinsNeeded], [MaxRounds].
	WinsNeeded int `json:"wins_needed"`
	MaxRounds  int `json:"max_rounds"`
	// Rounds are the completed rounds, oldest first.
	Rounds []Round `json:"rounds"`
	// Moved reports which seats have played in the round in play.
	Moved [2]bool `json:"moved"`
	// Hand is the viewer's own hand in the round in play, if played;
	// absent for a spectator and for the other player's hand.
	Hand string `json:"hand,omitempty"`
	// Turn lists the seats yet to play in the round in play.
	Turn []int `json:"turn"`
	// Over reports the end of the game; Winners is then the winning seat,
	// or empty for a draw.
	Over    bool  `json:"over"`
	Winners []int `json:"winners"`
}

// state is the stored state. Hands are one byte: 'r', 'p' or 's', and '.'
// for a hand not yet played.
type state struct {
	// Rounds are the completed rounds: two hands each, seat 0 first.
	Rounds []string `json:"r"`
	// Pending holds the hands of the round in play.
	Pending string `json:"p"`
}

var hands = map[byte]string{'r': Rock, 'p': Paper, 's': Scissors}

// beats reports whether hand a beats hand b.
func beats(a, b byte) bool {
	return a == 'r' && b == 's' || a == 'p' && b == 'r' || a == 's' && b == 'p'
}

// roundWinner returns the seat that won round r, or -1 for a draw.
func roundWinner(r string) int {
	switch {
	case beats(r[0], r[1]):
		return 0
	case beats(r[1], r[0]):
		return 1
	}
	return -1
}

// Info describes rock-paper-scissors.
func (Game) Info() chatfly.GameInfo {
	return chatfly.GameInfo{Name: Name, Title: "Rock, paper, scissors", MinPlayers: 2, MaxPlayers: 2}
}

// Start returns the first round, nobody having played. It uses no
// randomness.
func (Game) Start(players []string, _ *rand.Rand) ([]byte, error) {
	if len(players) != 2 {
		return nil, chatfly.Errorf(chatfly.ErrBadRequest, "rock, paper, scissors needs 2 players")
	}
	return json.Marshal(state{Rounds: []string{}, Pending: ".."})
}

// Move plays seat's hand in the round in play, and scores the round once
// both hands are in.
func (Game) Move(data []byte, seat int, move json.RawMessage) ([]byte, error) {
	s, err := decode(data)
	if err != nil {
		return nil, err
	}
	switch {
	case s.over():
		return nil, rules.GameOver()
	case seat < 0 || seat > 1:
		return nil, rules.NotPlayer(seat)
	case s.Pending[seat] != '.':
		return nil, rules.NotYourTurn("you already played this round")
	}
	fields, err := rules.Fields(move, "hand")
	if err != nil {
		return nil, err
	}
	raw, ok := fields["hand"]
	if !ok {
		return nil, rules.Illegal(`missing "hand"`)
	}
	hand, ok := rules.String(raw)
	if !ok || (hand != Rock && hand != Paper && hand != Scissors) {
		return nil, rules.Illegal(`"hand" must be "rock", "paper" or "scissors"`)
	}
	p := []byte(s.Pending)
	p[seat] = hand[0]
	next := state{Rounds: s.Rounds, Pending: string(p)}
	if !strings.Contains(next.Pending, ".") {
		next.Rounds = append(s.Rounds[:len(s.Rounds):len(s.Rounds)], next.Pending)
		next.Pending = ".."
	}
	return json.Marshal(next)
}

// View returns seat's [View]. Hands of the round in play are left out,
// except the viewer's own.
func (Game) View(data []byte, seat int) (any, error) {
	s, err := decode(data)
	if err != nil {
		return nil, err
	}
	if err := rules.CheckSeat(seat, 2); err != nil {
		return nil, err
	}
	score := s.score()
	v := View{
		Seat:       seat,
		Round:      len(s.Rounds) + 1,
		Score:      score,
		WinsNeeded: WinsNeeded,
		MaxRounds:  MaxRounds,
		Rounds:     make([]Round, len(s.Rounds)),
		Turn:       s.turn(),
		Over:       s.over(),
		Winners:    s.winners(),
	}
	for i, r := range s.Rounds {
		v.Rounds[i] = Round{Hands: [2]string{hands[r[0]], hands[r[1]]}, Winner: roundWinner(r)}
	}
	if v.Over {
		v.Round = len(s.Rounds)
	}
	for i := range 2 {
		v.Moved[i] = s.Pending[i] != '.'
	}
	if seat >= 0 && s.Pending[seat] != '.' {
		v.Hand = hands[s.Pending[seat]]
	}
	if v.Winners == nil {
		v.Winners = []int{}
	}
	return v, nil
}

// Status reports the seats yet to play in the round in play, or the
// outcome.
func (Game) Status(data []byte) (chatfly.GameStatus, error) {
	s, err := decode(data)
	if err != nil {
		return chatfly.GameStatus{}, err
	}
	return chatfly.GameStatus{Turn: s.turn(), Over: s.over(), Winners: s.winners()}, nil
}

// decode decodes and checks a stored state.
func decode(data []byte) (state, error) {
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return s, rules.BadState(Name, err)
	}
	valid := func(h byte) bool { _, ok := hands[h]; return ok }
	if len(s.Pending) != 2 || len(s.Rounds) > MaxRounds {
		return s, rules.BadState(Name, nil)
	}
	for i, r := range s.Rounds {
		if len(r) != 2 || !valid(r[0]) || !valid(r[1]) || (state{Rounds: s.Rounds[:i]}).over() {
			return s, rules.BadState(Name, nil)
		}
	}
	for i := range 2 {
		if p := s.Pending[i]; p != '.' && (!valid(p) || s.Pending[1-i] != '.' || s.over()) {
			return s, rules.BadState(Name, nil)
		}
	}
	return s, nil
}

// score counts the rounds each seat won.
func (s state) score() [2]int {
	var score [2]int
	for _, r := range s.Rounds {
		if w := roundWinner(r); w >= 0 {
			score[w]++
		}
	}
	return score
}

func (s state) over() bool {
	score := s.score()
	return score[0] >= WinsNeeded || score[1] >= WinsNeeded || len(s.Rounds) >= MaxRounds
}

// turn lists the seats yet to play, none once over.
func (s state) turn() []int {
	turn := []int{}
	if s.over() {
		return turn
	}
	for i := range 2 {
		if s.Pending[i] == '.' {
			turn = append(turn, i)
		}
	}
	return turn
}

// winners returns the winning seat once over, nil before the end and for a
// draw.
func (s state) winners() []int {
	if !s.over() {
		return nil
	}
	switch score := s.score(); {
	case score[0] > score[1]:
		return []int{0}
	case score[1] > score[0]:
		return []int{1}
	}
	return nil
}
