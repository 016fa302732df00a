package client

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/chatfly/chatfly"
)

// Event is one server frame line that is not the reply to a waiting call:
// a message, presence or typing event, an error frame without id, or a
// reply whose caller has gone (see ID). It is also the element type of
// message lists ([Joined.History], [Client.History]), so live and fetched
// messages can be merged and de-duplicated by Seq.
//
// Only the fields the line carries are set. Fields of event types this
// package does not know can be decoded from Raw. An Event is a value; it
// may be copied and used from any goroutine, but Raw and ID share memory
// with the other events of the same frame and must not be modified.
type Event struct {
	// Type is the frame's type: "message", "presence", "typing", "error",
	// or another type of a later protocol addition.
	Type string
	// Room is the room's id.
	Room string
	// Seq is a message's sequence number in its room.
	Seq int64
	// From is a message's sender (zero for some system messages).
	From chatfly.Member
	// Text is a message's text.
	Text string
	// TS is when the server accepted a message, in Unix milliseconds.
	TS int64
	// System marks a message posted by the application.
	System bool
	// Event is a presence event's kind: "join" or "leave".
	Event string
	// Member is who joined, left or is typing.
	Member chatfly.Member
	// Members is a presence event's member count after the change.
	Members int
	// ID is set only on a reply that no call was waiting for (its caller's
	// context ended first, or its frame was written with
	// [Client.SendRaw]): the "id" token exactly as the server sent it.
	ID json.RawMessage
	// Raw is the line exactly as received, without the '\n'.
	Raw json.RawMessage
}

// Time returns TS as a time.Time.
func (e Event) Time() time.Time { return time.UnixMilli(e.TS) }

// Message returns a message event as a [chatfly.Message].
func (e Event) Message() chatfly.Message {
	return chatfly.Message{
		Room:   e.Room,
		Seq:    e.Seq,
		From:   e.From,
		Text:   e.Text,
		Time:   e.Time(),
		System: e.System,
	}
}

// Err returns the error an "error" event reports, as a *[chatfly.Error]
// (so errors.Is(ev.Err(), chatfly.ErrNotMember) works), or nil if e is not
// an error frame. Errors to frames sent without id (see [Client.Typing])
// arrive this way.
func (e Event) Err() error {
	if e.Type != "error" {
		return nil
	}
	var m lineMeta
	var tmp Event
	if decodeLine(e.Raw, &tmp, &m, nil) != nil {
		return &chatfly.Error{Code: chatfly.ErrInternal.Code, Message: "undecodable error frame"}
	}
	return &chatfly.Error{Code: m.code, Message: m.message}
}

// UnmarshalJSON decodes one server frame line (a JSON object) into e,
// replacing its contents, and keeps a copy of data in Raw. It uses the
// decoder the client applies to every line it receives: syntax errors are
// reported, known fields holding a value of another type are left zero,
// and keys match exactly (not case-insensitively as in encoding/json).
func (e *Event) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	raw := bytes.Clone(data)
	var ev Event
	var m lineMeta
	if err := decodeLine(raw, &ev, &m, nil); err != nil {
		return err
	}
	ev.Raw = raw
	*e = ev
	return nil
}

// Custom is an event of the application (type "custom"): sent to one
// session (chatfly.Hub.SendEvent) or to a room's members
// (chatfly.Room.Publish).
type Custom struct {
	// Room is the room's id; empty for an event sent to one session.
	Room string `json:"room"`
	// Event is the application's type of event.
	Event string `json:"event"`
	// Data is the event's payload as sent.
	Data json.RawMessage `json:"data"`
}

// Custom returns a "custom" event's room, type and payload, and false if e
// is not a custom event.
func (e Event) Custom() (Custom, bool) {
	var c Custom
	if e.Type != "custom" || json.Unmarshal(e.Raw, &c) != nil {
		return Custom{}, false
	}
	return c, true
}
