package chatfly_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/hangstore"
)

func TestRateLimitShedsAndCloses(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: 20, Window: 10 * time.Second}})
	conn, _ := th.hello("Ada") // every frame counts against the connection, hello included
	th.join(conn, "lobby")
	var answered []map[string]any
	for i := range 39 { // frames 3..41 of the window: 18 in the limit, then 21 over it
		evs := th.do(conn, `{"action":"send","id":`+strconv.Itoa(i)+`,"room":"lobby","text":"spam"}`)
		answered = append(answered, ofType(evs, "sent")...)
		answered = append(answered, ofType(evs, "error")...)
		if i < 38 {
			require.NotContains(t, th.tr.closed, conn, "closed at frame %d", i+3)
		}
	}
	require.Len(t, answered, 19, "18 sent and one rate_limited, the rest dropped silently")
	limited := answered[18]
	assert.Equal(t, "rate_limited", limited["code"])
	assert.Equal(t, float64(18), limited["id"], "the first frame over the limit is the one answered")
	assert.Equal(t, chatfly.ClosePolicy, th.tr.closed[conn], "the 41st frame (twice the limit) closes")

	msgs, err := roomHistory(th, "lobby")
	require.NoError(t, err)
	assert.Len(t, msgs, 18)

	// A new window: the session (reconnected, say) may talk again.
	th.clock.Advance(20 * time.Second)
	r := th.reply(conn, `{"action":"send","id":1,"room":"lobby","text":"later"}`)
	assert.Equal(t, "sent", r["type"])
}

func TestRateLimitNeverClose(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: 5, CloseAfter: -1}})
	conn := th.connect() // before hello the connection is the subject
	limited := 0
	for range 50 {
		limited += len(ofType(th.do(conn, `{"action":"ping"}`), "error"))
	}
	assert.Equal(t, 5+1, limited, "5 hello_required, then one rate_limited")
	assert.NotContains(t, th.tr.closed, conn)
}

// A frame over the limit is not decoded: its id is found by a scan, even
// after a large field, and a frame too malformed to decode still counts.
func TestRateLimitedReplyFindsID(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: 2}})
	conn, _ := th.hello("Ada")
	th.do(conn, `{"action":"ping"}`) // the second frame of the connection, with hello
	r := th.reply(conn, `{"action":"send","text":"`+strings.Repeat("x", 10000)+`","x":{"id":1},"id":"late"}`)
	assert.Equal(t, "rate_limited", r["code"])
	assert.Equal(t, "late", r["id"])
}

func TestPingBeforeHello(t *testing.T) {
	th := newTestHub(t, nil)
	conn := th.connect()
	th.wantError(conn, `{"action":"ping","id":"p"}`, "hello_required")
	th.reply(conn, `{"action":"hello","name":"Ada"}`)
	assert.Equal(t, "pong", th.reply(conn, `{"action":"ping","id":"p"}`)["type"])
}

func TestIDRules(t *testing.T) {
	th := newTestHub(t, nil)
	conn, _ := th.hello("Ada")
	th.join(conn, "lobby")
	for _, id := range []string{`"` + strings.Repeat("a", 64) + `"`, `"` + strings.Repeat("é", 32) + `"`, `""`, `123456789`, `-1.5e3`} {
		r := th.reply(conn, `{"action":"ping","id":`+id+`}`)
		assert.Equal(t, "pong", r["type"], id)
		assert.Equal(t, mustUnmarshal(id), r["id"], "id %s echoed", id)
	}
	// null is no id: the action runs, the reply has none.
	evs := th.do(conn, `{"action":"typing","room":"lobby","id":null}`)
	assert.Empty(t, evs, "typing without an id has no reply")

	// Bad ids refuse the whole frame with bad_request, echoing nothing.
	for _, id := range []string{`"` + strings.Repeat("a", 65) + `"`, `"` + strings.Repeat("é", 33) + `"`, strings.Repeat("1", 65), `1e999`, `{"x":1}`, `[1]`, `true`} {
		r := th.reply(conn, `{"action":"send","id":`+id+`,"room":"lobby","text":"should not be stored"}`)
		assert.Equal(t, "bad_request", r["code"], id)
		assert.NotContains(t, r, "id", id)
	}
	msgs, err := roomHistory(th, "lobby")
	require.NoError(t, err)
	assert.Empty(t, msgs, "no frame with a bad id was acted on")
}

