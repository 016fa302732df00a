package chatfly_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/hangstore"
)

// recObserver records what an Observer is told.
type recObserver struct {
	mu       sync.Mutex
	frames   []chatfly.FrameStats
	failures []chatfly.Failure
}

func (o *recObserver) Frame(_ context.Context, f chatfly.FrameStats) {
	o.mu.Lock()
	o.frames = append(o.frames, f)
	o.mu.Unlock()
}

func (o *recObserver) Failure(_ context.Context, f chatfly.Failure) {
	o.mu.Lock()
	o.failures = append(o.failures, f)
	o.mu.Unlock()
}

// take returns and forgets the frames and failures recorded so far.
func (o *recObserver) take() ([]chatfly.FrameStats, []chatfly.Failure) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fr, fa := o.frames, o.failures
	o.frames, o.failures = nil, nil
	return fr, fa
}

// observedHub is a test Hub with a recording Observer over a storage that
// counts calls on its own.
func observedHub(t *testing.T, opts *chatfly.Options) (*testHub, *recObserver, *countingStore) {
	th := newTestHub(t, nil)
	obs := &recObserver{}
	cs := newCountingStore(th.store)
	if opts == nil {
		opts = &chatfly.Options{}
	}
	opts.Rooms, opts.Observer, opts.Now = chatfly.DefaultRooms(), obs, th.clock.Now
	th.hub = chatfly.New(cs.Storage(), th.tr, opts)
	return th, obs, cs
}

// The Observer is told of every frame once, with its action, room, error
// code and the storage calls it made (as many as the Storage saw); frames
// that were not decoded or name an unknown action have no action.
func TestObserverFrames(t *testing.T) {
	th, obs, cs := observedHub(t, nil)
	conn, _ := th.hello("Ada")
	th.join(conn, "lobby")
	frames, _ := obs.take()
	require.Len(t, frames, 3)
	assert.Equal(t, []string{chatfly.ActionConnect, "hello", "join"}, []string{frames[0].Action, frames[1].Action, frames[2].Action})
	cs.take()

	for _, tc := range []struct {
		frame, action, room, code string
	}{
		{`{"action":"send","id":1,"room":"lobby","text":"hi"}`, "send", "lobby", ""},
		{`{"action":"send","id":2,"room":"nowhere","text":"hi"}`, "send", "nowhere", "not_member"},
		{`{"action":"join","id":3,"room":"lobby","name":""}`, "join", "lobby", ""},
		{`{"action":"no.such.thing","id":4,"room":"lobby"}`, "", "", "unknown_action"},
		{`not json`, "", "", "bad_json"},
		{`{"action":"ping","id":5}`, "ping", "", ""},
	} {
		th.do(conn, tc.frame)
		frames, failures := obs.take()
		require.Len(t, frames, 1, tc.frame)
		f := frames[0]
		calls, _ := cs.totals()
		assert.Equal(t, [3]string{tc.action, tc.room, tc.code}, [3]string{f.Action, f.Room, f.Code}, tc.frame)
		assert.Equal(t, conn, f.ConnID, tc.frame)
		assert.Equal(t, calls, f.StorageCalls, tc.frame)
		assert.Positive(t, f.Duration, tc.frame)
		assert.Empty(t, failures, tc.frame)
	}

	require.NoError(t, th.hub.Disconnect(context.Background(), conn))
	frames, _ = obs.take()
	calls, _ := cs.totals()
	require.Len(t, frames, 1)
	assert.Equal(t, chatfly.ActionDisconnect, frames[0].Action)
	assert.Equal(t, calls, frames[0].StorageCalls)
}

// A frame over the rate limit is reported without its action (it is not
// decoded) and with the code rate_limited.
func TestObserverRateLimited(t *testing.T) {
	th, obs, _ := observedHub(t, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: 2, CloseAfter: -1}})
	conn, _ := th.hello("Ada")
	th.do(conn, `{"action":"ping","id":1}`)
	th.do(conn, `{"action":"ping","id":2}`)
	frames, _ := obs.take() // connect, then hello: the connection's first frame
	require.Len(t, frames, 4)
	assert.Equal(t, [2]string{"ping", ""}, [2]string{frames[2].Action, frames[2].Code})
	assert.Equal(t, [2]string{"", "rate_limited"}, [2]string{frames[3].Action, frames[3].Code})
}

