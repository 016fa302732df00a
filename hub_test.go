package chatfly_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

// fakeClock is a settable clock shared by the Hub and the store.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// recTransport records the events sent to each connection. A connection
// marked gone makes Send return ErrGone.
type recTransport struct {
	mu     sync.Mutex
	raw    map[string][]string // every frame line, as sent
	events map[string][]map[string]any
	closed map[string]chatfly.CloseCode
	gone   map[string]bool
}

func newRecTransport() *recTransport {
	return &recTransport{raw: map[string][]string{}, events: map[string][]map[string]any{}, closed: map[string]chatfly.CloseCode{}, gone: map[string]bool{}}
}

func (t *recTransport) Send(_ context.Context, conn string, frame []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gone[conn] {
		return chatfly.ErrGone
	}
	for _, line := range bytes.Split(frame, []byte{'\n'}) {
		var ev map[string]any
		if err := json.Unmarshal(line, &ev); err != nil {
			panic("hub sent invalid JSON: " + string(line))
		}
		t.events[conn] = append(t.events[conn], ev)
		t.raw[conn] = append(t.raw[conn], string(line))
	}
	return nil
}

func (t *recTransport) Close(_ context.Context, conn string, code chatfly.CloseCode, _ string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed[conn] = code
	return nil
}

// take returns and forgets the events sent to conn so far.
func (t *recTransport) take(conn string) []map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	evs := t.events[conn]
	delete(t.events, conn)
	return evs
}

type testHub struct {
	t     *testing.T
	hub   *chatfly.Hub
	tr    *recTransport
	store *memstore.Store
	clock *fakeClock
	next  int
	conns map[string]string // by name, for tests that keep them
}

func newTestHub(t *testing.T, opts *chatfly.Options) *testHub {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	if opts == nil {
		opts = &chatfly.Options{}
	}
	if opts.Rooms == nil {
		opts.Rooms = chatfly.DefaultRooms()
	}
	opts.Now = clock.Now
	store := memstore.New(&memstore.Options{Now: clock.Now})
	tr := newRecTransport()
	return &testHub{t: t, hub: chatfly.New(store, tr, opts), tr: tr, store: store, clock: clock}
}

// connect opens a connection without hello.
func (th *testHub) connect() string {
	th.t.Helper()
	th.next++
	conn := "c" + string(rune('0'+th.next/10)) + string(rune('0'+th.next%10))
	if err := th.hub.Connect(context.Background(), &chatfly.ConnectRequest{ConnID: conn}); err != nil {
		th.t.Fatalf("Connect: %v", err)
	}
	return conn
}

// do sends a frame and returns the events the connection received.
func (th *testHub) do(conn, frame string) []map[string]any {
	th.t.Helper()
	if err := th.hub.Receive(context.Background(), conn, []byte(frame)); err != nil {
		th.t.Fatalf("Receive(%s): %v", frame, err)
	}
	return th.tr.take(conn)
}

// reply sends a frame and returns its single reply, failing otherwise.
func (th *testHub) reply(conn, frame string) map[string]any {
	th.t.Helper()
	evs := th.do(conn, frame)
	var replies []map[string]any
	for _, ev := range evs {
		if ev["id"] != nil || replyTypes[ev["type"].(string)] {
			replies = append(replies, ev)
		}
	}
	if len(replies) != 1 {
		th.t.Fatalf("%s: want one reply, got %v", frame, evs)
	}
	return replies[0]
}

// wantError asserts that a frame is answered with the error code.
func (th *testHub) wantError(conn, frame, code string) {
	th.t.Helper()
	r := th.reply(conn, frame)
	if r["type"] != "error" || r["code"] != code {
		th.t.Fatalf("%s: want error %q, got %v", frame, code, r)
	}
}

