package chatfly_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
)

// openConn opens a connection with a handle, without hello.
func (th *testHub) openConn() *chatfly.Conn {
	th.t.Helper()
	th.next++
	cn, err := th.hub.Open(context.Background(), &chatfly.ConnectRequest{ConnID: "h" + strconv.Itoa(th.next), RemoteAddr: "192.0.2.7:5000"})
	require.NoError(th.t, err)
	return cn
}

// doConn sends a frame through a handle and returns the events the
// connection received.
func (th *testHub) doConn(cn *chatfly.Conn, frame string) []map[string]any {
	th.t.Helper()
	require.NoError(th.t, cn.Receive(context.Background(), []byte(frame)), frame)
	return th.tr.take(cn.ID())
}

// replyConn is reply through a handle.
func (th *testHub) replyConn(cn *chatfly.Conn, frame string) map[string]any {
	th.t.Helper()
	evs := th.doConn(cn, frame)
	require.Len(th.t, evs, 1, frame)
	return evs[0]
}

// countedHub is a testHub whose Hub counts its storage calls.
func countedHub(t *testing.T, opts *chatfly.Options) (*testHub, *countingStore) {
	th := newTestHub(t, opts)
	cs := newCountingStore(th.store)
	o := *opts
	o.Rooms, o.Now = chatfly.DefaultRooms(), th.clock.Now
	th.hub = chatfly.New(cs.Storage(), th.tr, &o)
	return th, cs
}

// Through a handle a frame's prelude (the connection's record, the rate
// limit) makes no storage call: a ping costs nothing, before hello or
// after, until a presence refresh is due, which costs what it costs
// through Hub.Receive less the prelude's two calls.
func TestConnPreludeMakesNoStorageCall(t *testing.T) {
	const ttl = 30 * time.Minute
	th, cs := countedHub(t, &chatfly.Options{PresenceTTL: ttl})
	cn := th.openConn()
	cs.take()
	assert.Equal(t, "hello_required", th.replyConn(cn, `{"action":"rooms","id":1}`)["code"])
	calls, _ := cs.totals()
	assert.Zero(t, calls, "a frame before hello")
	require.Equal(t, "welcome", th.replyConn(cn, `{"action":"hello","id":1,"name":"Ada"}`)["type"])
	th.replyConn(cn, `{"action":"join","id":2,"room":"lobby"}`)
	byID := "bob" // the same connection through Hub.Receive, from the same address
	require.NoError(t, th.hub.Connect(context.Background(), &chatfly.ConnectRequest{ConnID: byID, RemoteAddr: "192.0.2.7:5001"}))
	th.reply(byID, `{"action":"hello","id":1,"name":"Bob"}`)
	th.join(byID, "lobby")
	th.tr.take(cn.ID())

	cs.take()
	assert.Equal(t, "pong", th.replyConn(cn, `{"action":"ping","id":3}`)["type"])
	calls, _ = cs.totals()
	assert.Zero(t, calls, "a ping")

	th.clock.Advance(ttl / 2)
	th.replyConn(cn, `{"action":"ping","id":4}`)
	handle, _ := cs.totals()
	th.reply(byID, `{"action":"ping","id":4}`)
	receive, _ := cs.totals()
	assert.Equal(t, receive-2, handle, "a refresh through the handle; through Hub.Receive: %d", receive)
	th.replyConn(cn, `{"action":"ping","id":5}`)
	calls, _ = cs.totals()
	assert.Zero(t, calls, "a ping after the refresh")

	th.clock.Advance(ttl * 2 / 3) // past the expiry before the refresh
	assert.ElementsMatch(t, []string{"Ada", "Bob"}, th.members("lobby"))
}

// The handle counts frames against RateLimit in memory with the semantics
// of the storage counter: one rate_limited reply per window, the close
// past CloseAfter, a fresh count in the next window; and no storage call.
func TestConnRateLimitInMemory(t *testing.T) {
	th, cs := countedHub(t, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: 4, Window: 10 * time.Second, CloseAfter: 2}})
	cn := th.openConn()
	th.replyConn(cn, `{"action":"hello","id":1,"name":"Ada"}`) // the first frame of the window
	cs.take()
	var replies []string
	for i := range 7 { // frames 2..8: 3 in the limit, then 4 over it, the third of which closes
		for _, ev := range th.doConn(cn, `{"action":"ping","id":`+strconv.Itoa(i)+`}`) {
			replies = append(replies, ev["type"].(string)+" "+strconv.Itoa(int(ev["id"].(float64))))
		}
		if i < 5 {
			require.NotContains(t, th.tr.closed, cn.ID(), "closed at frame %d", i+2)
		}
	}
	assert.Equal(t, []string{"pong 0", "pong 1", "pong 2", "error 3"}, replies)
	assert.Equal(t, chatfly.ClosePolicy, th.tr.closed[cn.ID()], "frame 7 is CloseAfter+1 over the limit")
	calls, _ := cs.totals()
	assert.Zero(t, calls)

	delete(th.tr.closed, cn.ID())
	th.clock.Advance(10 * time.Second)
	assert.Equal(t, "pong", th.replyConn(cn, `{"action":"ping","id":9}`)["type"], "a new window")
}