// Storage failures are reported once per failed call, with the frame's
// action, room and connection, and the frame with the code unavailable.
func TestObserverStorageFailure(t *testing.T) {
	th, obs, cs := observedHub(t, nil)
	hs := hangstore.New(cs.Storage())
	th.hub = chatfly.New(hs.Storage(), th.tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Observer: obs, Now: th.clock.Now, StorageTimeout: 50 * time.Millisecond})
	conn, _ := th.hello("Ada")
	th.join(conn, "lobby")
	obs.take()

	hs.HangIf(func(k chatfly.Key) bool { return k.Sort == "seq" })
	wantUnavailable(t, th, conn, `{"action":"send","id":"m","room":"lobby","text":"hi"}`)
	frames, failures := obs.take()
	require.Len(t, frames, 1)
	assert.Equal(t, [3]string{"send", "lobby", "unavailable"}, [3]string{frames[0].Action, frames[0].Room, frames[0].Code})
	require.Len(t, failures, 1)
	f := failures[0]
	assert.Equal(t, [4]string{"storage.Add", "send", "lobby", conn}, [4]string{f.Op, f.Action, f.Room, f.ConnID})
	assert.ErrorIs(t, f.Err, context.DeadlineExceeded)
}

// failTransport fails every Send to the connections in broken with an error
// other than ErrGone.
type failTransport struct {
	*recTransport
	broken map[string]bool
}

func (t failTransport) Send(ctx context.Context, conn string, frame []byte) error {
	if t.broken[conn] {
		return errors.New("broken pipe")
	}
	return t.recTransport.Send(ctx, conn, frame)
}

// A transport failure during a fan-out is reported with the connection
// written to and the frame's action and room; a connection that is gone is
// not a failure.
func TestObserverTransportFailure(t *testing.T) {
	th, obs, cs := observedHub(t, nil)
	ft := failTransport{th.tr, map[string]bool{}}
	th.hub = chatfly.New(cs.Storage(), ft, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Observer: obs, Now: th.clock.Now})
	ada, _ := th.hello("Ada")
	bob, _ := th.hello("Bob")
	cid, _ := th.hello("Cid")
	for _, c := range []string{ada, bob, cid} {
		th.join(c, "lobby")
	}
	obs.take()
	ft.broken[bob] = true
	th.tr.gone[cid] = true
	th.do(ada, `{"action":"send","id":1,"room":"lobby","text":"hi"}`)
	_, failures := obs.take()
	require.NotEmpty(t, failures)
	for _, f := range failures { // one per frame sent to Bob
		assert.Equal(t, [4]string{"transport.Send", "send", "lobby", bob}, [4]string{f.Op, f.Action, f.Room, f.ConnID})
		assert.EqualError(t, f.Err, "broken pipe")
	}
}

// Stats counts the connections and the sessions this Hub serves: a
// connection reported gone during a fan-out and then disconnected by its
// host counts once.
func TestStats(t *testing.T) {
	th := newTestHub(t, nil)
	ctx := context.Background()
	assert.Equal(t, chatfly.Stats{}, th.hub.Stats())
	early := th.connect()
	ada, _ := th.hello("Ada")
	bob, _ := th.hello("Bob")
	assert.Equal(t, chatfly.Stats{Connections: 3, Sessions: 2}, th.hub.Stats())
	th.wantError(ada, `{"action":"hello","id":1,"name":"Ada"}`, "already_hello")
	assert.Equal(t, chatfly.Stats{Connections: 3, Sessions: 2}, th.hub.Stats())

	th.join(ada, "lobby")
	th.join(bob, "lobby")
	th.tr.gone[bob] = true
	th.do(ada, `{"action":"send","id":1,"room":"lobby","text":"hi"}`) // bob is dropped
	assert.Equal(t, chatfly.Stats{Connections: 3, Sessions: 1}, th.hub.Stats())
	require.NoError(t, th.hub.Disconnect(ctx, bob))
	require.NoError(t, th.hub.Disconnect(ctx, early))
	assert.Equal(t, chatfly.Stats{Connections: 1, Sessions: 1}, th.hub.Stats())
	require.Error(t, th.hub.Connect(ctx, &chatfly.ConnectRequest{}))
	require.NoError(t, th.hub.Disconnect(ctx, ada))
	assert.Equal(t, chatfly.Stats{}, th.hub.Stats())
}

// nopObserver is an Observer that does nothing.
type nopObserver struct{}

func (nopObserver) Frame(context.Context, chatfly.FrameStats) {}
func (nopObserver) Failure(context.Context, chatfly.Failure)  {}

// BenchmarkObserver measures a message sent to a room of 10 members
// (BenchmarkFanout's) without an Observer and with one that does nothing:
// the cost of counting storage calls and timing the frame.
func BenchmarkObserver(b *testing.B) {
	b.Run("observer=nil", func(b *testing.B) { benchmarkFanout(b, 10) })
	b.Run("observer=nop", func(b *testing.B) {
		benchmarkFanout(b, 10, func(o *chatfly.Options) { o.Observer = nopObserver{} })
	})
}
