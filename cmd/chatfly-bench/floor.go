package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The floor is the bare minimum broadcast server the load tool compares
// chatfly with: a map of rooms, a member set per room, one queue and one
// writer goroutine per connection, and one JSON encoding per message,
// speaking the subset of chatfly's protocol the load tool uses (hello,
// join, send, ping) with the same JSON shapes. It stores nothing, sends no
// presence events and does no validation or rate limiting: whatever chatfly
// costs beyond it is the price of its features.

// floorQueue is the frames a floor connection may have waiting, as
// wstransport's default queue.
const floorQueue = 256

type floorServer struct {
	mu    sync.Mutex
	rooms map[string]*floorRoom
	ids   atomic.Int64
}

type floorRoom struct {
	mu      sync.Mutex
	seq     int64
	members map[*floorConn]struct{}
}

type floorConn struct {
	ws    *websocket.Conn
	id    string
	name  string
	out   chan []byte
	quit  chan struct{} // closed when the read loop has ended
	once  sync.Once
	rooms []*floorRoom
}

func newFloor() *floorServer { return &floorServer{rooms: make(map[string]*floorRoom)} }

// floorFrame is a client frame.
type floorFrame struct {
	Action string          `json:"action"`
	ID     json.RawMessage `json:"id"`
	Name   string          `json:"name"`
	Room   string          `json:"room"`
	Text   string          `json:"text"`
}

type floorMember struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type floorMessage struct {
	Type string      `json:"type"`
	Room string      `json:"room"`
	Seq  int64       `json:"seq"`
	From floorMember `json:"from"`
	Text string      `json:"text"`
	TS   int64       `json:"ts"`
}

type floorReply struct {
	Type     string          `json:"type"`
	ID       json.RawMessage `json:"id,omitempty"`
	Session  string          `json:"session,omitempty"`
	Name     string          `json:"name,omitempty"`
	Protocol int             `json:"protocol,omitempty"`
	Room     any             `json:"room,omitempty"`
	Members  []floorMember   `json:"members,omitempty"`
	History  []any           `json:"history,omitempty"`
	Seq      int64           `json:"seq,omitempty"`
	TS       int64           `json:"ts,omitempty"`
	Code     string          `json:"code,omitempty"`
	Message  string          `json:"message,omitempty"`
}

func (s *floorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c := &floorConn{ws: ws, id: "f" + strconv.FormatInt(s.ids.Add(1), 10), out: make(chan []byte, floorQueue), quit: make(chan struct{})}
	done := make(chan struct{})
	go c.writeLoop(done)
	defer func() {
		for _, room := range c.rooms {
			room.mu.Lock()
			delete(room.members, c)
			room.mu.Unlock()
		}
		close(c.quit)
		<-done
		c.ws.CloseNow()
	}()
	ctx := context.Background()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var f floorFrame
		if json.Unmarshal(data, &f) != nil {
			c.send(mustMarshal(floorReply{Type: "error", Code: "bad_json", Message: "bad JSON"}))
			continue
		}
		s.handle(c, &f)
	}
}

func (s *floorServer) handle(c *floorConn, f *floorFrame) {
	switch f.Action {
	case "hello":
		c.name = f.Name
		c.send(mustMarshal(floorReply{Type: "welcome", ID: f.ID, Session: c.id, Name: c.name, Protocol: 1}))
	case "ping":
		c.send(mustMarshal(floorReply{Type: "pong", ID: f.ID, TS: time.Now().UnixMilli()}))
	case "join":
		room := s.room(f.Room)
		room.mu.Lock()
		room.members[c] = struct{}{}
		n, seq := len(room.members), room.seq
		room.mu.Unlock()
		c.rooms = append(c.rooms, room)
		info := map[string]any{"id": f.Room, "name": f.Room, "public": true, "members": n, "seq": seq}
		c.send(mustMarshal(floorReply{Type: "joined", ID: f.ID, Room: info, Members: []floorMember{}, History: []any{}}))
	case "send":
		room := s.room(f.Room)
		room.mu.Lock()
		room.seq++
		seq := room.seq
		frame := mustMarshal(floorMessage{Type: "message", Room: f.Room, Seq: seq, From: floorMember{ID: c.id, Name: c.name}, Text: f.Text, TS: time.Now().UnixMilli()})
		for m := range room.members {
			m.send(frame)
		}
		room.mu.Unlock()
		c.send(mustMarshal(floorReply{Type: "sent", ID: f.ID, Room: f.Room, Seq: seq}))
	default:
		c.send(mustMarshal(floorReply{Type: "error", ID: f.ID, Code: "unknown_action", Message: "unknown action"}))
	}
}

func (s *floorServer) room(id string) *floorRoom {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	if r == nil {
		r = &floorRoom{members: make(map[*floorConn]struct{})}
		s.rooms[id] = r
	}
	return r
}

// send queues frame; a full queue closes the connection as too slow.
func (c *floorConn) send(frame []byte) {
	select {
	case c.out <- frame:
	default:
		c.close(4000)
	}
}

func (c *floorConn) close(code websocket.StatusCode) {
	c.once.Do(func() { go c.ws.Close(code, "") })
}

func (c *floorConn) writeLoop(done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case frame := <-c.out:
			if c.ws.Write(context.Background(), websocket.MessageText, frame) != nil {
				c.ws.CloseNow()
				return
			}
		case <-c.quit:
			return
		}
	}
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
