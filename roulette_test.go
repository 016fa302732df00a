package chatfly_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

func partnerOf(ev map[string]any) string {
	return ev["partner"].(map[string]any)["name"].(string)
}

func TestRoulettePairChatNextRematch(t *testing.T) {
	th := newTestHub(t, nil)
	a, _ := th.hello("Ada")
	b, _ := th.hello("Bob")
	c, _ := th.hello("Cy")
	if r := th.reply(a, `{"action":"roulette.join","id":1}`); r["type"] != "roulette.waiting" {
		t.Fatalf("first joiner: %v", r)
	}
	r := th.reply(b, `{"action":"roulette.join","id":1}`)
	if r["type"] != "roulette.matched" || partnerOf(r) != "Ada" {
		t.Fatalf("second joiner: %v", r)
	}
	room := r["room"].(string)
	ev := ofType(th.tr.take(a), "roulette.matched")
	if len(ev) != 1 || partnerOf(ev[0]) != "Bob" || ev[0]["room"] != room {
		t.Fatalf("Ada's match event: %v", ev)
	}
	// They chat in the pair room; nobody else can get in.
	th.reply(a, `{"action":"send","id":1,"room":"`+room+`","text":"hi stranger"}`)
	if m := ofType(th.tr.take(b), "message"); len(m) != 1 || m[0]["text"] != "hi stranger" {
		t.Fatalf("Bob got %v", m)
	}
	th.wantError(c, `{"action":"join","room":"`+room+`"}`, "not_found")

	// Cy waits; Bob presses next: Ada is told, Bob is paired with Cy (not
	// Ada again, although she is free).
	th.reply(c, `{"action":"roulette.join","id":1}`)
	th.tr.take(c)
	r = th.reply(b, `{"action":"roulette.next","id":2}`)
	if r["type"] != "roulette.matched" || partnerOf(r) != "Cy" {
		t.Fatalf("Bob after next: %v", r)
	}
	if e := ofType(th.tr.take(a), "roulette.ended"); len(e) != 1 || e[0]["reason"] != "next" || e[0]["room"] != room {
		t.Fatalf("Ada after Bob's next: %v", e)
	}
	th.wantError(a, `{"action":"send","room":"`+room+`","text":"hello?"}`, "not_member")

	// A disconnect ends the pair for the other side.
	if err := th.hub.Disconnect(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if e := ofType(th.tr.take(b), "roulette.ended"); len(e) != 1 || e[0]["reason"] != "disconnected" {
		t.Fatalf("Bob after Cy disconnected: %v", e)
	}
	// Now Ada and Bob may meet again: nobody else is waiting.
	th.reply(a, `{"action":"roulette.join","id":1}`)
	if r := th.reply(b, `{"action":"roulette.join","id":1}`); r["type"] != "roulette.matched" || partnerOf(r) != "Ada" {
		t.Fatalf("rematch when nobody else waits: %v", r)
	}
	if r := th.reply(b, `{"action":"roulette.leave","id":1}`); r["type"] != "roulette.left" {
		t.Fatalf("leave: %v", r)
	}
	if e := ofType(th.tr.take(a), "roulette.ended"); len(e) != 1 || e[0]["reason"] != "left" {
		t.Fatalf("Ada after Bob left: %v", e)
	}
}

func TestRouletteInterestsAndFallback(t *testing.T) {
	th := newTestHub(t, nil)
	goFan, _ := th.hello("Gopher")
	rustFan, _ := th.hello("Crab")
	other, _ := th.hello("Other")
	noTags, _ := th.hello("Plain")
	th.reply(goFan, `{"action":"roulette.join","id":1,"interests":["Go"," music "]}`)
	th.reply(rustFan, `{"action":"roulette.join","id":1,"interests":["rust"]}`)
	r := th.reply(other, `{"action":"roulette.join","id":1,"interests":["music","chess"]}`)
	if r["type"] != "roulette.matched" || partnerOf(r) != "Gopher" || r["shared"].([]any)[0] != "music" {
		t.Fatalf("shared interest first: %v", r)
	}
	// Crab has waited less than the fallback: Plain, without interests,
	// waits too.
	if r := th.reply(noTags, `{"action":"roulette.join","id":1}`); r["type"] != "roulette.waiting" {
		t.Fatalf("before the fallback: %v", r)
	}
	th.clock.Advance(11 * time.Second)
	// A refresh (the client re-sends join while waiting) pairs them.
	if r := th.reply(rustFan, `{"action":"roulette.join","id":1,"interests":["rust"]}`); r["type"] != "roulette.matched" || partnerOf(r) != "Plain" {
		t.Fatalf("after the fallback: %v", r)
	}
	fresh, _ := th.hello("Fresh")
	th.wantError(fresh, `{"action":"roulette.join","interests":["a","b","c","d","e","f"]}`, "bad_request")
}

func TestRouletteExpiredEntriesNeverMatched(t *testing.T) {
	th := newTestHub(t, nil)
	gone, _ := th.hello("Ghost")
	th.reply(gone, `{"action":"roulette.join","id":1}`)
	// Ghost's connection vanished without a disconnect; nobody refreshes
	// its entry.
	th.clock.Advance(61 * time.Second)
	b, _ := th.hello("Bob")
	if r := th.reply(b, `{"action":"roulette.join","id":1}`); r["type"] != "roulette.waiting" {
		t.Fatalf("matched with an expired entry: %v", r)
	}
	// An entry that is refreshed keeps its place (oldest first).
	c, _ := th.hello("Cy")
	th.clock.Advance(40 * time.Second)
	th.reply(b, `{"action":"roulette.join","id":1}`) // refresh
	th.clock.Advance(40 * time.Second)
	if r := th.reply(c, `{"action":"roulette.join","id":1}`); r["type"] != "roulette.matched" || partnerOf(r) != "Bob" {
		t.Fatalf("refreshed waiter: %v", r)
	}
}

// A custom Matcher: the Options.Matcher plug point.
func TestCustomMatcherRule(t *testing.T) {
	th := newTestHub(t, nil)
	sameInitial := func(a, b chatfly.Waiter) bool { return a.Name[0] == b.Name[0] }
	hub := chatfly.New(th.store, th.tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Now: th.clock.Now, Matcher: chatfly.NewMatcher(th.store, &chatfly.MatcherOptions{Compatible: sameInitial, Now: th.clock.Now})})
	th.hub = hub
	a, _ := th.hello("Ann")
	b, _ := th.hello("Bob")
	a2, _ := th.hello("Alf")
	th.reply(a, `{"action":"roulette.join","id":1}`)
	if r := th.reply(b, `{"action":"roulette.join","id":1}`); r["type"] != "roulette.waiting" {
		t.Fatalf("Bob matched despite the rule: %v", r)
	}
	if r := th.reply(a2, `{"action":"roulette.join","id":1}`); r["type"] != "roulette.matched" || partnerOf(r) != "Ann" {
		t.Fatalf("Alf: %v", r)
	}
}

