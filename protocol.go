package chatfly

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ProtocolVersion is the wire protocol version announced in welcome.
const ProtocolVersion = 1

// inFrame is a decoded client frame: the union of every action's fields.
// Unknown fields are ignored, so new clients can talk to old servers.
type inFrame struct {
	Action string          `json:"action"`
	ID     json.RawMessage `json:"id,omitempty"`
	Name   string          `json:"name,omitempty"`
	Token  string          `json:"token,omitempty"`
	Room   string          `json:"room,omitempty"`
	Text   *string         `json:"text,omitempty"`
	After  int64           `json:"after,omitempty"`
	Before int64           `json:"before,omitempty"`
	Limit  int             `json:"limit,omitempty"`
	Cursor string          `json:"cursor,omitempty"` // rooms

	// room.* actions
	Topic      *string `json:"topic,omitempty"`
	Visibility string  `json:"visibility,omitempty"`
	Member     string  `json:"member,omitempty"`
	Reason     string  `json:"reason,omitempty"`
	Duration   int64   `json:"duration,omitempty"` // seconds
	Address    bool    `json:"address,omitempty"`

	// roulette.* actions
	Interests []string `json:"interests,omitempty"`

	// game.* actions
	Game    string          `json:"game,omitempty"` // game.start: the game's name; others: the game id
	Players int             `json:"players,omitempty"`
	Invite  []string        `json:"invite,omitempty"`
	Move    json.RawMessage `json:"move,omitempty"`

	// application actions (Options.Actions)
	Data json.RawMessage `json:"data,omitempty"`

	raw []byte // the whole frame, for handlers of actions added by features
}

// decodeFrame parses a client frame. Errors are *Error values ready to send.
// A frame that is not valid UTF-8, or whose id breaks the rules of validID,
// is refused whole: nothing of it is used, and its id is not echoed.
func decodeFrame(data []byte) (*inFrame, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, ErrBadJSON
	}
	if !utf8.Valid(data) {
		return nil, Errorf(ErrBadRequest, "frame is not valid UTF-8")
	}
	var f inFrame
	if err := json.Unmarshal(data, &f); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return nil, Errorf(ErrBadJSON, "frame is not a valid JSON object")
		}
		if id, ok := validID(f.ID); ok {
			return &inFrame{ID: id}, Errorf(ErrBadRequest, "field "+strconv.Quote(te.Field)+" has the wrong type")
		}
	}
	id, ok := validID(f.ID)
	if !ok {
		return nil, errBadID
	}
	f.ID = id
	f.raw = data
	if f.Action == "" {
		return &f, Errorf(ErrBadRequest, `missing "action"`)
	}
	return &f, nil
}

// maxIDBytes is the longest id: a string of at most this many bytes (its
// value, without the quotes), or a number written in at most this many.
const maxIDBytes = 64

var errBadID = Errorf(ErrBadRequest, `"id" must be a string or a number of at most `+strconv.Itoa(maxIDBytes)+" bytes")

// validID checks a frame's id: absent or null (no id), a JSON string of at
// most maxIDBytes bytes, or a JSON number of at most maxIDBytes characters
// within the range of a float64.
// A valid id is echoed as sent, so the echo can never inject anything into a
// reply.
func validID(id json.RawMessage) (json.RawMessage, bool) {
	if len(id) == 0 || string(id) == "null" {
		return nil, true
	}
	if !utf8.Valid(id) {
		return nil, false
	}
	switch c := id[0]; {
	case c == '"':
		var s string
		return id, json.Unmarshal(id, &s) == nil && len(s) <= maxIDBytes
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if len(id) > maxIDBytes || json.Unmarshal(id, &n) != nil {
			return nil, false
		}
		_, err := strconv.ParseFloat(string(id), 64) // 1e999 would break clients' decoders
		return id, err == nil
	}
	return nil, false
}

// peekID finds the id of a frame without decoding the rest of it into an
// inFrame: for the replies that are sent before (or instead of) decoding, a
// rate_limited refusal or a storage failure. It returns nil if the frame
// has no valid id. Like json.Unmarshal, it matches the key "id"
// case-insensitively and keeps the last one.
func peekID(data []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var id json.RawMessage
	for dec.More() {
		t, err := dec.Token()
		key, _ := t.(string)
		var v json.RawMessage
		if err != nil || dec.Decode(&v) != nil {
			return nil
		}
		if strings.EqualFold(key, "id") {
			id = v
		}
	}
	if id, ok := validID(id); ok {
		return id
	}
	return nil
}

// Server frames. Each has "type" first and "id" when it answers a frame.

type errorFrame struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id,omitempty"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
}

