package e2e_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/storage/memstore"
)

type rouletteReply struct {
	Type    string `json:"type"`
	Room    string `json:"room"`
	Partner struct {
		ID, Name string
	} `json:"partner"`
	Reason string `json:"reason"`
}

func roulette(t *testing.T, c *client.Client, action string) rouletteReply {
	t.Helper()
	ev, err := c.Do(ctx(t), action, map[string]any{})
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	var r rouletteReply
	if err := json.Unmarshal(ev.Raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func decode(t *testing.T, ev client.Event) rouletteReply {
	t.Helper()
	var r rouletteReply
	if err := json.Unmarshal(ev.Raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Two clients are matched, chat in their pair room, one presses next and is
// matched with a third while the other is told the chat ended.
func TestRouletteOverWebSocket(t *testing.T) {
	s := startServer(t, serverConfig{})
	ann, bo, cy := s.dial("Ann", nil), s.dial("Bo", nil), s.dial("Cy", nil)
	if r := roulette(t, ann, "roulette.join"); r.Type != "roulette.waiting" {
		t.Fatalf("Ann: %+v", r)
	}
	r := roulette(t, bo, "roulette.join")
	if r.Type != "roulette.matched" || r.Partner.Name != "Ann" {
		t.Fatalf("Bo: %+v", r)
	}
	m := decode(t, next(t, ann, "roulette.matched"))
	if m.Room != r.Room || m.Partner.Name != "Bo" {
		t.Fatalf("Ann's match: %+v", m)
	}
	if _, err := ann.Send(ctx(t), m.Room, "hello stranger"); err != nil {
		t.Fatal(err)
	}
	if msg := next(t, bo, "message"); msg.Text != "hello stranger" || msg.Room != r.Room {
		t.Fatalf("Bo got %+v", msg)
	}

	if r := roulette(t, cy, "roulette.join"); r.Type != "roulette.waiting" {
		t.Fatalf("Cy: %+v", r)
	}
	r2 := roulette(t, bo, "roulette.next")
	if r2.Type != "roulette.matched" || r2.Partner.Name != "Cy" || r2.Room == r.Room {
		t.Fatalf("Bo after next: %+v", r2)
	}
	if e := decode(t, next(t, ann, "roulette.ended")); e.Reason != "next" || e.Room != r.Room {
		t.Fatalf("Ann after Bo's next: %+v", e)
	}
	if m := decode(t, next(t, cy, "roulette.matched")); m.Partner.Name != "Bo" {
		t.Fatalf("Cy: %+v", m)
	}
	if _, err := cy.Send(ctx(t), r2.Room, "hi Bo"); err != nil {
		t.Fatal(err)
	}
	if msg := next(t, bo, "message"); msg.Text != "hi Bo" {
		t.Fatalf("Bo got %+v", msg)
	}
	if _, err := ann.Send(ctx(t), r.Room, "still there?"); err == nil {
		t.Fatal("Ann could still send into the ended pair room")
	}
}

// The Go client asks again by itself when roulette.waiting's retry says:
// a waiter with an interest and one without, who only joined once each,
// are paired once the fallback comes due, and both hear of it on Events.
func TestRouletteClientAsksAgain(t *testing.T) {
	store := memstore.New(nil)
	matcher := chatfly.NewMatcher(store, &chatfly.MatcherOptions{FallbackAfter: 300 * time.Millisecond})
	s := startServer(t, serverConfig{store: store, hub: &chatfly.Options{Matcher: matcher}})
	ada, cy := s.dial("Ada", nil), s.dial("Cy", nil)
	r, err := ada.RouletteJoin(ctx(t), "Go")
	require.NoError(t, err)
	require.False(t, r.Matched)
	assert.Equal(t, []string{"go"}, r.Interests)
	assert.Equal(t, 300*time.Millisecond, r.Retry, "Ada is told to ask again when her fallback is due")
	r, err = cy.RouletteJoin(ctx(t))
	require.NoError(t, err)
	require.False(t, r.Matched, "Ada holds out for someone who likes Go")
	a, c := decode(t, next(t, ada, "roulette.matched")), decode(t, next(t, cy, "roulette.matched"))
	assert.Equal(t, "Cy", a.Partner.Name)
	assert.Equal(t, "Ada", c.Partner.Name)
	assert.Equal(t, a.Room, c.Room)
	// The pair works, and a next starts the asking again.
	_, err = ada.Send(ctx(t), a.Room, "hi")
	require.NoError(t, err)
	assert.Equal(t, "hi", next(t, cy, "message").Text)
	require.NoError(t, cy.RouletteLeave(ctx(t)))
	assert.Equal(t, "left", decode(t, next(t, ada, "roulette.ended")).Reason)
	bo := s.dial("Bo", nil)
	r, err = ada.RouletteNext(ctx(t), "go")
	require.NoError(t, err)
	require.False(t, r.Matched)
	r, err = bo.RouletteJoin(ctx(t), "chess")
	require.NoError(t, err)
	require.False(t, r.Matched)
	assert.Equal(t, "Bo", decode(t, next(t, ada, "roulette.matched")).Partner.Name)
	assert.Equal(t, "Ada", decode(t, next(t, bo, "roulette.matched")).Partner.Name)
}
