package chatfly_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
)

var threeRooms = []string{"lobby", "random", "games"}

// members returns the names of the members of room.
func (th *testHub) members(room string) []string {
	th.t.Helper()
	r, err := th.hub.Room(context.Background(), room)
	require.NoError(th.t, err)
	ms, err := r.Members(context.Background())
	require.NoError(th.t, err)
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	return names
}

// A presence refresh (the first frame a third of PresenceTTL after the
// last) keeps a member in every room past the expiry it had, and costs a
// constant number of calls plus a few per room, whatever the Storage
// offers; a ping that is not due costs the prelude only.
func TestPresenceRefresh(t *testing.T) {
	const ttl = 30 * time.Minute
	perRoom := map[int]int{}
	for _, n := range []int{1, 3} {
		th := newTestHub(t, &chatfly.Options{PresenceTTL: ttl})
		cs := newCountingStore(th.store)
		th.hub = chatfly.New(cs, th.tr, &chatfly.Options{PresenceTTL: ttl, Rooms: chatfly.DefaultRooms(), Now: th.clock.Now})
		ada, _ := th.hello("Ada")
		for _, room := range threeRooms[:n] {
			th.join(ada, room)
		}
		cs.take()
		th.reply(ada, `{"action":"ping","id":1}`)
		calls, _ := cs.totals()
		assert.Equal(t, 2, calls, "a ping that refreshes nothing: the record and the rate counter")

		th.clock.Advance(ttl / 2)
		th.reply(ada, `{"action":"ping","id":1}`)
		refresh := cs.take()
		delete(refresh, "items")
		perRoom[n] = 0
		for _, c := range refresh {
			perRoom[n] += c
		}
		t.Logf("refresh in %d rooms: %v", n, refresh)
		assert.Equal(t, 1, refresh["Query"], "one listing of the session's rooms")

		th.clock.Advance(ttl * 2 / 3) // past the expiry before the refresh
		for _, room := range threeRooms[:n] {
			assert.Equal(t, []string{"Ada"}, th.members(room), room)
		}
		th.clock.Advance(ttl / 2) // past the refreshed one
		assert.Empty(t, th.members("lobby"))
	}
	assert.LessOrEqual(t, (perRoom[3]-perRoom[1])/2, 5, "calls per room: %v", perRoom)
	assert.LessOrEqual(t, perRoom[1], 12, "calls in one room: %v", perRoom)
}

// A refresh extends only what is still the connection's own: once its
// session has moved to a new connection (a resume), the old connection's
// frames keep its own record alive but not the session's presence, which
// the new connection holds.
func TestPresenceRefreshOnlyOwnItems(t *testing.T) {
	const ttl = 30 * time.Minute
	th := newTestHub(t, &chatfly.Options{PresenceTTL: ttl})
	old, w := th.hello("Ada")
	th.join(old, "lobby")
	resumed := th.connect()
	th.reply(resumed, `{"action":"hello","id":1,"token":"`+w["token"].(string)+`"}`)
	th.join(resumed, "lobby")
	require.Equal(t, chatfly.CloseReplaced, th.tr.closed[old])
	for range 5 {
		th.clock.Advance(ttl / 3)
		th.reply(old, `{"action":"ping","id":1}`) // refreshes
	}
	assert.Empty(t, th.members("lobby"), "the old connection's refreshes do not hold the moved membership")
	assert.Empty(t, th.do(resumed, `{"action":"ping","id":1}`))
	assert.Equal(t, chatfly.CloseGoingAway, th.tr.closed[resumed], "the silent connection's state expired")
}