// hello connects a session with a name and returns its connection.
func (th *testHub) hello(name string) (conn string, welcome map[string]any) {
	th.t.Helper()
	conn = th.connect()
	w := th.reply(conn, `{"action":"hello","id":1,"name":`+jsonString(name)+`}`)
	if w["type"] != "welcome" {
		th.t.Fatalf("hello %q: %v", name, w)
	}
	return conn, w
}

func (th *testHub) join(conn, room string) map[string]any {
	th.t.Helper()
	r := th.reply(conn, `{"action":"join","id":2,"room":"`+room+`"}`)
	if r["type"] != "joined" {
		th.t.Fatalf("join %s: %v", room, r)
	}
	return r
}

var replyTypes = map[string]bool{"welcome": true, "rooms": true, "joined": true, "left": true, "sent": true, "history": true, "pong": true, "ok": true, "error": true}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func ofType(evs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, ev := range evs {
		if ev["type"] == typ {
			out = append(out, ev)
		}
	}
	return out
}

func TestHelloWelcome(t *testing.T) {
	th := newTestHub(t, nil)
	_, w := th.hello("  Ada  ")
	if w["name"] != "Ada" || w["protocol"] != float64(1) || w["session"] == "" || w["token"] == "" || w["id"] != float64(1) {
		t.Fatalf("welcome = %v", w)
	}
}

func TestInvalidNames(t *testing.T) {
	th := newTestHub(t, nil)
	for _, name := range []string{"", "   ", strings.Repeat("x", 33), "bell\a", "zero\u200bwidth", "rtl\u202eoverride", "soft\u00adhyphen", "\u3164", "line\u2028sep", "new\nline"} {
		conn := th.connect()
		th.wantError(conn, `{"action":"hello","name":`+jsonString(name)+`}`, "invalid_name")
		// The connection stays usable: a good name works afterwards.
		if w := th.reply(conn, `{"action":"hello","name":"fine"}`); w["type"] != "welcome" {
			t.Fatalf("after invalid name %q: %v", name, w)
		}
	}
	for _, name := range []string{"Zoë", strings.Repeat("é", 32), "李雷", "a b"} {
		if _, w := th.hello(name); w["name"] != name {
			t.Fatalf("valid name %q: %v", name, w)
		}
	}
}

func TestNameTakenCaseInsensitive(t *testing.T) {
	th := newTestHub(t, nil)
	a, _ := th.hello("Ada")
	b, _ := th.hello("ADA")
	th.join(a, "lobby")
	th.wantError(b, `{"action":"join","room":"lobby"}`, "name_taken")
	th.join(b, "random") // unique per room only
	th.reply(a, `{"action":"leave","id":3,"room":"lobby"}`)
	th.join(b, "lobby") // free again once Ada left
}

func TestResumeToken(t *testing.T) {
	th := newTestHub(t, nil)
	a, w := th.hello("Ada")
	tok := w["token"].(string)
	th.join(a, "lobby")
	if err := th.hub.Disconnect(context.Background(), a); err != nil {
		t.Fatal(err)
	}

	b := th.connect()
	w2 := th.reply(b, `{"action":"hello","token":"`+tok+`"}`)
	if w2["session"] != w["session"] || w2["name"] != "Ada" {
		t.Fatalf("resumed welcome %v, first %v", w2, w)
	}

	// Forged: payload changed, signature kept.
	payload, sig, _ := strings.Cut(tok, ".")
	forged := strings.ToUpper(payload[:1]) + strings.ToLower(payload[1:]) + "." + sig
	c := th.connect()
	th.wantError(c, `{"action":"hello","token":"`+forged+`"}`, "invalid_token")
	th.wantError(c, `{"action":"hello","token":"garbage"}`, "invalid_token")

	// Expired.
	th.clock.Advance(8 * 24 * time.Hour)
	c = th.connect()
	th.wantError(c, `{"action":"hello","token":"`+tok+`"}`, "invalid_token")
}

