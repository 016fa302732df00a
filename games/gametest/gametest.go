// Package gametest helps test implementations of [chatfly.Game]: helpers
// that start a game, apply moves and check that illegal moves leave the state
// untouched, and a property check ([PlayRandom]) that plays random legal
// games to the end while checking the contract of the interface at every
// step.
//
// The helpers take a [TB], which both *testing.T and *rapid.T satisfy.
package gametest

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"pgregory.net/rapid"

	"github.com/chatfly/chatfly"
)

// TB is the part of testing.TB the helpers use; *testing.T, *testing.B and
// *rapid.T implement it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Players returns n player ids, "p0" to "p<n-1>".
func Players(n int) []string {
	p := make([]string, n)
	for i := range p {
		p[i] = "p" + strconv.Itoa(i)
	}
	return p
}

// Rand returns the random source a test starts a game with for seed.
func Rand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Start starts g for n players with the random source of seed.
func Start(t TB, g chatfly.Game, n int, seed uint64) []byte {
	t.Helper()
	state, err := g.Start(Players(n), Rand(seed))
	if err != nil {
		t.Fatalf("Start(%d players): %v", n, err)
	}
	return state
}

// Move applies move by seat and returns the new state, failing the test on
// an error or if the input state was modified.
func Move(t TB, g chatfly.Game, state []byte, seat int, move string) []byte {
	t.Helper()
	before := bytes.Clone(state)
	next, err := g.Move(state, seat, json.RawMessage(move))
	if err != nil {
		t.Fatalf("Move(seat %d, %s): %v", seat, move, err)
	}
	if !bytes.Equal(state, before) {
		t.Fatalf("Move(seat %d, %s) modified its input state", seat, move)
	}
	return next
}

// Play applies moves in order and returns the final state; each move is a
// "seat:json" pair like `0:{"cell":4}`.
func Play(t TB, g chatfly.Game, state []byte, moves ...string) []byte {
	t.Helper()
	for _, m := range moves {
		s, move, ok := strings.Cut(m, ":")
		seat, err := strconv.Atoi(s)
		if !ok || err != nil {
			t.Fatalf("Play: move %q is not seat:json", m)
		}
		state = Move(t, g, state, seat, move)
	}
	return state
}

// Illegal checks that move by seat fails with an error wrapping
// [chatfly.ErrIllegalMove] and every error of want, returns no state, and
// leaves state byte-identical. It returns the error.
func Illegal(t TB, g chatfly.Game, state []byte, seat int, move string, want ...error) error {
	t.Helper()
	before := bytes.Clone(state)
	next, err := g.Move(state, seat, json.RawMessage(move))
	if err == nil {
		t.Fatalf("Move(seat %d, %s) succeeded, want an illegal move", seat, move)
	}
	for _, w := range append([]error{chatfly.ErrIllegalMove}, want...) {
		if !errors.Is(err, w) {
			t.Fatalf("Move(seat %d, %s) = %v, want an error wrapping %v", seat, move, err, w)
		}
	}
	var ce *chatfly.Error
	if !errors.As(err, &ce) || ce.Message == "" {
		t.Fatalf("Move(seat %d, %s) = %v, want a *chatfly.Error with a message", seat, move, err)
	}
	if next != nil {
		t.Fatalf("Move(seat %d, %s) returned a state with its error", seat, move)
	}
	if !bytes.Equal(state, before) {
		t.Fatalf("Move(seat %d, %s) modified its input state", seat, move)
	}
	return err
}

// Status returns the status of state.
func Status(t TB, g chatfly.Game, state []byte) chatfly.GameStatus {
	t.Helper()
	st, err := g.Status(state)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return st
}

