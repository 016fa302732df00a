package chatfly_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
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

// capabilityCases are the two Storages of the counting tests: memstore
// with its optional capabilities hidden (the Hub's fallbacks), and with
// them.
var capabilityCases = []struct {
	name string
	wrap func(*memstore.Store) (chatfly.Storage, *countingStore)
}{
	{"fallbacks", func(m *memstore.Store) (chatfly.Storage, *countingStore) {
		cs := newCountingStore(m)
		return cs, cs // a countingStore hides the capabilities
	}},
	{"capabilities", func(m *memstore.Store) (chatfly.Storage, *countingStore) {
		cs := newCountingStore(m)
		return cs.Storage(), cs
	}},
}

// callsOf returns the number of calls in counts.
func callsOf(counts map[string]int) int {
	n := 0
	for op, c := range counts {
		if op != "items" {
			n += c
		}
	}
	return n
}

// A presence refresh (the first frame a third of PresenceTTL after the
// last) keeps a member in every room past the expiry it had, and costs a
// constant number of calls plus a few per room (three conditional touches
// with the capabilities, two reads and three writes without); a ping that
// is not due costs Hub.Receive's prelude only.
func TestPresenceRefresh(t *testing.T) {
	const ttl = 30 * time.Minute
	limits := map[string][2]int{"fallbacks": {12, 5}, "capabilities": {9, 3}} // one room, per room
	for _, cc := range capabilityCases {
		t.Run(cc.name, func(t *testing.T) {
			cost := map[int]int{}
			for _, n := range []int{1, 3} {
				th := newTestHub(t, &chatfly.Options{PresenceTTL: ttl})
				st, cs := cc.wrap(th.store)
				th.hub = chatfly.New(st, th.tr, &chatfly.Options{PresenceTTL: ttl, Rooms: chatfly.DefaultRooms(), Now: th.clock.Now})
				ada, _ := th.hello("Ada")
				for _, room := range threeRooms[:n] {
					th.join(ada, room)
				}
				cs.take()
				th.reply(ada, `{"action":"ping","id":1}`)
				assert.Equal(t, 2, callsOf(cs.take()), "a ping that refreshes nothing: the record and the rate counter")

				th.clock.Advance(ttl / 2)
				th.reply(ada, `{"action":"ping","id":1}`)
				refresh := cs.take()
				cost[n] = callsOf(refresh)
				t.Logf("refresh in %d rooms: %v", n, refresh)
				assert.Equal(t, 1, refresh["Query"], "one listing of the session's rooms")

				th.clock.Advance(ttl * 2 / 3) // past the expiry before the refresh
				for _, room := range threeRooms[:n] {
					assert.Equal(t, []string{"Ada"}, th.members(room), room)
				}
				th.clock.Advance(ttl / 2) // past the refreshed one
				assert.Empty(t, th.members("lobby"))
			}
			assert.LessOrEqual(t, cost[1], limits[cc.name][0], "calls in one room: %v", cost)
			assert.LessOrEqual(t, (cost[3]-cost[1])/2, limits[cc.name][1], "calls per room: %v", cost)
		})
	}
}

// A disconnect leaves every room (the others see it leave) with a
// constant number of calls besides each room's leave; with the
// capabilities, the session's current-connection item goes without a
// read.
func TestDisconnectCalls(t *testing.T) {
	for _, cc := range capabilityCases {
		t.Run(cc.name, func(t *testing.T) {
			cost := map[int]int{}
			for _, n := range []int{1, 3} {
				th := newTestHub(t, nil)
				st, cs := cc.wrap(th.store)
				th.hub = chatfly.New(st, th.tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Now: th.clock.Now})
				ada, _ := th.hello("Ada")
				bob, _ := th.hello("Bob")
				for _, room := range threeRooms[:n] {
					th.join(ada, room)
					th.join(bob, room)
				}
				th.tr.take(bob)
				cs.take()
				require.NoError(t, th.hub.Disconnect(context.Background(), ada))
				counts := cs.take()
				cost[n] = callsOf(counts)
				t.Logf("disconnect from %d rooms: %v", n, counts)
				assert.Len(t, ofType(th.tr.take(bob), "presence"), n, "Bob sees Ada leave each room")
				for _, room := range threeRooms[:n] {
					assert.Equal(t, []string{"Bob"}, th.members(room), room)
				}
				require.NoError(t, th.hub.Disconnect(context.Background(), ada), "idempotent")
			}
			perRoom := (cost[3] - cost[1]) / 2
			assert.LessOrEqual(t, cost[1]-perRoom, 7, "calls besides the rooms: %v", cost)
		})
	}
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
