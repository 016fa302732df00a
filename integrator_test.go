package chatfly_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

// Without Options.Rooms a Hub has no default rooms: nothing is listed and
// "lobby" is an unknown room; DefaultRooms gives the three of the app.
func TestNoDefaultRoomsUnlessGiven(t *testing.T) {
	for _, rooms := range [][]chatfly.RoomConfig{nil, chatfly.DefaultRooms()} {
		tr := newRecTransport()
		hub := chatfly.New(memstore.New(nil), tr, &chatfly.Options{Rooms: rooms})
		th := &testHub{t: t, hub: hub, tr: tr}
		conn, _ := th.hello("Ada")
		list := th.reply(conn, `{"action":"rooms","id":1}`)["rooms"].([]any)
		if rooms == nil {
			require.Empty(t, list)
			th.wantError(conn, `{"action":"join","id":2,"room":"lobby"}`, "not_found")
			continue
		}
		require.Len(t, list, 3)
		require.Equal(t, "lobby", th.join(conn, "lobby")["room"].(map[string]any)["id"])
	}
}
