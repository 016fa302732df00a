package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

// The client asks the roulette again by itself when the server's retry
// says, with the interests the server queued it with: its own "still
// waiting" replies and a repeat of the pair it announced stay off Events,
// a new pair arrives there as roulette.matched, and an error answering
// its own ask arrives as an error event, after which it stops asking.
func TestRouletteAsksAgain(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		r := s.read("roulette.join")
		if string(r.m["interests"]) != `["Go"]` {
			s.fail("join frame %s", r.raw)
		}
		s.write(reply(r, "roulette.waiting", `"interests":["go"],"retry":5`))
		r = s.read("roulette.join") // the client's own ask
		if string(r.m["interests"]) != `["go"]` {
			s.fail("ask frame %s", r.raw)
		}
		s.write(reply(r, "roulette.waiting", `"interests":["go"],"retry":5`))
		r = s.read("roulette.join")
		s.write(reply(r, "roulette.matched", `"room":"rp-1","partner":{"id":"s2","name":"Cy"}`))
		// A waiting that crossed the match: the ask answers the same pair.
		s.write(`{"type":"roulette.waiting","retry":5}`)
		r = s.read("roulette.join")
		s.write(reply(r, "roulette.matched", `"room":"rp-1","partner":{"id":"s2","name":"Cy"}`))
		s.write(`{"type":"roulette.ended","room":"rp-1","reason":"next"}`)
		r = s.read("roulette.next")
		s.write(reply(r, "roulette.waiting", `"retry":5`))
		r = s.read("roulette.join")
		if r.has("interests") {
			s.fail("ask frame %s", r.raw)
		}
		s.write(errorReply(r, "too_many", "too many people from your network are waiting"))
		r = s.read("roulette.leave") // no further ask before it
		s.write(reply(r, "roulette.left", ""))
		s.waitClose()
	})
	c := dial(t, f, nil)
	ctx := testCtx(t)
	r, err := c.RouletteJoin(ctx, "Go")
	if err != nil || r.Matched || r.Retry != 5*time.Millisecond || len(r.Interests) != 1 {
		t.Fatalf("RouletteJoin = %+v, %v", r, err)
	}
	if ev := next(t, c); ev.Type != "roulette.matched" || ev.ID != nil {
		t.Fatalf("first event %+v %s, want the match", ev, ev.Raw)
	}
	if ev := next(t, c); ev.Type != "roulette.waiting" {
		t.Fatalf("event %s, want the late waiting", ev.Raw)
	}
	if ev := next(t, c); ev.Type != "roulette.ended" {
		t.Fatalf("event %s, want ended (the repeated pair dropped)", ev.Raw)
	}
	if r, err := c.RouletteNext(ctx); err != nil || r.Matched {
		t.Fatalf("RouletteNext = %+v, %v", r, err)
	}
	if ev := next(t, c); ev.Type != "error" || ev.ID != nil || !errors.Is(ev.Err(), chatfly.ErrTooMany) {
		t.Fatalf("event %s, want the ask's too_many", ev.Raw)
	}
	if err := c.RouletteLeave(ctx); err != nil {
		t.Fatal(err)
	}
}