func TestResumeReplacesOlderConnection(t *testing.T) {
	th := newTestHub(t, nil)
	a, w := th.hello("Ada")
	b, _ := th.hello("Bob")
	th.join(a, "lobby")
	th.join(b, "lobby")
	th.tr.take(b)

	a2 := th.connect()
	th.reply(a2, `{"action":"hello","token":"`+w["token"].(string)+`"}`)
	if th.tr.closed[a] != chatfly.CloseReplaced {
		t.Fatalf("old connection closed with %v, want 4001", th.tr.closed[a])
	}
	th.join(a2, "lobby")
	// The old connection's late disconnect must not remove the new membership.
	if err := th.hub.Disconnect(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if evs := th.tr.take(b); len(ofType(evs, "presence")) != 0 {
		t.Fatalf("Bob saw presence for a reconnect: %v", evs)
	}
	th.reply(b, `{"action":"send","id":9,"room":"lobby","text":"still there?"}`)
	if msgs := ofType(th.tr.take(a2), "message"); len(msgs) != 1 {
		t.Fatalf("resumed connection got %v", msgs)
	}
}

func TestProtocolErrors(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{MaxTextRunes: 10})
	conn := th.connect()
	th.wantError(conn, `{"action":"join","id":1,"room":"lobby"}`, "hello_required")
	th.reply(conn, `{"action":"hello","name":"Ada"}`)
	cases := []struct{ frame, code string }{
		{`not json`, "bad_json"},
		{`{"action":`, "bad_json"},
		{`[1,2]`, "bad_json"},
		{`{"id":1}`, "bad_request"},
		{`{"action":"fly","id":1}`, "unknown_action"},
		{`{"action":"hello","name":"Again"}`, "already_hello"},
		{`{"action":"join","id":1}`, "bad_request"},
		{`{"action":"join","id":1,"room":7}`, "bad_request"},
		{`{"action":"join","id":1,"room":"nope"}`, "not_found"},
		{`{"action":"join","id":1,"room":"../etc"}`, "not_found"},
		{`{"action":"send","id":1,"room":"lobby","text":"hi"}`, "not_member"},
		{`{"action":"history","id":1,"room":"lobby"}`, "not_member"},
		{`{"action":"leave","id":1,"room":"lobby"}`, "not_member"},
	}
	for _, tc := range cases {
		th.wantError(conn, tc.frame, tc.code)
	}
	th.join(conn, "lobby")
	for _, tc := range []struct{ frame, code string }{
		{`{"action":"send","id":1,"room":"lobby"}`, "bad_request"},
		{`{"action":"send","id":1,"room":"lobby","text":"   "}`, "bad_request"},
		{`{"action":"send","id":1,"room":"lobby","text":"12345678901"}`, "too_long"},
	} {
		th.wantError(conn, tc.frame, tc.code)
	}
	// After all that, the connection still works.
	if r := th.reply(conn, `{"action":"send","id":"last","room":"lobby","text":"1234567890"}`); r["type"] != "sent" || r["id"] != "last" {
		t.Fatalf("send after errors: %v", r)
	}
}

func TestErrorEchoesID(t *testing.T) {
	th := newTestHub(t, nil)
	conn, _ := th.hello("Ada")
	for _, id := range []string{`"abc"`, `42`, `-1.5`} {
		r := th.reply(conn, `{"action":"nope","id":`+id+`}`)
		got, _ := json.Marshal(r["id"])
		if want, _ := json.Marshal(mustUnmarshal(id)); string(got) != string(want) {
			t.Fatalf("id %s echoed as %s", id, got)
		}
	}
	// A frame with an object id is refused, and the id not echoed (more in
	// TestIDRules).
	r := th.reply(conn, `{"action":"nope","id":{"x":1}}`)
	if _, ok := r["id"]; ok || r["code"] != "bad_request" {
		t.Fatalf("object id: %v", r)
	}
}

func mustUnmarshal(s string) any { var v any; _ = json.Unmarshal([]byte(s), &v); return v }

