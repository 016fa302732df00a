package chatfly_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
)

// The welcome advertises the server's limits, so that a client refuses
// what the server would refuse and paces itself; an unlimited rate is left
// out.
func TestWelcomeLimits(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{MaxFrameBytes: 9000, MaxTextRunes: 300, TypingInterval: 4 * time.Second,
		RateLimit: chatfly.RateLimit{Count: 7, Window: 3 * time.Second}})
	_, w := th.hello("Ada")
	require.Equal(t, map[string]any{
		"frameBytes": 9000.0, "textRunes": 300.0, "nameRunes": float64(chatfly.DefaultMaxNameRunes),
		"topicRunes": 200.0, "reasonRunes": 200.0, "eventBytes": float64(chatfly.DefaultMaxEventBytes),
		"historyPage": 100.0, "rooms": 10.0, "typingInterval": 4000.0,
		"rate": map[string]any{"count": 7.0, "window": 3000.0},
	}, w["limits"])

	th = newTestHub(t, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: -1}})
	_, w = th.hello("Ada")
	require.NotContains(t, w["limits"], "rate")
	require.Equal(t, float64(chatfly.DefaultMaxFrameBytes), w["limits"].(map[string]any)["frameBytes"])
}

// joined (and room.info) carry the room's stream epoch: absent while the
// room has no message, then the same for every message of the sequence's
// lifetime, and a new one once the sequence was wiped and started again
// (here its items are deleted, as a store that lost the room would have
// it), where seq alone could not tell (the new seq is past the old).
func TestRoomEpoch(t *testing.T) {
	th := newTestHub(t, nil)
	ada, _ := th.hello("Ada")
	j := th.join(ada, "lobby")
	require.NotContains(t, j["room"], "epoch", "no message yet")
	send := func(n int) {
		for range n {
			require.Equal(t, "sent", th.reply(ada, `{"action":"send","id":3,"room":"lobby","text":"hi"}`)["type"])
		}
	}
	epoch := func() any {
		info := th.reply(ada, `{"action":"room.info","id":4,"room":"lobby"}`)["room"].(map[string]any)
		j := th.join(ada, "lobby")["room"].(map[string]any)
		require.Equal(t, info["epoch"], j["epoch"], "room.info and joined agree")
		require.NotNil(t, j["epoch"], "%v", j)
		return j["epoch"]
	}
	send(1)
	first := epoch()
	send(3)
	require.Equal(t, first, epoch(), "the same sequence, the same epoch")

	// The room's messages and sequence are lost (keys.go: room#<id>, seq and msg#<seq>).
	ctx := context.Background()
	items, err := th.store.Query(ctx, chatfly.Query{Partition: "room#lobby"})
	require.NoError(t, err)
	for _, it := range items {
		if it.Key.Sort == "seq" || strings.HasPrefix(it.Key.Sort, "msg#") {
			require.NoError(t, th.store.Delete(ctx, it.Key, chatfly.Always))
		}
	}
	send(6) // seq 1..6 again: past the 4 a client saw
	j = th.join(ada, "lobby")
	require.Equal(t, 6.0, j["room"].(map[string]any)["seq"])
	require.NotEqual(t, first, epoch(), "a new sequence, a new epoch")
}

// A custom room's sequence is kept alive by activity other than messages
// (a join late in the room's life) without changing the epoch, when the
// Storage can touch an item's expiry.
func TestRoomEpochKeptByActivity(t *testing.T) {
	th := newTestHub(t, nil)
	if _, ok := chatfly.Storage(th.store).(chatfly.Toucher); !ok {
		t.Skip("memstore has no Touch yet")
	}
	ada, _ := th.hello("Ada")
	created := th.reply(ada, `{"action":"room.create","id":1,"name":"Book club"}`)
	id := created["room"].(map[string]any)["id"].(string)
	th.join(ada, id)
	require.Equal(t, "sent", th.reply(ada, `{"action":"send","id":3,"room":"`+id+`","text":"hi"}`)["type"])
	before := th.reply(ada, `{"action":"room.info","id":4,"room":"`+id+`"}`)["room"].(map[string]any)["epoch"]
	require.NotNil(t, before)

	th.clock.Advance(20 * time.Hour) // of the default 24 h RoomTTL: the next activity extends the room
	lin, _ := th.hello("Lin")
	th.join(lin, id)
	th.clock.Advance(20 * time.Hour) // past the first expiry: only the extension keeps the room
	kim, _ := th.hello("Kim")
	after := th.reply(kim, `{"action":"room.info","id":4,"room":"`+id+`"}`)["room"].(map[string]any)
	require.Equal(t, before, after["epoch"], "%v", after)
	require.Equal(t, 1.0, after["seq"])
}

// DisconnectSession with 1000 announces it with a close frame first, since
// clients reconnect after a bare 1000 (API Gateway's); other codes carry
// their meaning on the socket.
func TestDisconnectNormalAnnounced(t *testing.T) {
	th := newTestHub(t, nil)
	ctx := context.Background()
	ada, w := th.hello("Ada")
	require.NoError(t, th.hub.DisconnectSession(ctx, w["session"].(string), chatfly.CloseNormal, "bye"))
	require.Equal(t, []map[string]any{{"type": "close", "code": 1000.0, "reason": "bye"}}, th.tr.take(ada))
	require.Equal(t, chatfly.CloseNormal, th.tr.closed[ada])

	lin, w := th.hello("Lin")
	require.NoError(t, th.hub.DisconnectSession(ctx, w["session"].(string), chatfly.ClosePolicy, ""))
	require.Empty(t, th.tr.take(lin))
}