type welcomeFrame struct {
	Type     string          `json:"type"`
	ID       json.RawMessage `json:"id,omitempty"`
	Session  string          `json:"session"`
	Name     string          `json:"name"`
	Token    string          `json:"token,omitempty"`
	User     string          `json:"user,omitempty"`
	Protocol int             `json:"protocol"`
	Limits   wireLimits      `json:"limits"`
}

// wireLimits are the limits the welcome advertises, so that a client can
// refuse what the server would refuse and pace itself (PROTOCOL.md).
type wireLimits struct {
	FrameBytes     int       `json:"frameBytes"`
	TextRunes      int       `json:"textRunes"`
	NameRunes      int       `json:"nameRunes"`
	TopicRunes     int       `json:"topicRunes"`
	ReasonRunes    int       `json:"reasonRunes"`
	EventBytes     int       `json:"eventBytes"`
	HistoryPage    int       `json:"historyPage"`
	Rooms          int       `json:"rooms"`
	TypingInterval int64     `json:"typingInterval"`
	Rate           *wireRate `json:"rate,omitempty"`
}

// wireRate is Options.RateLimit on the wire; absent when unlimited.
type wireRate struct {
	Count  int   `json:"count"`
	Window int64 `json:"window"`
}

// wireLimits returns the limits of the welcome frame.
func (h *Hub) wireLimits() wireLimits {
	o := &h.opts
	l := wireLimits{
		FrameBytes: o.MaxFrameBytes, TextRunes: o.MaxTextRunes, NameRunes: o.MaxNameRunes,
		TopicRunes: o.MaxTopicRunes, ReasonRunes: o.MaxReasonRunes, EventBytes: o.MaxEventBytes,
		HistoryPage: o.MaxHistoryPage, Rooms: o.MaxRoomsPerSession, TypingInterval: o.TypingInterval.Milliseconds(),
	}
	if o.RateLimit.Count > 0 {
		l.Rate = &wireRate{Count: o.RateLimit.Count, Window: o.RateLimit.Window.Milliseconds()}
	}
	return l
}

type roomsFrame struct {
	Type  string          `json:"type"`
	ID    json.RawMessage `json:"id,omitempty"`
	Rooms []RoomInfo      `json:"rooms"`
	Next  string          `json:"next,omitempty"`
}

type joinedFrame struct {
	Type    string            `json:"type"`
	ID      json.RawMessage   `json:"id,omitempty"`
	Room    RoomInfo          `json:"room"`
	Members []Member          `json:"members"`
	History []json.RawMessage `json:"history"`
}

type roomReplyFrame struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id,omitempty"`
	Room string          `json:"room,omitempty"`
	Seq  int64           `json:"seq,omitempty"`
	TS   int64           `json:"ts,omitempty"`
}

type historyFrame struct {
	Type     string            `json:"type"`
	ID       json.RawMessage   `json:"id,omitempty"`
	Room     string            `json:"room"`
	Messages []json.RawMessage `json:"messages"`
	More     bool              `json:"more"`
}

type messageEvent struct {
	Type   string  `json:"type"`
	Room   string  `json:"room"`
	Seq    int64   `json:"seq"`
	From   *Member `json:"from,omitempty"`
	Text   string  `json:"text"`
	TS     int64   `json:"ts"`
	System bool    `json:"system,omitempty"`
}

type presenceEvent struct {
	Type    string `json:"type"`
	Room    string `json:"room"`
	Event   string `json:"event"`
	Member  Member `json:"member"`
	Members int    `json:"members"`
}

type typingEvent struct {
	Type   string `json:"type"`
	Room   string `json:"room"`
	Member Member `json:"member"`
}

// encodeMessage returns the message event frame for m. It is encoded once
// per message: the same bytes are stored, fanned out and returned in history.
func encodeMessage(m *Message) []byte {
	ev := messageEvent{Type: "message", Room: m.Room, Seq: m.Seq, Text: m.Text, TS: m.Time.UnixMilli(), System: m.System}
	if m.From.ID != "" || m.From.Name != "" {
		ev.From = &m.From
	}
	return mustJSON(ev)
}

// decodeMessage parses a stored message event back into a Message.
func decodeMessage(data []byte) (Message, error) {
	var ev messageEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return Message{}, err
	}
	m := Message{Room: ev.Room, Seq: ev.Seq, Text: ev.Text, Time: time.UnixMilli(ev.TS), System: ev.System}
	if ev.From != nil {
		m.From = *ev.From
	}
	return m, nil
}

// mustJSON encodes v, whose types are all chatfly's own and cannot fail.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("chatfly: encoding " + err.Error())
	}
	return b
}

// errorFrameFor renders err as an error frame answering id. Errors that are
// not *Error are reported as "internal" without their text.
func errorFrameFor(id json.RawMessage, err error) []byte {
	var e *Error
	if !errors.As(err, &e) {
		e = ErrInternal
	}
	return mustJSON(errorFrame{Type: "error", ID: id, Code: e.Code, Message: e.Message})
}