func TestFrameTooLarge(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{MaxFrameBytes: 100})
	conn, _ := th.hello("Ada")
	th.wantError(conn, `{"action":"ping","pad":"`+strings.Repeat("x", 200)+`"}`, "too_large")
	if r := th.reply(conn, `{"action":"ping","id":1}`); r["type"] != "pong" {
		t.Fatalf("after too_large: %v", r)
	}
}

func roomHistory(th *testHub, room string) ([]chatfly.Message, error) {
	r, err := th.hub.Room(context.Background(), room)
	if err != nil {
		return nil, err
	}
	return r.History(context.Background(), 0, 1000)
}

func TestPresenceAndMessages(t *testing.T) {
	th := newTestHub(t, nil)
	a, wa := th.hello("Ada")
	b, _ := th.hello("Bob")
	th.join(a, "lobby")
	j := th.join(b, "lobby")
	if ms := j["members"].([]any); len(ms) != 2 {
		t.Fatalf("members = %v", ms)
	}
	p := ofType(th.tr.take(a), "presence")
	if len(p) != 1 || p[0]["event"] != "join" || p[0]["member"].(map[string]any)["name"] != "Bob" || p[0]["members"] != float64(2) {
		t.Fatalf("Ada's presence events: %v", p)
	}
	evs := th.do(a, `{"action":"send","id":5,"room":"lobby","text":"hi Bob"}`)
	if len(evs) != 2 || evs[0]["type"] != "message" || evs[1]["type"] != "sent" || evs[1]["seq"] != float64(1) {
		t.Fatalf("sender got %v", evs)
	}
	m := ofType(th.tr.take(b), "message")
	if len(m) != 1 || m[0]["text"] != "hi Bob" || m[0]["seq"] != float64(1) || m[0]["from"].(map[string]any)["id"] != wa["session"] {
		t.Fatalf("Bob got %v", m)
	}
	// Typing goes to the others only.
	th.do(a, `{"action":"typing","room":"lobby"}`)
	if ty := ofType(th.tr.take(b), "typing"); len(ty) != 1 {
		t.Fatalf("typing: %v", ty)
	}
	if err := th.hub.Disconnect(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	p = ofType(th.tr.take(b), "presence")
	if len(p) != 1 || p[0]["event"] != "leave" || p[0]["members"] != float64(1) {
		t.Fatalf("leave presence: %v", p)
	}
	if err := th.hub.Disconnect(context.Background(), a); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestHistoryPagingAndCatchUp(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: -1}})
	a, _ := th.hello("Ada")
	th.join(a, "lobby")
	for i := range 120 {
		th.do(a, `{"action":"send","room":"lobby","text":"m`+itoa(i+1)+`"}`)
	}
	b, _ := th.hello("Bob")
	j := th.join(b, "lobby")
	hist := j["history"].([]any)
	if len(hist) != 50 || seqOf(hist[0]) != 71 || seqOf(hist[49]) != 120 {
		t.Fatalf("join history: %d messages, %v..%v", len(hist), seqOf(hist[0]), seqOf(hist[len(hist)-1]))
	}
	r := th.reply(b, `{"action":"history","id":1,"room":"lobby","before":71,"limit":60}`)
	msgs := r["messages"].([]any)
	if len(msgs) != 60 || seqOf(msgs[0]) != 11 || seqOf(msgs[59]) != 70 || r["more"] != true {
		t.Fatalf("page 1: %d, more=%v", len(msgs), r["more"])
	}
	r = th.reply(b, `{"action":"history","id":1,"room":"lobby","before":11,"limit":60}`)
	if msgs := r["messages"].([]any); len(msgs) != 10 || seqOf(msgs[0]) != 1 || r["more"] != false {
		t.Fatalf("page 2: %d, more=%v", len(msgs), r["more"])
	}
	// A reconnecting client asks for what it missed after seq 100.
	c := th.connect()
	th.reply(c, `{"action":"hello","name":"Cy"}`)
	r = th.reply(c, `{"action":"join","id":1,"room":"lobby","after":100}`)
	if hist := r["history"].([]any); len(hist) != 20 || seqOf(hist[0]) != 101 {
		t.Fatalf("catch-up: %d from %v", len(hist), seqOf(hist[0]))
	}
}

