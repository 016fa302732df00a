package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatfly/chatfly"
)

// The contract shared by the methods that wait for a reply is in the doc
// comment of Client.

// Joined is the reply to [Client.Join].
type Joined struct {
	// Room describes the room, with its occupancy and latest seq.
	Room chatfly.RoomInfo
	// Members are the people in the room, the caller included.
	Members []chatfly.Member
	// History holds the latest messages, oldest first, or with a non-zero
	// after the messages with a greater seq. Each is a "message" Event.
	History []Event
}

// Rooms returns one page of the public rooms, busiest first, then the most
// recently active, with their occupancy and latest seq. Pass "" as cursor
// for the first page and the returned next for the following ones; next
// is "" after the last page. limit <= 0 means the server's default page
// size (20; at most 100). A cursor the server cannot read is
// chatfly.ErrBadRequest.
func (c *Client) Rooms(ctx context.Context, cursor string, limit int) (rooms []chatfly.RoomInfo, next string, err error) {
	f, id := c.frame("rooms")
	if cursor != "" {
		f.str("cursor", cursor)
	}
	if limit > 0 {
		f.int("limit", int64(limit))
	}
	ev, err := c.call(ctx, id, f, "rooms")
	if err != nil {
		return nil, "", err
	}
	var v struct {
		Rooms []chatfly.RoomInfo `json:"rooms"`
		Next  string             `json:"next"`
	}
	if err := json.Unmarshal(ev.Raw, &v); err != nil {
		return nil, "", fmt.Errorf("chatfly/client: bad rooms reply: %w", err)
	}
	return v.Rooms, v.Next, nil
}

// RoomInfo describes the room with the given id, listed or not: anyone
// with a private room's id (its link) may look it up. An unknown id is
// chatfly.ErrNotFound.
func (c *Client) RoomInfo(ctx context.Context, room string) (chatfly.RoomInfo, error) {
	f, id := c.frame("room.info")
	f.str("room", room)
	ev, err := c.call(ctx, id, f, "room.info")
	if err != nil {
		return chatfly.RoomInfo{}, err
	}
	var v struct {
		Room chatfly.RoomInfo `json:"room"`
	}
	if err := json.Unmarshal(ev.Raw, &v); err != nil {
		return chatfly.RoomInfo{}, fmt.Errorf("chatfly/client: bad room.info reply: %w", err)
	}
	return v.Room, nil
}

// Join joins room and returns its description, members and recent
// history. With after > 0 (the last seq the caller has seen, when
// reconnecting), History holds the messages with seq > after instead, so
// nothing is missed. Joining a room again is allowed and returns the same.
// Messages in History may also arrive live on Events: order and
// de-duplicate by Seq.
func (c *Client) Join(ctx context.Context, room string, after int64) (*Joined, error) {
	f, id := c.frame("join")
	f.str("room", room)
	if after > 0 {
		f.int("after", after)
	}
	ev, err := c.call(ctx, id, f, "joined")
	if err != nil {
		return nil, err
	}
	var v struct {
		Room    chatfly.RoomInfo `json:"room"`
		Members []chatfly.Member `json:"members"`
		History []Event          `json:"history"`
	}
	if err := json.Unmarshal(ev.Raw, &v); err != nil {
		return nil, fmt.Errorf("chatfly/client: bad joined reply: %w", err)
	}
	if v.Room.ID == "" {
		v.Room.ID = room
	}
	fillMessages(v.History, v.Room.ID)
	return &Joined{Room: v.Room, Members: v.Members, History: v.History}, nil
}

// fillMessages sets the type and room of listed messages that omit them.
func fillMessages(msgs []Event, room string) {
	for i := range msgs {
		if msgs[i].Type == "" {
			msgs[i].Type = "message"
		}
		if msgs[i].Room == "" {
			msgs[i].Room = room
		}
	}
}

// Leave leaves room.
func (c *Client) Leave(ctx context.Context, room string) error {
	f, id := c.frame("leave")
	f.str("room", room)
	_, err := c.call(ctx, id, f, "left")
	return err
}

// Send posts text to room and returns the message's seq. The message
// itself also arrives on Events, as for every member of the room.
func (c *Client) Send(ctx context.Context, room, text string) (seq int64, err error) {
	f, id := c.frame("send")
	f.str("room", room).str("text", text)
	ev, err := c.call(ctx, id, f, "sent")
	if err != nil {
		return 0, err
	}
	return ev.Seq, nil
}