// A session that leaves and joins again while another Hub is still
// recording its pairing is not queued a second time.
func TestRouletteLeaveDuringPairing(t *testing.T) {
	th := newTestHub(t, nil)
	m := chatfly.NewMatcher(th.store, &chatfly.MatcherOptions{Now: th.clock.Now})
	th.hub = chatfly.New(th.store, th.tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Now: th.clock.Now, Matcher: m})
	s, ws := th.hello("Sue")
	th.reply(s, `{"action":"roulette.join","id":1}`)
	// Another Hub pairs Sue with Tom but has not recorded the pair yet.
	match, _, err := m.Match(context.Background(), chatfly.Waiter{Session: "tom-session", Conn: "tom-conn", Name: "Tom"})
	if err != nil || match == nil || match.B.Session != ws["session"] {
		t.Fatalf("Match: %+v, %v", match, err)
	}
	th.reply(s, `{"action":"roulette.leave","id":2}`)
	th.reply(s, `{"action":"roulette.join","id":3}`)
	ann, _ := th.hello("Ann")
	if r := th.reply(ann, `{"action":"roulette.join","id":1}`); r["type"] != "roulette.waiting" {
		t.Fatalf("Ann after Sue's leave+join during a pairing: %v; Sue would be paired twice", r)
	}
	// Once the pairing is recorded and over, Sue queues normally again.
	if err := m.Done(context.Background(), match.A.Session, match.B.Session); err != nil {
		t.Fatal(err)
	}
	if r := th.reply(s, `{"action":"roulette.join","id":4}`); r["type"] != "roulette.matched" || partnerOf(r) != "Ann" {
		t.Fatalf("Sue after Done: %v, want Ann", r)
	}
}