func seqOf(ev any) int { return int(ev.(map[string]any)["seq"].(float64)) }

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestRoomMessageCap(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{RoomMessageCap: 10, RateLimit: chatfly.RateLimit{Count: -1}})
	a, _ := th.hello("Ada")
	th.join(a, "lobby")
	for range 40 {
		th.do(a, `{"action":"send","room":"lobby","text":"x"}`)
	}
	msgs, err := roomHistory(th, "lobby")
	if err != nil || len(msgs) != 10 || msgs[0].Seq != 31 {
		t.Fatalf("kept %d messages from %v (%v), want the 10 latest", len(msgs), msgs[0].Seq, err)
	}
	// Older ones are deleted in batches, every 16 messages: the room
	// stores fewer than 10+16.
	stored, err := th.store.Query(context.Background(), chatfly.Query{Partition: "room#lobby", Prefix: "msg#"})
	if err != nil || len(stored) >= 10+16 {
		t.Fatalf("%d messages stored (%v), want fewer than 26", len(stored), err)
	}
}

func TestMessagesExpire(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{MessageTTL: time.Hour, PresenceTTL: 3 * time.Hour})
	a, _ := th.hello("Ada")
	th.join(a, "lobby")
	th.do(a, `{"action":"send","room":"lobby","text":"old"}`)
	th.clock.Advance(2 * time.Hour)
	th.do(a, `{"action":"ping"}`) // keeps Ada present
	th.do(a, `{"action":"send","room":"lobby","text":"new"}`)
	msgs, _ := roomHistory(th, "lobby")
	if len(msgs) != 1 || msgs[0].Text != "new" || msgs[0].Seq != 2 {
		t.Fatalf("history after expiry: %+v", msgs)
	}
}

func TestPresenceExpiresWithoutActivity(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{PresenceTTL: 30 * time.Minute})
	a, _ := th.hello("Ada")
	b, _ := th.hello("Bob")
	th.join(a, "lobby")
	th.join(b, "lobby")
	// Ada keeps pinging; Bob's connection vanished without a disconnect.
	for range 9 {
		th.clock.Advance(5 * time.Minute)
		th.do(a, `{"action":"ping"}`)
	}
	r, _ := th.hub.Room(context.Background(), "lobby")
	ms, err := r.Members(context.Background())
	if err != nil || len(ms) != 1 || ms[0].Name != "Ada" {
		t.Fatalf("members after 45 minutes: %v (%v)", ms, err)
	}
}

func TestIdentifyHook(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{
		Identify: func(_ context.Context, req *chatfly.ConnectRequest) (*chatfly.Identity, error) {
			switch req.Header.Get("Cookie") {
			case "user=42":
				return &chatfly.Identity{UserID: "42", Name: "Verified Vera"}, nil
			case "":
				return nil, nil // anonymous
			}
			return nil, errors.New("unknown user")
		},
	})
	ctx := context.Background()
	before := th.store.Len()
	err := th.hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "bad", Header: map[string][]string{"Cookie": {"user=999"}}})
	if !errors.Is(err, chatfly.ErrRejected) || th.store.Len() != before {
		t.Fatalf("rejected connect: err=%v, items %d -> %d", err, before, th.store.Len())
	}
	if err := th.hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "vera", Header: map[string][]string{"Cookie": {"user=42"}}}); err != nil {
		t.Fatal(err)
	}
	w := th.reply("vera", `{"action":"hello","id":1,"name":"Impostor"}`)
	if w["name"] != "Verified Vera" || w["user"] != "42" || w["token"] != nil {
		t.Fatalf("verified welcome: %v", w)
	}
	anon, w2 := th.hello("Anon")
	_ = anon
	if w2["user"] != nil {
		t.Fatalf("anonymous welcome: %v", w2)
	}
}

