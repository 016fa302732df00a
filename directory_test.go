package chatfly_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoomInfo(t *testing.T) {
	th := newTestHub(t, nil)
	a, _ := th.hello("Ada")
	b, _ := th.hello("Bob")
	priv := th.createRoom(a, "secret", "private")
	th.join(a, priv)
	th.clock.Advance(time.Minute)
	th.do(a, `{"action":"send","room":"`+priv+`","text":"hi"}`)

	// Bob is not in the room and it is not listed, but he has its id (a link).
	r := th.reply(b, `{"action":"room.info","id":7,"room":"`+priv+`"}`)
	require.Equal(t, "room.info", r["type"], r)
	assert.Equal(t, float64(7), r["id"])
	info := r["room"].(map[string]any)
	assert.Equal(t, priv, info["id"])
	assert.Equal(t, "secret", info["name"])
	assert.Equal(t, "a topic", info["topic"])
	assert.Equal(t, false, info["public"])
	assert.Equal(t, true, info["custom"])
	assert.Equal(t, float64(1), info["members"])
	assert.Equal(t, float64(1), info["seq"])
	assert.Equal(t, float64(th.clock.Now().UnixMilli()), info["active"])

	lobby := th.reply(b, `{"action":"room.info","id":8,"room":"lobby"}`)["room"].(map[string]any)
	assert.Equal(t, "Lobby", lobby["name"])
	assert.Equal(t, float64(0), lobby["members"])

	// A wrong id of a private room looks exactly like one that never existed.
	wrong := th.reply(b, `{"action":"room.info","id":1,"room":"`+priv[:len(priv)-1]+"x"+`"}`)
	never := th.reply(b, `{"action":"room.info","id":1,"room":"no-such-room"}`)
	bad := th.reply(b, `{"action":"room.info","id":1,"room":"not a valid id!"}`)
	assert.Equal(t, "not_found", wrong["code"])
	assert.Equal(t, wrong, never)
	assert.Equal(t, wrong, bad)
	th.wantError(b, `{"action":"room.info","id":1}`, "bad_request")

	// A deleted room is gone for room.info too.
	th.reply(a, `{"action":"room.delete","id":1,"room":"`+priv+`"}`)
	assert.Equal(t, never, th.reply(b, `{"action":"room.info","id":1,"room":"`+priv+`"}`))
}
