package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
)

// dial connects to f with name and closes the client when the test ends.
func dial(t *testing.T, f *fakeServer, opts *client.Options) *client.Client {
	t.Helper()
	if opts == nil {
		opts = &client.Options{Name: "Ada"}
	}
	c, err := client.Dial(testCtx(t), f.URL, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// next receives one event or fails.
func next(t *testing.T, c *client.Client) client.Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("Events closed: %v", c.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	panic("unreachable")
}

// drain receives until Events is closed and returns what came.
func drain(t *testing.T, c *client.Client) []client.Event {
	t.Helper()
	var evs []client.Event
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		case <-timeout:
			t.Fatal("Events not closed")
		}
	}
}

func TestDialWelcome(t *testing.T) {
	closed := make(chan websocket.StatusCode, 1)
	f := newFakeServer(t, func(s *sconn) {
		if got := s.req.Header.Get("X-Test"); got != "yes" {
			s.fail("header X-Test = %q", got)
		}
		h := s.read("hello")
		if h.id() != "1" || h.str("name") != "Ada" || h.has("token") {
			s.fail("hello = %s", h.raw)
		}
		s.write(reply(h, "welcome", `"session":"k3J9","name":"Ada","token":"eyJz","user":"u-7","protocol":1`))
		closed <- s.waitClose()
	})
	c, err := client.Dial(testCtx(t), f.URL, &client.Options{
		Name:       "Ada",
		HTTPHeader: http.Header{"X-Test": {"yes"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := client.Welcome{Session: "k3J9", Name: "Ada", Token: "eyJz", User: "u-7", Protocol: 1}
	if got := c.Welcome(); got != want {
		t.Errorf("Welcome = %+v, want %+v", got, want)
	}
	if c.Err() != nil || c.CloseCode() != 0 {
		t.Errorf("open client: Err %v, CloseCode %d", c.Err(), c.CloseCode())
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if code := <-closed; code != websocket.StatusNormalClosure {
		t.Errorf("server saw close status %v, want 1000", code)
	}
}

func TestDialTokenFallsBackToName(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		h := s.read("hello")
		if h.str("token") != "stale" || h.has("name") {
			s.fail("first hello = %s", h.raw)
		}
		s.write(errorReply(h, "invalid_token", "expired"))
		h = s.read("hello")
		if h.str("name") != "Ada" || h.has("token") {
			s.fail("second hello = %s", h.raw)
		}
		s.write(reply(h, "welcome", `"session":"new","name":"Ada","token":"fresh","protocol":1`))
		s.waitClose()
	})
	c := dial(t, f, &client.Options{Token: "stale", Name: "Ada"})
	if w := c.Welcome(); w.Session != "new" || w.Token != "fresh" {
		t.Errorf("Welcome = %+v", w)
	}
}

func TestDialHelloError(t *testing.T) {
	for _, tc := range []struct {
		opts client.Options
		code string
		want *chatfly.Error
	}{
		{client.Options{Token: "forged"}, "invalid_token", chatfly.ErrInvalidToken},
		{client.Options{Name: "\u202eevil"}, "invalid_name", chatfly.ErrInvalidName},
		{client.Options{}, "invalid_name", chatfly.ErrInvalidName},
	} {
		t.Run(tc.code, func(t *testing.T) {
			closed := make(chan websocket.StatusCode, 1)
			f := newFakeServer(t, func(s *sconn) {
				h := s.read("hello")
				s.write(errorReply(h, tc.code, "nope"))
				closed <- s.waitClose()
			})
			c, err := client.Dial(testCtx(t), f.URL, &tc.opts)
			if c != nil {
				t.Fatal("Dial returned a client with an error")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Dial error %v, want %v", err, tc.want)
			}
			var ce *chatfly.Error
			if !errors.As(err, &ce) || ce.Message != "nope" {
				t.Errorf("error %#v, want message from the server", err)
			}
			if code := <-closed; code != websocket.StatusNormalClosure {
				t.Errorf("server saw close status %v, want 1000", code)
			}
		})
	}
}

func TestDialProtocolMismatch(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		h := s.read("hello")
		s.write(reply(h, "welcome", `"session":"s","name":"Ada","protocol":2`))
		s.waitClose()
	})
	_, err := client.Dial(testCtx(t), f.URL, &client.Options{Name: "Ada"})
	if err == nil || !strings.Contains(err.Error(), "protocol 2") {
		t.Fatalf("Dial error = %v, want a protocol mismatch", err)
	}
}

func TestDialRefused(t *testing.T) {
	t.Run("403 rejected", func(t *testing.T) {
		f := newFakeHTTPServer(t, func(w http.ResponseWriter, r *http.Request, _ *fakeServer) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"code":"rejected","message":"banned from this site"}`))
		})
		_, err := client.Dial(testCtx(t), f.URL, &client.Options{Name: "Ada"})
		if !errors.Is(err, chatfly.ErrRejected) {
			t.Fatalf("Dial error %v, want rejected", err)
		}
		var ce *chatfly.Error
		if !errors.As(err, &ce) || ce.Message != "banned from this site" {
			t.Errorf("chatfly error %+v", ce)
		}
		var he *client.HandshakeError
		if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden {
			t.Errorf("HandshakeError %+v", he)
		}
	})
	t.Run("500 text", func(t *testing.T) {
		f := newFakeHTTPServer(t, func(w http.ResponseWriter, r *http.Request, _ *fakeServer) {
			http.Error(w, "boom", http.StatusInternalServerError)
		})
		_, err := client.Dial(testCtx(t), f.URL, nil)
		var he *client.HandshakeError
		if !errors.As(err, &he) || he.StatusCode != 500 || strings.TrimSpace(string(he.Body)) != "boom" {
			t.Fatalf("Dial error %v (%+v), want HandshakeError 500 boom", err, he)
		}
		var ce *chatfly.Error
		if errors.As(err, &ce) {
			t.Errorf("unexpected chatfly error %v", ce)
		}
	})
}

func TestDialContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFakeServer(t, func(s *sconn) {
		s.read("hello")
		cancel() // never answer; the client gives up
		s.waitClose()
	})
	_, err := client.Dial(ctx, f.URL, &client.Options{Name: "Ada"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial error %v, want context.Canceled", err)
	}
}

func TestDialContextEndsAfterDial(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		p := s.read("ping")
		s.write(reply(p, "pong", `"ts":1`))
		s.waitClose()
	})
	ctx, cancel := context.WithCancel(context.Background())
	c, err := client.Dial(ctx, f.URL, &client.Options{Name: "Ada"})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatalf("Ping after the Dial context ended: %v", err)
	}
}

// TestConcurrentCalls checks that replies reach their callers whatever the
// order, coalescing and interleaved events.
func TestConcurrentCalls(t *testing.T) {
	const n = 64
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		frames := make([]in, n)
		ids := map[string]bool{}
		for i := range frames {
			frames[i] = s.read("send")
			ids[frames[i].id()] = true
		}
		if len(ids) != n {
			s.fail("%d distinct ids for %d calls", len(ids), n)
		}
		// Answer in reverse, two replies and one event per frame.
		var lines []string
		for i := n - 1; i >= 0; i-- {
			k, _ := strconv.Atoi(frames[i].str("text"))
			lines = append(lines, reply(frames[i], "sent", fmt.Sprintf(`"room":"lobby","seq":%d`, 1000+k)))
			lines = append(lines, fmt.Sprintf(`{"type":"message","room":"lobby","seq":%d,"from":{"id":"x","name":"X"},"text":"e%d","ts":1}`, i, i))
			if len(lines) == 4 || i == 0 {
				s.write(lines...)
				lines = lines[:0]
			}
		}
		s.waitClose()
	})
	c := dial(t, f, nil)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() {
			seq, err := c.Send(ctx, "lobby", strconv.Itoa(k))
			if err != nil || seq != int64(1000+k) {
				t.Errorf("Send %d = %d, %v; want %d", k, seq, err, 1000+k)
			}
		})
	}
	wg.Wait()
	for i := n - 1; i >= 0; i-- {
		ev := next(t, c)
		if ev.Type != "message" || ev.Seq != int64(i) || ev.ID != nil {
			t.Fatalf("event %+v, want message seq %d", ev, i)
		}
	}
}

func TestErrorFrame(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		j := s.read("join")
		s.write(errorReply(j, "not_found", "no such room"))
		r := s.read("send")
		s.write(errorReply(r, "rate_limited", "slow down"))
		d := s.read("game.move")
		s.write(errorReply(d, "some_future_code", "new"))
		s.waitClose()
	})
	c := dial(t, f, nil)
	ctx := testCtx(t)
	_, err := c.Join(ctx, "nowhere", 0)
	var ce *chatfly.Error
	if !errors.Is(err, chatfly.ErrNotFound) || errors.Is(err, chatfly.ErrNotMember) ||
		!errors.As(err, &ce) || ce.Message != "no such room" {
		t.Errorf("Join error %#v, want not_found with the server's message", err)
	}
	if _, err := c.Send(ctx, "lobby", "hi"); !errors.Is(err, chatfly.ErrRateLimited) {
		t.Errorf("Send error %v, want rate_limited", err)
	}
	ev, err := c.Do(ctx, "game.move", nil)
	if chatfly.CodeOf(err) != "some_future_code" || ev.Type != "error" {
		t.Errorf("Do = %+v, %v; want an error event and some_future_code", ev, err)
	}
	if c.Err() != nil {
		t.Errorf("error frames ended the connection: %v", c.Err())
	}
}

func TestMultiEventFrame(t *testing.T) {
	lines := []string{
		`{"type":"message","room":"lobby","seq":42,"from":{"id":"Qx0","name":"Lin"},"text":"hi\nthere \u263a","ts":1767225600000}`,
		`{"type":"presence","room":"lobby","event":"join","member":{"id":"k3J9","name":"Ada"},"members":2}`,
		``,
		`  `,
		`{"type":"typing","room":"lobby","member":{"id":"Qx0","name":"Lin"}}`,
		`{"type":"message","room":"lobby","seq":43,"text":"welcome","ts":1767225600001,"system":true}`,
		`{"type":"game.state","room":"games","board":[[1,0],[0,null]],"turn":{"id":"Qx0"},"seq":7}`,
		``,
	}
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		p := s.read("ping")
		// The reply to the ping sits among the events.
		frame := append(append(append([]string{}, lines[:2]...), reply(p, "pong", `"ts":1`)), lines[2:]...)
		s.write(frame...)
		s.waitClose()
	})
	c := dial(t, f, nil)
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	lin := chatfly.Member{ID: "Qx0", Name: "Lin"}
	want := []client.Event{
		{Type: "message", Room: "lobby", Seq: 42, From: lin, Text: "hi\nthere ☺", TS: 1767225600000},
		{Type: "presence", Room: "lobby", Event: "join", Member: chatfly.Member{ID: "k3J9", Name: "Ada"}, Members: 2},
		{Type: "typing", Room: "lobby", Member: lin},
		{Type: "message", Room: "lobby", Seq: 43, Text: "welcome", TS: 1767225600001, System: true},
		{Type: "game.state", Room: "games", Seq: 7},
	}
	raws := []string{lines[0], lines[1], lines[4], lines[5], lines[6]}
	for i, w := range want {
		ev := next(t, c)
		if string(ev.Raw) != raws[i] {
			t.Errorf("event %d Raw = %s, want %s", i, ev.Raw, raws[i])
		}
		ev.Raw = nil
		if fmt.Sprint(ev) != fmt.Sprint(w) {
			t.Errorf("event %d = %+v, want %+v", i, ev, w)
		}
	}
	// Fields of event types the client does not know come from Raw.
	var game struct {
		Board [][]*int `json:"board"`
	}
	if err := json.Unmarshal([]byte(raws[4]), &game); err != nil || len(game.Board) != 2 {
		t.Errorf("decode Raw: %v %v", game, err)
	}
	select {
	case ev := <-c.Events():
		t.Errorf("extra event %+v", ev)
	default:
	}
}

func TestCancelledCall(t *testing.T) {
	got := make(chan struct{})
	cancelled := make(chan struct{})
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		r := s.read("rooms")
		close(got)
		<-cancelled
		s.write(reply(r, "rooms", `"rooms":[]`)) // too late
		p := s.read("ping")
		s.write(reply(p, "pong", ""))
		s.waitClose()
	})
	c := dial(t, f, nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	go func() {
		<-got
		cancel()
	}()
	if _, _, err := c.Rooms(ctx, "", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Rooms error %v, want context.Canceled", err)
	}
	close(cancelled)
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatalf("Ping after a cancelled call: %v", err)
	}
	ev := next(t, c)
	if ev.Type != "rooms" || string(ev.ID) != "2" {
		t.Errorf("late reply = %+v, want type rooms with ID 2", ev)
	}
	// A context that is already done does not send anything.
	if err := c.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Ping with a done context: %v", err)
	}
}

func TestClose(t *testing.T) {
	got := make(chan struct{})
	closed := make(chan websocket.StatusCode, 1)
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		s.read("rooms") // never answered
		close(got)
		closed <- s.waitClose()
	})
	c := dial(t, f, nil)
	ctx := testCtx(t)
	callErr := make(chan error, 1)
	go func() {
		_, _, err := c.Rooms(ctx, "", 0)
		callErr <- err
	}()
	<-got
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Errorf("Close again: %v", err)
	}
	if err := <-callErr; !errors.Is(err, client.ErrClosed) {
		t.Errorf("pending call: %v, want ErrClosed", err)
	}
	if evs := drain(t, c); len(evs) != 0 {
		t.Errorf("events %v", evs)
	}
	<-c.Done()
	if !errors.Is(c.Err(), client.ErrClosed) || c.CloseCode() != 1000 {
		t.Errorf("Err %v, CloseCode %d; want ErrClosed, 1000", c.Err(), c.CloseCode())
	}
	if _, err := c.Send(ctx, "lobby", "hi"); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if err := c.Typing(ctx, "lobby"); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Typing after Close: %v", err)
	}
	if err := c.SendRaw(ctx, []byte(`{}`)); !errors.Is(err, client.ErrClosed) {
		t.Errorf("SendRaw after Close: %v", err)
	}
	if code := <-closed; code != websocket.StatusNormalClosure {
		t.Errorf("server saw %v, want 1000", code)
	}
}

// TestCloseUnblocksReader closes a client whose reader is blocked on a
// full Events channel; goleak checks that it ended.
func TestCloseUnblocksReader(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		for i := range 5 {
			s.write(fmt.Sprintf(`{"type":"message","room":"r","seq":%d}`, i+1))
		}
		s.waitClose()
	})
	c := dial(t, f, &client.Options{Name: "Ada", EventBuffer: 1})
	for len(c.Events()) < 1 {
		time.Sleep(time.Millisecond)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if evs := drain(t, c); len(evs) != 1 {
		t.Errorf("drained %d events after Close, want the 1 buffered", len(evs))
	}
}

func TestServerClose(t *testing.T) {
	for _, tc := range []struct {
		code   websocket.StatusCode
		reason string
	}{
		{1001, "restarting"},
		{1009, "frame larger than 16384 bytes"},
		{4000, "too slow"},
		{4001, "replaced"},
	} {
		t.Run(strconv.Itoa(int(tc.code)), func(t *testing.T) {
			got := make(chan struct{})
			f := newFakeServer(t, func(s *sconn) {
				s.hello()
				s.read("rooms")
				close(got)
				s.write(`{"type":"message","room":"r","seq":1}`)
				s.closeWith(tc.code, tc.reason)
			})
			c := dial(t, f, nil)
			callErr := make(chan error, 1)
			go func() {
				_, _, err := c.Rooms(testCtx(t), "", 0)
				callErr <- err
			}()
			<-got
			if evs := drain(t, c); len(evs) != 1 || evs[0].Seq != 1 {
				t.Errorf("events before the close: %+v", evs)
			}
			var ce *client.CloseError
			if !errors.As(c.Err(), &ce) || ce.Code != int(tc.code) || ce.Reason != tc.reason || !ce.Remote {
				t.Errorf("Err = %v, want CloseError %d %q from the server", c.Err(), tc.code, tc.reason)
			}
			if c.CloseCode() != int(tc.code) {
				t.Errorf("CloseCode = %d", c.CloseCode())
			}
			if err := <-callErr; !errors.As(err, &ce) || ce.Code != int(tc.code) {
				t.Errorf("pending call: %v", err)
			}
			if _, err := c.Send(testCtx(t), "r", "x"); !errors.As(err, &ce) || ce.Code != int(tc.code) {
				t.Errorf("call after the close: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close after the server closed: %v", err)
			}
			if c.CloseCode() != int(tc.code) {
				t.Errorf("CloseCode after Close = %d", c.CloseCode())
			}
		})
	}
}

// TestBackpressure checks that a slow consumer loses nothing: the client
// stops reading instead of dropping events, until the server gives up.
func TestBackpressure(t *testing.T) {
	const n = 50
	sent := make(chan struct{})
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		for i := 1; i <= n; i++ {
			s.write(fmt.Sprintf(`{"type":"message","room":"r","seq":%d,"text":"m"}`, i))
		}
		close(sent)
		s.closeWith(4000, "too slow")
	})
	c := dial(t, f, &client.Options{Name: "Ada", EventBuffer: 2})
	<-sent
	evs := drain(t, c)
	if len(evs) != n {
		t.Fatalf("got %d events, want %d", len(evs), n)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	if c.CloseCode() != 4000 {
		t.Errorf("CloseCode = %d, Err = %v; want 4000", c.CloseCode(), c.Err())
	}
}

func TestAbnormalClose(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		s.ws.CloseNow() // no close frame
	})
	c := dial(t, f, nil)
	drain(t, c)
	var ce *client.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != client.CloseAbnormal || ce.Remote || ce.Err == nil {
		t.Errorf("Err = %#v, want CloseError 1006 with a cause", c.Err())
	}
}

func TestTypingAndErrorEvents(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		ty := s.read("typing")
		if ty.has("id") || ty.str("room") != "lobby" {
			s.fail("typing frame %s", ty.raw)
		}
		s.write(`{"type":"error","code":"not_member","message":"join the room first"}`)
		s.waitClose()
	})
	c := dial(t, f, nil)
	if err := c.Typing(testCtx(t), "lobby"); err != nil {
		t.Fatal(err)
	}
	ev := next(t, c)
	if ev.Type != "error" || ev.ID != nil || !errors.Is(ev.Err(), chatfly.ErrNotMember) {
		t.Errorf("event %+v (Err %v), want a not_member error event", ev, ev.Err())
	}
	if err := (client.Event{Type: "message"}).Err(); err != nil {
		t.Errorf("Err of a message = %v", err)
	}
}

func TestSendRaw(t *testing.T) {
	frames := []string{`{"action":"bogus","id":"r1"}`, `not json at all`}
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		for _, want := range frames {
			if got := string(s.readRaw()); got != want {
				s.fail("raw frame %q, want %q", got, want)
			}
		}
		s.write(`{"type":"error","id":"r1","code":"unknown_action","message":"?"}`, `{"type":"error","code":"bad_json","message":"?"}`)
		s.waitClose()
	})
	c := dial(t, f, nil)
	for _, fr := range frames {
		if err := c.SendRaw(testCtx(t), []byte(fr)); err != nil {
			t.Fatal(err)
		}
	}
	if ev := next(t, c); string(ev.ID) != `"r1"` || !errors.Is(ev.Err(), chatfly.ErrUnknownAction) {
		t.Errorf("reply to raw frame %+v", ev)
	}
	if ev := next(t, c); ev.ID != nil || !errors.Is(ev.Err(), chatfly.ErrBadJSON) {
		t.Errorf("error event %+v", ev)
	}
}

func TestDo(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		r := s.read("roulette.join")
		if r.str("mode") != "text" || string(r.m["tags"]) != `["go","chess"]` || r.id() != "2" {
			s.fail("roulette.join frame %s", r.raw)
		}
		s.write(reply(r, "roulette.waiting", `"position":3`))
		r = s.read("roulette.leave")
		if len(r.m) != 2 {
			s.fail("frame without fields: %s", r.raw)
		}
		s.write(reply(r, "ok", ""))
		r = s.read("game.move")
		if string(r.raw) != `{"action":"game.move","id":4,"x":1}` {
			s.fail("struct fields: %s", r.raw)
		}
		s.write(reply(r, "game.moved", ""))
		s.waitClose()
	})
	c := dial(t, f, nil)
	ctx := testCtx(t)
	ev, err := c.Do(ctx, "roulette.join", map[string]any{"mode": "text", "tags": []string{"go", "chess"}})
	if err != nil || ev.Type != "roulette.waiting" {
		t.Fatalf("Do = %+v, %v", ev, err)
	}
	var w struct{ Position int }
	if err := json.Unmarshal(ev.Raw, &w); err != nil || w.Position != 3 {
		t.Errorf("decode reply: %+v %v", w, err)
	}
	if ev, err := c.Do(ctx, "roulette.leave", nil); err != nil || ev.Type != "ok" {
		t.Errorf("Do without fields = %+v, %v", ev, err)
	}
	for _, bad := range []any{[]int{1}, 5, map[string]int{"id": 9}, map[string]string{"action": "x"}, func() {}} {
		if _, err := c.Do(ctx, "game.move", bad); err == nil {
			t.Errorf("Do with fields %T %v: no error", bad, bad)
		}
	}
	if ev, err := c.Do(ctx, "game.move", struct {
		X int `json:"x"`
	}{1}); err != nil || ev.Type != "game.moved" {
		t.Errorf("Do with a struct = %+v, %v", ev, err)
	}
}

func TestRequests(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()

		r := s.read("rooms")
		if r.has("cursor") || r.has("limit") {
			s.fail("rooms %s", r.raw)
		}
		s.write(reply(r, "rooms", `"rooms":[{"id":"lobby","name":"Lobby","topic":"Say hi","public":true,"members":2,"seq":41},{"id":"random","name":"Random","public":true,"members":0,"seq":0}],"next":"p2"`))

		r = s.read("rooms")
		if r.str("cursor") != "p2" || string(r.m["limit"]) != "5" {
			s.fail("rooms %s", r.raw)
		}
		s.write(reply(r, "rooms", `"rooms":[{"id":"games","name":"Games","public":true,"members":0,"seq":0}]`))

		r = s.read("room.info")
		if r.str("room") != "q2V7" {
			s.fail("room.info %s", r.raw)
		}
		s.write(reply(r, "room.info", `"room":{"id":"q2V7","name":"Book club","public":false,"members":3,"seq":12,"active":1767225600000,"custom":true}`))

		r = s.read("join")
		if r.str("room") != "lobby" || r.has("after") {
			s.fail("join %s", r.raw)
		}
		s.write(reply(r, "joined", `"room":{"id":"lobby","name":"Lobby","topic":"Say hi","public":true,"members":2,"seq":43},`+
			`"members":[{"id":"k3J9","name":"Ada"},{"id":"Qx0","name":"Lin"}],`+
			`"history":[{"type":"message","room":"lobby","seq":42,"from":{"id":"Qx0","name":"Lin"},"text":"hi","ts":1767225600000},{"seq":43,"text":"yo","ts":1767225600001,"system":true}]`))

		r = s.read("join")
		if string(r.m["after"]) != "41" {
			s.fail("join after %s", r.raw)
		}
		s.write(reply(r, "joined", `"room":{"id":"lobby"},"members":[],"history":[]`))

		r = s.read("send")
		if r.str("room") != "lobby" || r.str("text") != "say \"hi\"\n\t<&> ☺" {
			s.fail("send %s", r.raw)
		}
		s.write(reply(r, "sent", `"room":"lobby","seq":44`))

		r = s.read("history")
		if string(r.m["before"]) != "42" || string(r.m["limit"]) != "20" {
			s.fail("history %s", r.raw)
		}
		s.write(reply(r, "history", `"room":"lobby","messages":[{"type":"message","seq":22,"from":{"id":"a","name":"A"},"text":"old","ts":5}],"more":true`))

		r = s.read("history")
		if r.has("before") || r.has("limit") {
			s.fail("history %s", r.raw)
		}
		s.write(reply(r, "history", `"room":"lobby","messages":[],"more":false`))

		r = s.read("leave")
		s.write(reply(r, "left", `"room":"lobby"`))

		r = s.read("ping")
		s.write(reply(r, "pong", `"ts":1767225600000`))

		r = s.read("leave")
		s.write(reply(r, "ok", "")) // wrong reply type
		s.waitClose()
	})
	c := dial(t, f, nil)
	ctx := testCtx(t)

	rooms, next, err := c.Rooms(ctx, "", 0)
	if err != nil || len(rooms) != 2 || rooms[0] != (chatfly.RoomInfo{ID: "lobby", Name: "Lobby", Topic: "Say hi", Public: true, Members: 2, Seq: 41}) || next != "p2" {
		t.Fatalf("Rooms = %+v, %q, %v", rooms, next, err)
	}
	rooms, next, err = c.Rooms(ctx, next, 5)
	if err != nil || len(rooms) != 1 || rooms[0].ID != "games" || next != "" {
		t.Fatalf("Rooms page 2 = %+v, %q, %v", rooms, next, err)
	}
	info, err := c.RoomInfo(ctx, "q2V7")
	if err != nil || info != (chatfly.RoomInfo{ID: "q2V7", Name: "Book club", Members: 3, Seq: 12, Active: 1767225600000, Custom: true}) {
		t.Fatalf("RoomInfo = %+v, %v", info, err)
	}

	j, err := c.Join(ctx, "lobby", 0)
	if err != nil {
		t.Fatal(err)
	}
	if j.Room.Seq != 43 || len(j.Members) != 2 || j.Members[1].Name != "Lin" || len(j.History) != 2 {
		t.Fatalf("Joined = %+v", j)
	}
	h0, h1 := j.History[0], j.History[1]
	if h0.Type != "message" || h0.Seq != 42 || h0.From.Name != "Lin" || h0.Text != "hi" || !h0.Time().Equal(time.UnixMilli(1767225600000)) {
		t.Errorf("history[0] = %+v", h0)
	}
	if h1.Type != "message" || h1.Room != "lobby" || !h1.System || len(h1.Raw) == 0 {
		t.Errorf("history[1] = %+v (type and room are filled in)", h1)
	}
	if m := h0.Message(); m.Seq != 42 || m.Room != "lobby" || m.From.ID != "Qx0" || m.Time.UnixMilli() != 1767225600000 {
		t.Errorf("Message() = %+v", m)
	}
	if _, err := c.Join(ctx, "lobby", 41); err != nil {
		t.Fatal(err)
	}

	seq, err := c.Send(ctx, "lobby", "say \"hi\"\n\t<&> ☺")
	if err != nil || seq != 44 {
		t.Fatalf("Send = %d, %v", seq, err)
	}

	msgs, more, err := c.History(ctx, "lobby", 42, 20)
	if err != nil || !more || len(msgs) != 1 || msgs[0].Seq != 22 || msgs[0].Room != "lobby" {
		t.Fatalf("History = %+v, %v, %v", msgs, more, err)
	}
	if msgs, more, err := c.History(ctx, "lobby", 0, 0); err != nil || more || len(msgs) != 0 {
		t.Fatalf("History = %+v, %v, %v", msgs, more, err)
	}

	if err := c.Leave(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Leave(ctx, "lobby"); err == nil || !strings.Contains(err.Error(), `"ok"`) {
		t.Errorf("Leave with a wrong reply type: %v", err)
	}
}

func TestProtocolViolation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		send  func(s *sconn)
		code  int
		cause string
	}{
		{"not JSON", func(s *sconn) { s.write(`{"type":"message"}`, `<html>`) }, client.CloseProtocolError, "invalid JSON"},
		{"no type", func(s *sconn) { s.write(`{"room":"lobby"}`) }, client.CloseProtocolError, "without type"},
		{"array", func(s *sconn) { s.write(`[1,2]`) }, client.CloseProtocolError, "not an object"},
		{"binary", func(s *sconn) { s.ws.Write(s.ctx, websocket.MessageBinary, []byte(`{"type":"x"}`)) }, client.CloseUnsupportedData, "binary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closed := make(chan websocket.StatusCode, 1)
			f := newFakeServer(t, func(s *sconn) {
				s.hello()
				tc.send(s)
				closed <- s.waitClose()
			})
			c := dial(t, f, nil)
			drain(t, c)
			var ce *client.CloseError
			if !errors.As(c.Err(), &ce) || ce.Code != tc.code || ce.Remote || !strings.Contains(c.Err().Error(), tc.cause) {
				t.Errorf("Err = %v, want CloseError %d mentioning %q", c.Err(), tc.code, tc.cause)
			}
			if code := <-closed; int(code) != tc.code {
				t.Errorf("server saw %v, want %d", code, tc.code)
			}
		})
	}
}

func TestReadLimit(t *testing.T) {
	closed := make(chan websocket.StatusCode, 1)
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		s.write(`{"type":"message","text":"` + strings.Repeat("x", 300) + `"}`)
		closed <- s.waitClose()
	})
	c := dial(t, f, &client.Options{Name: "Ada", ReadLimit: 256})
	drain(t, c)
	if c.CloseCode() != 1009 {
		t.Errorf("CloseCode = %d (%v), want 1009", c.CloseCode(), c.Err())
	}
	if code := <-closed; code != websocket.StatusMessageTooBig {
		t.Errorf("server saw %v, want 1009", code)
	}
}

func TestKeepalive(t *testing.T) {
	pinged := make(chan struct{})
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		for range 3 {
			p := s.read("ping")
			s.write(reply(p, "pong", `"ts":1`))
		}
		close(pinged)
		s.waitClose()
	})
	c := dial(t, f, &client.Options{Name: "Ada", PingInterval: 5 * time.Millisecond})
	<-pinged
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Pongs are replies: nothing shows up as an event.
	if evs := drain(t, c); len(evs) != 0 {
		t.Errorf("events %+v", evs)
	}
}

func TestEventUnmarshalJSON(t *testing.T) {
	var evs []client.Event
	data := `[{"type":"message","room":"r","seq":3,"from":{"id":"a","name":"A"},"text":"x","ts":9}, null, {"type":"typing","member":{"id":"b"}}]`
	if err := json.Unmarshal([]byte(data), &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Seq != 3 || evs[0].From.Name != "A" || string(evs[0].Raw) != `{"type":"message","room":"r","seq":3,"from":{"id":"a","name":"A"},"text":"x","ts":9}` ||
		evs[1].Type != "" || evs[2].Member.ID != "b" {
		t.Errorf("decoded %+v", evs)
	}
	var ev client.Event
	if err := json.Unmarshal([]byte(`{"type":"message","seq":1.5e3}`), &ev); err != nil || ev.Seq != 0 {
		t.Errorf("a float seq: %+v, %v (want it ignored)", ev, err)
	}
	if err := ev.UnmarshalJSON([]byte(`{"type":`)); err == nil {
		t.Error("no error for truncated JSON")
	}
}

func TestWriteTimeout(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		<-s.ctx.Done() // stop reading
	})
	c := dial(t, f, &client.Options{Name: "Ada", WriteTimeout: 200 * time.Millisecond})
	big := []byte(`{"action":"x","pad":"` + strings.Repeat("x", 1<<20) + `"}`)
	var err error
	for range 1000 {
		if err = c.SendRaw(testCtx(t), big); err != nil {
			break
		}
	}
	if !errors.Is(err, client.ErrWriteTimeout) {
		t.Fatalf("SendRaw error %v, want ErrWriteTimeout", err)
	}
	drain(t, c)
	var ce *client.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != client.CloseAbnormal || !errors.Is(ce, client.ErrWriteTimeout) {
		t.Errorf("Err = %v, want CloseError 1006 caused by ErrWriteTimeout", c.Err())
	}
}

// BenchmarkReceive measures the whole receive path over a loopback
// WebSocket: the server writes frames of 8 coalesced message events and the
// consumer ranges over Events.
func BenchmarkReceive(b *testing.B) {
	const perFrame = 8
	var lines []string
	for i := range perFrame {
		lines = append(lines, fmt.Sprintf(`{"type":"message","room":"lobby","seq":%d,"from":{"id":"k3J9xQ2m","name":"Ada"},"text":"message number %d with a little text in it","ts":1767225600000}`, i, i))
	}
	frame := []byte(strings.Join(lines, "\n"))
	frames := make(chan int)
	f := newFakeServer(b, func(s *sconn) {
		s.hello()
		for n := range frames {
			for range n {
				if err := s.ws.Write(s.ctx, websocket.MessageText, frame); err != nil {
					return
				}
			}
		}
		s.waitClose()
	})
	c, err := client.Dial(testCtx(b), f.URL, &client.Options{Name: "Ada"})
	if err != nil {
		close(frames)
		b.Fatal(err)
	}
	defer func() {
		b.StopTimer()
		close(frames) // the server goes on to read the close frame
		c.Close()
	}()
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	frames <- b.N
	for range b.N * perFrame {
		if ev := <-c.Events(); ev.Type != "message" {
			b.Fatalf("event %+v, %v", ev, c.Err())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perFrame), "ns/event")
}

// API Gateway closes every connection with 1000; a host announces the real
// code in a "close" frame first, and the client reports that code.
func TestCloseFrameCode(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		s.write(`{"type":"close","code":1001,"reason":"session state lost, reconnect"}`)
		s.closeWith(websocket.StatusNormalClosure, "")
	})
	c := dial(t, f, nil)
	drain(t, c)
	var ce *client.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != 1001 || ce.Reason != "session state lost, reconnect" || c.CloseCode() != 1001 {
		t.Fatalf("Err = %v, code %d; want the close frame's 1001", c.Err(), c.CloseCode())
	}
}
