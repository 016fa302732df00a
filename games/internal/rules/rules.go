// Package rules holds the small helpers the built-in games share: strict
// decoding of a move object and the errors a move returns.
package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"

	"github.com/chatfly/chatfly"
)

// Illegal returns an error wrapping [chatfly.ErrIllegalMove] with msg, the
// message the player sees.
func Illegal(msg string) error { return chatfly.Errorf(chatfly.ErrIllegalMove, msg) }

// NotYourTurn returns an error wrapping both [chatfly.ErrNotYourTurn] (its
// code) and [chatfly.ErrIllegalMove].
func NotYourTurn(msg string) error { return both(chatfly.ErrNotYourTurn, msg) }

// GameOver returns an error wrapping both [chatfly.ErrGameOver] (its code)
// and [chatfly.ErrIllegalMove].
func GameOver() error { return both(chatfly.ErrGameOver, "the game is over") }

// NotPlayer returns an error wrapping both [chatfly.ErrNotPlayer] (its
// code) and [chatfly.ErrIllegalMove], for a seat that is not in the game.
func NotPlayer(seat int) error {
	return both(chatfly.ErrNotPlayer, "seat "+strconv.Itoa(seat)+" is not playing this game")
}

// BadState returns the error for a stored state that cannot be decoded or
// breaks the game's invariants: a server-side fault, so it wraps no
// [chatfly.Error] and the Hub reports it as internal.
func BadState(game string, err error) error {
	if err == nil {
		return errors.New(game + ": corrupt state")
	}
	return errors.New(game + ": corrupt state: " + err.Error())
}

// CheckSeat reports an error unless seat is -1 (a spectator) or a seat of
// a game of n players.
func CheckSeat(seat, n int) error {
	if seat < -1 || seat >= n {
		return chatfly.Errorf(chatfly.ErrNotPlayer, "seat "+strconv.Itoa(seat)+" is not in this game")
	}
	return nil
}

// bothError is an error whose code is that of code (errors.As finds it first) and
// which also wraps ErrIllegalMove, so that callers testing either see it.
type bothError struct{ code *chatfly.Error }

func both(base *chatfly.Error, msg string) error {
	return &bothError{chatfly.Errorf(base, msg)}
}

func (e *bothError) Error() string   { return e.code.Error() }
func (e *bothError) Unwrap() []error { return []error{e.code, chatfly.ErrIllegalMove} }

// Fields decodes move, which must be a single JSON object whose keys are
// among allowed, each at most once, and returns its raw field values.
func Fields(move json.RawMessage, allowed ...string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(move))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, Illegal("a move is a JSON object")
	}
	fields := make(map[string]json.RawMessage, len(allowed))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, Illegal("the move is not valid JSON")
		}
		key, _ := tok.(string)
		if !slices.Contains(allowed, key) {
			return nil, Illegal("unknown field " + strconv.Quote(key) + " in the move")
		}
		if _, dup := fields[key]; dup {
			return nil, Illegal("field " + strconv.Quote(key) + " appears twice in the move")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, Illegal("the move is not valid JSON")
		}
		fields[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, Illegal("the move is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Illegal("unexpected data after the move object")
	}
	return fields, nil
}

// Int decodes raw as a JSON integer; null, fractions and other types fail.
func Int(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || raw[0] == 'n' {
		return 0, false
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, false
	}
	return n, true
}

// String decodes raw as a JSON string; null and other types fail.
func String(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// TurnStatus is the status of a game in which one seat moves at a time:
// turn is the seat to move while not over; winner is -1 for a draw.
func TurnStatus(turn int, over bool, winner int) chatfly.GameStatus {
	if !over {
		return chatfly.GameStatus{Turn: []int{turn}}
	}
	st := chatfly.GameStatus{Turn: []int{}, Over: true}
	if winner >= 0 {
		st.Winners = []int{winner}
	}
	return st
}