func TestInvalidUTF8(t *testing.T) {
	th := newTestHub(t, nil)
	conn, _ := th.hello("Ada")
	th.join(conn, "lobby")
	for _, frame := range []string{
		"{\"action\":\"send\",\"id\":1,\"room\":\"lobby\",\"text\":\"bad \xff byte\"}",
		"{\"action\":\"send\",\"id\":\"\xc3\",\"room\":\"lobby\",\"text\":\"hi\"}",
		"{\"action\":\"send\",\"id\":1,\"room\":\"lobby\",\"text\":\"surrogate \xed\xa0\x80\"}",
	} {
		r := th.reply(conn, frame)
		assert.Equal(t, "bad_request", r["code"], frame)
		assert.NotContains(t, r, "id", "the id of an invalid frame is not echoed")
	}
	msgs, err := roomHistory(th, "lobby")
	require.NoError(t, err)
	assert.Empty(t, msgs, "nothing stored as U+FFFD")
}

// A storage that hangs costs a bounded wait: every frame is answered
// "unavailable" with its id once StorageTimeout has passed, Connect and
// Disconnect return errors wrapping ErrUnavailable, and when the storage is
// back the connection works again.
func TestHungStorageAnswersUnavailableWithID(t *testing.T) {
	th := newTestHub(t, nil)
	hs := hangstore.New(th.store)
	th.hub = chatfly.New(hs.Storage(), th.tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), StorageTimeout: 50 * time.Millisecond, Now: th.clock.Now})
	conn, _ := th.hello("Ada")
	th.join(conn, "lobby")

	hs.HangAll()
	for _, frame := range []string{
		`{"action":"send","id":"s1","room":"lobby","text":"hi"}`,
		`{"action":"join","room":"random","id":7}`,
		`{"action":"ping","pad":"` + strings.Repeat("x", 1000) + `","id":"p"}`,
	} {
		wantUnavailable(t, th, conn, frame)
	}
	require.ErrorIs(t, th.hub.Connect(context.Background(), &chatfly.ConnectRequest{ConnID: "late"}), chatfly.ErrUnavailable)
	require.ErrorIs(t, th.hub.Disconnect(context.Background(), conn), chatfly.ErrUnavailable)
	assert.Positive(t, hs.Hung())

	hs.HangIf(nil)
	r := th.reply(conn, `{"action":"send","id":"s2","room":"lobby","text":"back"}`)
	assert.Equal(t, "sent", r["type"])

	// A storage that hangs in the middle of a handler (after the connection
	// record and the rate counter) is answered the same way.
	hs.HangIf(func(k chatfly.Key) bool { return k.Sort == "seq" })
	wantUnavailable(t, th, conn, `{"action":"send","id":"m","room":"lobby","text":"hi"}`)
}

// wantUnavailable sends frame, which must be answered with one unavailable
// error carrying the frame's id.
func wantUnavailable(t *testing.T, th *testHub, conn, frame string) {
	t.Helper()
	err := th.hub.Receive(context.Background(), conn, []byte(frame))
	require.ErrorIs(t, err, chatfly.ErrUnavailable, frame)
	evs := th.tr.take(conn)
	require.Len(t, evs, 1, frame)
	assert.Equal(t, "unavailable", evs[0]["code"], frame)
	assert.Equal(t, mustUnmarshal(frame).(map[string]any)["id"], evs[0]["id"], frame)
}

// Before hello, the connection record lives HelloTimeout: a hello after it
// finds no state and the connection is closed to start over. Frames before
// hello do not extend it; hello does, to PresenceTTL.
func TestHelloTimeoutExpiresRecord(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{HelloTimeout: 5 * time.Second})
	late := th.connect()
	th.wantError(late, `{"action":"rooms","id":1}`, "hello_required")
	th.clock.Advance(4 * time.Second)
	th.wantError(late, `{"action":"rooms","id":1}`, "hello_required")
	onTime := th.connect()
	th.reply(onTime, `{"action":"hello","name":"Ada"}`)
	th.clock.Advance(2 * time.Second)
	assert.Empty(t, th.do(late, `{"action":"hello","name":"Lin"}`), "no welcome after the hello timeout")
	assert.Equal(t, chatfly.CloseGoingAway, th.tr.closed[late])

	th.clock.Advance(time.Minute)
	assert.Equal(t, "pong", th.reply(onTime, `{"action":"ping","id":1}`)["type"])
	assert.NotContains(t, th.tr.closed, onTime)
}
