package chatfly_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
)

// Typing notices are coalesced: a session's typing in one room reaches the
// others at most once per TypingInterval (fixed windows, on the Hub's
// clock); other sessions and rooms have their own windows. The typing
// frame is accepted every time.
func TestTypingCoalesced(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{TypingInterval: 5 * time.Second})
	ada, _ := th.hello("Ada")
	bob, _ := th.hello("Bob")
	cy, _ := th.hello("Cy")
	for _, c := range []string{ada, bob, cy} {
		th.join(c, "lobby")
		th.join(c, "random")
	}
	th.tr.take(ada)
	th.tr.take(bob)
	th.tr.take(cy)
	typing := func(who, room string) {
		t.Helper()
		r := th.reply(who, `{"action":"typing","id":1,"room":"`+room+`"}`)
		require.Equal(t, "ok", r["type"])
	}
	seen := func() int { return len(ofType(th.tr.take(cy), "typing")) }

	typing(ada, "lobby") // the first of its window
	assert.Equal(t, 1, seen())
	th.clock.Advance(3 * time.Second) // the client's pace: every 3 s
	typing(ada, "lobby")
	assert.Equal(t, 0, seen(), "a second notice within the interval")
	typing(bob, "lobby")
	typing(ada, "random")
	assert.Equal(t, 2, seen(), "another session, another room")
	th.clock.Advance(3 * time.Second) // the next window
	typing(ada, "lobby")
	assert.Equal(t, 1, seen())
}

// In a room of more than TypingMaxMembers members typing notices are not
// sent, and cost no fan-out; at the limit they are.
func TestTypingMaxMembers(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{TypingMaxMembers: 3})
	var conns []string
	for i := range 4 {
		c, _ := th.hello("M" + strconv.Itoa(i))
		th.join(c, "lobby")
		conns = append(conns, c)
	}
	drain := func() {
		for _, c := range conns {
			th.tr.take(c)
		}
	}
	drain()
	th.reply(conns[0], `{"action":"typing","id":1,"room":"lobby"}`)
	for _, c := range conns[1:] {
		assert.Empty(t, ofType(th.tr.take(c), "typing"), "4 members, limit 3")
	}
	require.Equal(t, "left", th.reply(conns[3], `{"action":"leave","id":1,"room":"lobby"}`)["type"])
	drain()
	th.reply(conns[1], `{"action":"typing","id":1,"room":"lobby"}`)
	for _, c := range []string{conns[0], conns[2]} {
		assert.Len(t, ofType(th.tr.take(c), "typing"), 1, "3 members, limit 3")
	}
}