func TestMessageHook(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{
		OnMessage: func(_ context.Context, s chatfly.Session, m *chatfly.Message) error {
			if strings.Contains(m.Text, "spam") {
				return errors.New("no spam please")
			}
			m.Text = strings.ReplaceAll(m.Text, "darn", "d**n")
			return nil
		},
	})
	a, _ := th.hello("Ada")
	b, _ := th.hello("Bob")
	th.join(a, "lobby")
	th.join(b, "lobby")
	th.tr.take(b)
	r := th.reply(a, `{"action":"send","id":1,"room":"lobby","text":"buy spam"}`)
	if r["code"] != "rejected" || r["message"] != "rejected" { // the hook's text is logged, not sent
		t.Fatalf("rejected message: %v", r)
	}
	if evs := th.tr.take(b); len(evs) != 0 {
		t.Fatalf("rejected message delivered: %v", evs)
	}
	if msgs, _ := roomHistory(th, "lobby"); len(msgs) != 0 {
		t.Fatalf("rejected message stored: %v", msgs)
	}
	th.do(a, `{"action":"send","id":2,"room":"lobby","text":"darn it"}`)
	if m := ofType(th.tr.take(b), "message"); len(m) != 1 || m[0]["text"] != "d**n it" || m[0]["seq"] != float64(1) {
		t.Fatalf("rewritten message: %v", m)
	}
}