// A record deleted behind a handle's back (another Hub removed the
// connection) closes the connection with 1001 at its next presence
// refresh; the handle's Close still removes its session from its rooms,
// which Hub.Disconnect could not find without the record.
func TestConnRecordDeletedBehindItsBack(t *testing.T) {
	const ttl = 30 * time.Minute
	th := newTestHub(t, &chatfly.Options{PresenceTTL: ttl})
	cn := th.openConn()
	th.replyConn(cn, `{"action":"hello","id":1,"name":"Ada"}`)
	th.replyConn(cn, `{"action":"join","id":2,"room":"lobby"}`)
	bob, _ := th.hello("Bob")
	th.join(bob, "lobby")
	th.tr.take(cn.ID())
	require.NoError(t, th.store.Delete(context.Background(), chatfly.Key{Partition: "conn#" + cn.ID(), Sort: "conn"}, chatfly.IfExists))

	assert.Equal(t, "pong", th.replyConn(cn, `{"action":"ping","id":3}`)["type"], "no refresh due: the prelude reads nothing")
	th.clock.Advance(ttl/3 + time.Second)
	assert.Empty(t, th.doConn(cn, `{"action":"ping","id":4}`), "the refresh finds the record gone")
	assert.Equal(t, chatfly.CloseGoingAway, th.tr.closed[cn.ID()])

	th.tr.take(bob)
	require.NoError(t, cn.Close(context.Background()))
	assert.Equal(t, []string{"Bob"}, th.members("lobby"))
	assert.Len(t, ofType(th.tr.take(bob), "presence"), 1, "Bob sees Ada leave")
	require.ErrorIs(t, cn.Receive(context.Background(), []byte(`{"action":"ping"}`)), chatfly.ErrGone, "after Close")
	require.NoError(t, cn.Close(context.Background()), "Close is idempotent")
	assert.Equal(t, int64(1), th.hub.Stats().Connections, "Bob's")
}

// A handle's record that expired closes the connection at its next frame,
// without a storage call: no hello within HelloTimeout, or no frame for
// PresenceTTL.
func TestConnExpiredRecord(t *testing.T) {
	th, cs := countedHub(t, &chatfly.Options{HelloTimeout: 5 * time.Second, PresenceTTL: time.Minute})
	late := th.openConn()
	th.clock.Advance(5 * time.Second)
	cs.take()
	assert.Empty(t, th.doConn(late, `{"action":"hello","id":1,"name":"Ada"}`))
	assert.Equal(t, chatfly.CloseGoingAway, th.tr.closed[late.ID()])

	silent := th.openConn()
	th.replyConn(silent, `{"action":"hello","id":1,"name":"Bob"}`)
	th.clock.Advance(time.Minute)
	cs.take()
	assert.Empty(t, th.doConn(silent, `{"action":"ping","id":2}`))
	assert.Equal(t, chatfly.CloseGoingAway, th.tr.closed[silent.ID()])
	calls, _ := cs.totals()
	assert.Zero(t, calls)
}

// What ends a connection from elsewhere reaches a handle's connection: a
// resume on another connection (4001), DisconnectSession (4004) and
// RevokeSession (4003) find it by its session, whose current connection
// the handle's hello recorded.
func TestConnEndedFromElsewhere(t *testing.T) {
	th := newTestHub(t, nil)
	ctx := context.Background()
	first := th.openConn()
	w := th.replyConn(first, `{"action":"hello","id":1,"name":"Ada"}`)
	sid, token := w["session"].(string), w["token"].(string)
	second := th.openConn()
	th.replyConn(second, `{"action":"hello","id":1,"token":"`+token+`"}`)
	assert.Equal(t, chatfly.CloseReplaced, th.tr.closed[first.ID()])
	require.NoError(t, first.Close(ctx))

	require.NoError(t, th.hub.DisconnectSession(ctx, sid, 0, ""))
	assert.Equal(t, chatfly.CloseDisconnected, th.tr.closed[second.ID()])
	require.NoError(t, second.Close(ctx))

	third := th.openConn()
	th.replyConn(third, `{"action":"hello","id":1,"token":"`+token+`"}`)
	require.NoError(t, th.hub.RevokeSession(ctx, sid))
	assert.Equal(t, chatfly.CloseRevoked, th.tr.closed[third.ID()])
}