// History returns up to limit messages of room with seq < before, oldest
// first; before <= 0 means the latest, limit <= 0 the server's default
// (and maximum) page size. more reports that older messages may exist: to
// page back, call History again with before set to the first message's
// Seq.
func (c *Client) History(ctx context.Context, room string, before int64, limit int) (msgs []Event, more bool, err error) {
	f, id := c.frame("history")
	f.str("room", room)
	if before > 0 {
		f.int("before", before)
	}
	if limit > 0 {
		f.int("limit", int64(limit))
	}
	ev, err := c.call(ctx, id, f, "history")
	if err != nil {
		return nil, false, err
	}
	var v struct {
		Messages []Event `json:"messages"`
		More     bool    `json:"more"`
	}
	if err := json.Unmarshal(ev.Raw, &v); err != nil {
		return nil, false, fmt.Errorf("chatfly/client: bad history reply: %w", err)
	}
	fillMessages(v.Messages, room)
	return v.Messages, v.More, nil
}

// Typing tells the others in room that the user is typing. It is fire and
// forget: it returns once the frame is written, and the frame has no id, so
// an error the server reports (not_member, rate_limited) arrives on Events
// as an "error" Event (see [Event.Err]). Send it at most every 3 seconds
// while the user types.
func (c *Client) Typing(ctx context.Context, room string) error {
	f := newFrame("typing", 0)
	f.str("room", room)
	err := c.write(ctx, f.bytes())
	f.release()
	return err
}

// Ping sends the ping action and waits for the pong. The client already
// pings every Options.PingInterval; Ping is for measuring round trips and
// for checking that the session is alive.
func (c *Client) Ping(ctx context.Context) error {
	f, id := c.frame("ping")
	_, err := c.call(ctx, id, f, "pong")
	return err
}

// Do sends any action and returns its reply, for actions this package has
// no method for (game.*, room.*, later additions). fields, if
// not nil, must encode (with encoding/json) as a JSON object; its members
// are added to the frame after "action" and "id", which it must not
// contain. The reply is returned whatever its type: Type tells which, and
// Raw holds the whole line to decode further. An error frame is returned as
// a *[chatfly.Error], together with its Event.
func (c *Client) Do(ctx context.Context, action string, fields any) (Event, error) {
	var obj []byte
	if fields != nil {
		var err error
		if obj, err = json.Marshal(fields); err != nil {
			return Event{}, fmt.Errorf("chatfly/client: encoding fields of %s: %w", action, err)
		}
		if string(obj) == "null" {
			obj = nil
		} else if err := checkFields(obj); err != nil {
			return Event{}, fmt.Errorf("chatfly/client: fields of %s: %w", action, err)
		}
	}
	f, id := c.frame(action)
	if obj != nil {
		f.members(obj)
	}
	return c.roundTrip(ctx, id, f)
}

// checkFields checks that obj, the output of json.Marshal, is an object
// without the keys "action" and "id".
func checkFields(obj []byte) error {
	if obj[0] != '{' {
		return errors.New("not a JSON object")
	}
	s := scanner{b: obj}
	if s.objectStart() {
		return nil
	}
	for {
		k, err := s.key()
		if err != nil {
			return err
		}
		if string(k) == "action" || string(k) == "id" {
			return fmt.Errorf("must not contain %q", k)
		}
		if err := s.skip(0); err != nil {
			return err
		}
		more, err := s.objectNext()
		if err != nil || !more {
			return err
		}
	}
}

// SendRaw writes frame to the connection as one text frame, unchanged. It
// is for tests of a server's handling of bad input. It does not wait for a
// reply: replies to it arrive on Events (with ID set if the frame had an
// id; use string ids, since the client's own ids are positive integers).
func (c *Client) SendRaw(ctx context.Context, frame []byte) error {
	return c.write(ctx, frame)
}

// Call calls the application action action (see chatfly.Options.Actions:
// its name starts with "app.") with data, encoded with encoding/json as the
// frame's "data" (nil: no data), and returns the "data" of its result. An
// error frame is returned as a *[chatfly.Error].
func (c *Client) Call(ctx context.Context, action string, data any) (json.RawMessage, error) {
	var fields any
	if data != nil {
		fields = struct {
			Data any `json:"data"`
		}{data}
	}
	ev, err := c.Do(ctx, action, fields)
	if err != nil {
		return nil, err
	}
	var res struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(ev.Raw, &res); err != nil || res.Type != "result" {
		return nil, fmt.Errorf("chatfly/client: %s answered %.200s, not a result", action, ev.Raw)
	}
	return res.Data, nil
}
