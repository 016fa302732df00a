package chatfly

import (
	"errors"
	"strconv"
)

// Error is an error with a stable protocol code. It is what a client sees in
// an error frame: {"type":"error","code":Code,"message":Message}. Errors are
// compared by code, so errors.Is(err, ErrNameTaken) holds for any *Error whose
// code is "name_taken", whatever its message.
type Error struct {
	// Code is the stable, machine-readable code listed in PROTOCOL.md.
	Code string
	// Message is a human-readable explanation.
	Message string
}

// Error returns "chatfly: code: message".
func (e *Error) Error() string { return "chatfly: " + e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf returns an *Error with the code of base and a new message.
func Errorf(base *Error, msg string) *Error { return &Error{Code: base.Code, Message: msg} }

// Sentinel errors. Each maps to the protocol error code in its Code field;
// PROTOCOL.md lists them with the actions that return them.
var (
	// ErrBadJSON: the frame is not a JSON object.
	ErrBadJSON = &Error{"bad_json", "frame is not a valid JSON object"}
	// ErrBadRequest: a required field is missing or a field has the wrong type or value.
	ErrBadRequest = &Error{"bad_request", "bad request"}
	// ErrUnknownAction: the action is not one the server knows.
	ErrUnknownAction = &Error{"unknown_action", "unknown action"}
	// ErrHelloRequired: the connection must send hello before anything else.
	ErrHelloRequired = &Error{"hello_required", "send hello first"}
	// ErrAlreadyHello: hello was already accepted on this connection.
	ErrAlreadyHello = &Error{"already_hello", "hello was already accepted on this connection"}
	// ErrInvalidName: the name is empty, too long, or has forbidden characters.
	ErrInvalidName = &Error{"invalid_name", "invalid name"}
	// ErrNameTaken: someone in the room already uses this name (case-insensitively).
	ErrNameTaken = &Error{"name_taken", "name is already taken in this room"}
	// ErrInvalidToken: the resume token is forged, malformed or expired.
	ErrInvalidToken = &Error{"invalid_token", "invalid or expired resume token"}
	// ErrNotFound: the room (or stored item) does not exist.
	ErrNotFound = &Error{"not_found", "not found"}
	// ErrNotMember: the action needs the session to have joined the room.
	ErrNotMember = &Error{"not_member", "join the room first"}
	// ErrTooLong: a text field exceeds its limit.
	ErrTooLong = &Error{"too_long", "text too long"}
	// ErrTooMany: a count limit was reached (rooms per session, members per
	// room, or one of the per-address limits of [AddressLimits]).
	// Connections refused for it get HTTP 429.
	ErrTooMany = &Error{"too_many", "limit reached"}
	// ErrRateLimited: the session sent more frames than the rate limit allows.
	ErrRateLimited = &Error{"rate_limited", "slow down"}
	// ErrRejected: a hook of the application rejected the connection or message.
	ErrRejected = &Error{"rejected", "rejected"}
	// ErrBanned: the session (or its address) is banned from the room.
	ErrBanned = &Error{"banned", "you are banned from this room"}
	// ErrMuted: the session is muted in the room: it can read but not send.
	ErrMuted = &Error{"muted", "you are muted in this room"}
	// ErrIllegalMove: the game move is malformed or breaks the game's rules
	// (an occupied cell, say). Games return errors wrapping it.
	ErrIllegalMove = &Error{"illegal_move", "illegal move"}
	// ErrNotYourTurn: the move came from a player whose turn it is not.
	ErrNotYourTurn = &Error{"not_your_turn", "it is not your turn"}
	// ErrNotPlayer: the session is not a player of that game (a spectator).
	ErrNotPlayer = &Error{"not_player", "you are not playing this game"}
	// ErrGameOver: the game has ended.
	ErrGameOver = &Error{"game_over", "the game is over"}
	// ErrForbidden: the session may not do this.
	ErrForbidden = &Error{"forbidden", "forbidden"}
	// ErrConflict: a storage condition failed (an item exists, or changed
	// since it was read). The Hub retries or maps it; clients rarely see it.
	ErrConflict = &Error{"conflict", "conflicting update"}
	// ErrUnavailable: the storage or transport is overloaded; try again later.
	ErrUnavailable = &Error{"unavailable", "service unavailable, try again"}
	// ErrGone: the connection no longer exists. Transports return it from
	// Send; the Hub then cleans up after that connection.
	ErrGone = &Error{"gone", "connection is gone"}
	// ErrTooLarge: a frame or stored item exceeds its size limit.
	ErrTooLarge = &Error{"too_large", "too large"}
	// ErrInternal: an unexpected server error; details are logged, not sent.
	ErrInternal = &Error{"internal", "internal error"}
)

// CodeOf returns the protocol code of err: the code of the first *Error in
// its chain, or "internal".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrInternal.Code
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