// ViewJSON returns the JSON encoding of seat's view of state (-1: spectator).
func ViewJSON(t TB, g chatfly.Game, state []byte, seat int) []byte {
	t.Helper()
	v, err := g.View(state, seat)
	if err != nil {
		t.Fatalf("View(seat %d): %v", seat, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("View(seat %d) does not encode: %v", seat, err)
	}
	return b
}

// View returns seat's view of state as it reaches a client: encoded to
// JSON and decoded into V, the game's view type.
func View[V any](t TB, g chatfly.Game, state []byte, seat int) V {
	t.Helper()
	var v V
	if err := json.Unmarshal(ViewJSON(t, g, state, seat), &v); err != nil {
		t.Fatalf("decoding view: %v", err)
	}
	return v
}

// Legal returns the legal moves of seat in state, a seat listed in
// Status.Turn. The property check picks one of them at random.
type Legal func(state []byte, seat int) []json.RawMessage

// Result is the end of a game played by [PlayRandom].
type Result struct {
	// State is the final state and Status its status (Over is true).
	State  []byte
	Status chatfly.GameStatus
	// Moves is the number of moves applied.
	Moves int
}

// PlayRandom starts g for n players with a random seed and plays random
// legal moves (drawn from legal) until the game is over, failing t unless
// it ends within maxMoves moves. At every step it checks that
//   - Status is valid: while not over, Turn lists distinct seats and is not
//     empty; once over, Turn is empty and Winners are distinct seats;
//   - every seat and a spectator get a view that encodes to JSON;
//   - a seat not in Turn gets an error wrapping [chatfly.ErrNotYourTurn]
//     and [chatfly.ErrIllegalMove], and once over every seat gets one
//     wrapping [chatfly.ErrGameOver], without the state changing;
//   - Move is deterministic and never modifies its input.
func PlayRandom(t *rapid.T, g chatfly.Game, n, maxMoves int, legal Legal) Result {
	t.Helper()
	seed := rapid.Uint64().Draw(t, "seed")
	state := Start(t, g, n, seed)
	var last json.RawMessage
	for moves := 0; ; moves++ {
		st := Status(t, g, state)
		checkStatus(t, st, n)
		for seat := -1; seat < n; seat++ {
			ViewJSON(t, g, state, seat)
		}
		if st.Over {
			if last != nil {
				for seat := range n {
					Illegal(t, g, state, seat, string(last), chatfly.ErrGameOver)
				}
			}
			return Result{State: state, Status: st, Moves: moves}
		}
		if moves >= maxMoves {
			t.Fatalf("game not over after %d moves: %s", moves, state)
		}
		seat := rapid.SampledFrom(st.Turn).Draw(t, "seat")
		options := legal(state, seat)
		if len(options) == 0 {
			t.Fatalf("no legal move for seat %d in %s", seat, state)
		}
		move := rapid.SampledFrom(options).Draw(t, "move")
		for other := range n {
			if !slices.Contains(st.Turn, other) {
				Illegal(t, g, state, other, string(move), chatfly.ErrNotYourTurn)
			}
		}
		next := Move(t, g, state, seat, string(move))
		if again := Move(t, g, state, seat, string(move)); !bytes.Equal(next, again) {
			t.Fatalf("Move(seat %d, %s) is not deterministic: %s then %s", seat, move, next, again)
		}
		state, last = next, move
	}
}

func checkStatus(t TB, st chatfly.GameStatus, n int) {
	t.Helper()
	seats := func(what string, s []int) {
		for i, seat := range s {
			if seat < 0 || seat >= n || slices.Contains(s[:i], seat) {
				t.Fatalf("%s %v: not distinct seats of %d players", what, s, n)
			}
		}
	}
	seats("Turn", st.Turn)
	seats("Winners", st.Winners)
	switch {
	case st.Over && len(st.Turn) > 0:
		t.Fatalf("status %+v: over with seats to move", st)
	case !st.Over && len(st.Turn) == 0:
		t.Fatalf("status %+v: nobody to move in a game that is not over", st)
	case !st.Over && len(st.Winners) > 0:
		t.Fatalf("status %+v: winners before the end", st)
	}
}

// CheckStart checks that g starts deterministically: the same seed gives
// the same state, for a random seed and a number of players drawn from
// g.Info's bounds.
func CheckStart(t *rapid.T, g chatfly.Game) {
	t.Helper()
	info := g.Info()
	n := rapid.IntRange(info.MinPlayers, info.MaxPlayers).Draw(t, "players")
	seed := rapid.Uint64().Draw(t, "seed")
	a, b := Start(t, g, n, seed), Start(t, g, n, seed)
	if !bytes.Equal(a, b) {
		t.Fatalf("Start is not deterministic for seed %d: %s then %s", seed, a, b)
	}
	if !json.Valid(a) {
		t.Fatalf("Start state is not JSON: %s", a)
	}
}

// CheckInfo checks g.Info: a name, a title and valid player bounds, and that
// Start rejects a number of players outside them.
func CheckInfo(t TB, g chatfly.Game) {
	t.Helper()
	info := g.Info()
	if info.Name == "" || info.Title == "" || info.MinPlayers < 1 || info.MaxPlayers < info.MinPlayers {
		t.Fatalf("Info() = %+v", info)
	}
	for _, n := range []int{info.MinPlayers - 1, info.MaxPlayers + 1} {
		if _, err := g.Start(Players(n), Rand(1)); err == nil {
			t.Fatalf("Start(%d players) succeeded, want an error (Info %+v)", n, info)
		}
	}
}