func TestOpenRoomAndPost(t *testing.T) {
	th := newTestHub(t, nil)
	ctx := context.Background()
	doc, err := th.hub.OpenRoom(ctx, chatfly.RoomConfig{ID: "doc-42", Topic: "Q3 plan"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := th.hub.OpenRoom(ctx, chatfly.RoomConfig{ID: "bad id!"}); !errors.Is(err, chatfly.ErrBadRequest) {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := th.hub.Room(ctx, "missing"); !errors.Is(err, chatfly.ErrNotFound) {
		t.Fatalf("missing room: %v", err)
	}
	if _, err := th.hub.OpenRoom(ctx, chatfly.RoomConfig{ID: "town-square", Public: true}); err != nil {
		t.Fatal(err)
	}
	a, _ := th.hello("Ada")
	rooms := th.reply(a, `{"action":"rooms","id":1}`)["rooms"].([]any)
	var ids []string
	for _, r := range rooms {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	if strings.Join(ids, ",") != "lobby,random,games,town-square" {
		t.Fatalf("listed rooms %v: private app rooms must not be listed", ids)
	}
	th.join(a, "doc-42")
	if _, err := doc.Post(ctx, chatfly.Member{}, "Welcome to the document chat"); err != nil {
		t.Fatal(err)
	}
	if _, err := doc.Post(ctx, chatfly.Member{ID: "bot:1", Name: "Helper"}, "I can help"); err != nil {
		t.Fatal(err)
	}
	m := ofType(th.tr.take(a), "message")
	if len(m) != 2 || m[0]["system"] != true || m[0]["from"] != nil || m[1]["from"].(map[string]any)["name"] != "Helper" {
		t.Fatalf("posted messages: %v", m)
	}
	info, err := doc.Info(ctx)
	if err != nil || info.Members != 1 || info.Seq != 2 || info.Topic != "Q3 plan" {
		t.Fatalf("info %+v, %v", info, err)
	}
	hist, err := doc.History(ctx, 0, 10)
	if err != nil || len(hist) != 2 || !hist[0].System || hist[1].From.Name != "Helper" {
		t.Fatalf("history %+v, %v", hist, err)
	}
}

func TestGoneConnectionsAreRemoved(t *testing.T) {
	th := newTestHub(t, nil)
	a, _ := th.hello("Ada")
	b, _ := th.hello("Bob")
	th.join(a, "lobby")
	th.join(b, "lobby")
	th.tr.mu.Lock()
	th.tr.gone[b] = true
	th.tr.mu.Unlock()
	th.do(a, `{"action":"send","room":"lobby","text":"anyone?"}`)
	r, _ := th.hub.Room(context.Background(), "lobby")
	if ms, _ := r.Members(context.Background()); len(ms) != 1 {
		t.Fatalf("members after Bob's connection went away: %v", ms)
	}
}

func TestTooManyRooms(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{MaxRoomsPerSession: 2})
	a, _ := th.hello("Ada")
	th.join(a, "lobby")
	th.join(a, "random")
	th.wantError(a, `{"action":"join","room":"games"}`, "too_many")
	th.join(a, "lobby") // re-joining is not a new room
}

// The Hub keeps no state of its own: two Hubs over one Storage serve one
// room together.
func TestTwoHubsShareStorage(t *testing.T) {
	th := newTestHub(t, nil)
	tr2 := newRecTransport()
	hub2 := chatfly.New(th.store, tr2, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Now: th.clock.Now})
	ctx := context.Background()
	a, _ := th.hello("Ada")
	th.join(a, "lobby")
	if err := hub2.Connect(ctx, &chatfly.ConnectRequest{ConnID: "b"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`{"action":"hello","name":"Bob"}`, `{"action":"join","room":"lobby"}`} {
		if err := hub2.Receive(ctx, "b", []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	// Fan-out goes through each Hub's own Transport: hub2 reaches Ada's
	// connection id through its transport, as API Gateway would.
	if p := ofType(tr2.take(a), "presence"); len(p) != 1 {
		t.Fatalf("Ada did not see Bob join through the other hub: %v", p)
	}
	if err := hub2.Receive(ctx, "b", []byte(`{"action":"send","room":"lobby","text":"hi from hub2"}`)); err != nil {
		t.Fatal(err)
	}
	if m := ofType(tr2.take(a), "message"); len(m) != 1 {
		t.Fatalf("message for Ada via hub2's transport: %v", m)
	}
}

// limitTransport has a frame size limit, as API Gateway has.
type limitTransport struct {
	*recTransport
	max int
}

func (t limitTransport) MaxSendBytes() int { return t.max }

func (t limitTransport) Send(ctx context.Context, conn string, frame []byte) error {
	if len(frame) > t.max {
		return chatfly.ErrTooLarge
	}
	return t.recTransport.Send(ctx, conn, frame)
}

// Over a transport with a frame size limit, join and history replies carry
// as many messages as fit instead of failing.
func TestRepliesFitTheTransport(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: -1}})
	tr := limitTransport{th.tr, 8 << 10}
	th.hub = chatfly.New(th.store, tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Now: th.clock.Now, RateLimit: chatfly.RateLimit{Count: -1}})
	a, _ := th.hello("Ada")
	th.join(a, "lobby")
	for range 50 {
		th.do(a, `{"action":"send","room":"lobby","text":"`+strings.Repeat("é", 500)+`"}`)
	}
	b, _ := th.hello("Bob")
	hist := th.join(b, "lobby")["history"].([]any)
	if len(hist) == 0 || len(hist) >= 50 || seqOf(hist[len(hist)-1]) != 50 {
		t.Fatalf("join history: %d messages ending at %v; want fewer than 50, the newest kept", len(hist), seqOf(hist[len(hist)-1]))
	}
	r := th.reply(b, `{"action":"history","id":1,"room":"lobby","before":`+itoa(seqOf(hist[0]))+`}`)
	if msgs := r["messages"].([]any); len(msgs) == 0 || r["more"] != true {
		t.Fatalf("history page: %d messages, more=%v", len(msgs), r["more"])
	}
	c, _ := th.hello("Cy")
	r = th.reply(c, `{"action":"join","id":1,"room":"lobby","after":10}`)
	if h := r["history"].([]any); len(h) == 0 || seqOf(h[0]) != 11 {
		t.Fatalf("catch-up keeps the oldest: %d from %v", len(h), seqOf(h[0]))
	}
}
