package chatfly_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":                      "203.0.113.7",
		"203.0.113.7:4000":                 "203.0.113.7",
		"[2001:db8:1:2:3:4:5:6]:443":       "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff:ffff:ffff": "2001:db8:1:2::/64",
		"[2001:db8:1:2::1]":                "2001:db8:1:2::/64",
		"2001:db8:1:3::1":                  "2001:db8:1:3::/64",
		"fe80::1%eth0":                     "fe80::/64",
		"[fe80::1%eth0]:80":                "fe80::/64",
		"::ffff:203.0.113.7":               "203.0.113.7",
		"[::ffff:203.0.113.7]:5000":        "203.0.113.7",
		"::1":                              "::/64",
		"":                                 "",
		"pipe":                             "pipe",
		"@":                                "@",
		"not an address":                   "h:",
		"1.2.3.4.5":                        "1.2.3.4.5",
		"a\nb":                             "h:",
		"2001:db8::/64":                    "2001:db8::/64", // a key is its own key
		"x-very-long-garbage-address-that-goes-on-and-on-and-on-past-64-bytes": "h:",
	} {
		got := chatfly.AddrKey(in)
		switch want {
		case "h:":
			// Hashed: stable, printable, short, and distinct from the input.
			assert.Regexp(t, `^h:[0-9a-f]{24}$`, got, "AddrKey(%q)", in)
			assert.Equal(t, got, chatfly.AddrKey(in), "AddrKey(%q) is stable", in)
		default:
			assert.Equal(t, want, got, "AddrKey(%q)", in)
		}
	}
	assert.NotEqual(t, chatfly.AddrKey("a\nb"), chatfly.AddrKey("a\nc"))
}

// connectFrom opens a connection from addr, returning the Connect error.
func (th *testHub) connectFrom(addr string) (string, error) {
	th.next++
	conn := "a" + strconv.Itoa(th.next)
	return conn, th.hub.Connect(context.Background(), &chatfly.ConnectRequest{ConnID: conn, RemoteAddr: addr})
}

// helloFrom connects from addr and says hello with name (or, if name
// starts with "token:", resumes with that token); it returns the
// connection and its welcome.
func (th *testHub) helloFrom(addr, name string) (string, map[string]any) {
	th.t.Helper()
	conn, err := th.connectFrom(addr)
	require.NoError(th.t, err)
	frame := `{"action":"hello","id":1,"name":` + jsonString(name) + `}`
	if tok, ok := strings.CutPrefix(name, "token:"); ok {
		frame = `{"action":"hello","id":1,"token":` + jsonString(tok) + `}`
	}
	w := th.reply(conn, frame)
	require.Equal(th.t, "welcome", w["type"], "hello %s: %v", name, w)
	return conn, w
}

func TestConnectionsPerAddress(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{AddressLimits: chatfly.AddressLimits{Connections: 3}})
	ctx := context.Background()
	var conns []string
	for i := range 3 {
		conn, err := th.connectFrom("203.0.113.7:" + strconv.Itoa(4000+i))
		require.NoError(t, err)
		conns = append(conns, conn)
	}
	_, err := th.connectFrom("203.0.113.7:5000")
	require.ErrorIs(t, err, chatfly.ErrTooMany)
	_, err = th.connectFrom("[::ffff:203.0.113.7]:5001") // the same address, mapped
	require.ErrorIs(t, err, chatfly.ErrTooMany)
	_, err = th.connectFrom("198.51.100.1:4000") // another address is not affected
	require.NoError(t, err)

	// A disconnect frees its place; a refused connection held none.
	require.NoError(t, th.hub.Disconnect(ctx, conns[0]))
	conns[0], err = th.connectFrom("203.0.113.7:5002")
	require.NoError(t, err)
	_, err = th.connectFrom("203.0.113.7:5003")
	require.ErrorIs(t, err, chatfly.ErrTooMany)

	// A live connection keeps its place with its presence (touch, on a
	// frame after PresenceTTL/3); the places of connections whose
	// disconnect was lost expire with their presence.
	th.reply(conns[0], `{"action":"hello","id":1,"name":"Ada"}`)
	th.clock.Advance(20 * time.Minute)
	th.reply(conns[0], `{"action":"ping","id":1}`)
	th.clock.Advance(15 * time.Minute) // conns[1] and conns[2] fell silent 35 minutes ago
	for range 2 {
		_, err = th.connectFrom("203.0.113.7:6000")
		require.NoError(t, err)
	}
	_, err = th.connectFrom("203.0.113.7:6001")
	require.ErrorIs(t, err, chatfly.ErrTooMany, "Ada's live connection still counts")
}

// Connects racing from one address (an IPv6 /64), on two Hubs sharing a
// Storage, never exceed the limit.
func TestConnectionsPerAddressConcurrent(t *testing.T) {
	store := memstore.New(nil)
	opts := &chatfly.Options{AddressLimits: chatfly.AddressLimits{Connections: 10}}
	hubs := []*chatfly.Hub{chatfly.New(store, newRecTransport(), opts), chatfly.New(store, newRecTransport(), opts)}
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			addr := "[2001:db8:7::" + strconv.FormatInt(int64(i), 16) + "]:1"
			err := hubs[i%2].Connect(context.Background(), &chatfly.ConnectRequest{ConnID: "k" + strconv.Itoa(i), RemoteAddr: addr})
			if err == nil {
				ok.Add(1)
			} else if assert.ErrorIs(t, err, chatfly.ErrTooMany) {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, ok.Load(), int32(10))
	assert.Positive(t, ok.Load())
	assert.Equal(t, int32(60), ok.Load()+refused.Load())
}

func TestSessionsPerHourPerAddress(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{AddressLimits: chatfly.AddressLimits{SessionsPerHour: 2}})
	th.clock.Advance(30 * time.Minute) // 12:30: the window is the clock hour
	_, ada := th.helloFrom("203.0.113.7:1", "Ada")
	th.helloFrom("203.0.113.7:2", "Bob")
	conn, err := th.connectFrom("203.0.113.7:3")
	require.NoError(t, err)
	th.wantError(conn, `{"action":"hello","id":1,"name":"Cy"}`, "too_many")
	th.helloFrom("198.51.100.1:1", "Dee") // another address

	// Resuming is not a new session.
	_, again := th.helloFrom("203.0.113.7:4", "token:"+ada["token"].(string))
	assert.Equal(t, ada["session"], again["session"])

	// The next hour is a new window.
	th.clock.Advance(30 * time.Minute)
	th.helloFrom("203.0.113.7:5", "Cy")
}

func TestRoomsPerHourPerAddress(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{AddressLimits: chatfly.AddressLimits{RoomsPerHour: 3}})
	th.clock.Advance(45 * time.Minute) // 12:45: the window is the clock hour
	a, _ := th.helloFrom("203.0.113.7:1", "Ada")
	b, _ := th.helloFrom("203.0.113.7:2", "Bob")
	c, _ := th.helloFrom("198.51.100.1:1", "Cy")
	th.createRoom(a, "one", "public")
	th.createRoom(a, "two", "public")
	th.createRoom(b, "three", "public") // a new session of the same address
	th.wantError(b, `{"action":"room.create","id":1,"name":"four"}`, "too_many")
	th.createRoom(c, "four", "public")
	th.clock.Advance(20 * time.Minute)
	th.createRoom(b, "five", "public")
}

func TestGamesPerMinutePerAddress(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{Games: []chatfly.Game{nim{}}, AddressLimits: chatfly.AddressLimits{GamesPerMinute: 2}})
	a, _ := th.helloFrom("203.0.113.7:1", "Ada")
	b, _ := th.helloFrom("203.0.113.7:2", "Bob")
	c, _ := th.helloFrom("198.51.100.1:1", "Cy")
	start := `{"action":"game.start","id":1,"room":"games","game":"nim"}`
	for _, conn := range []string{a, b, c} {
		th.join(conn, "games")
	}
	for _, conn := range []string{a, b} {
		r := th.reply(conn, start)
		require.Equal(t, "game.state", r["type"], "%v", r)
	}
	th.wantError(a, start, "too_many")
	require.Equal(t, "game.state", th.reply(c, start)["type"])
	th.clock.Advance(time.Minute)
	require.Equal(t, "game.state", th.reply(b, start)["type"])
}

func TestRouletteWaitersPerAddress(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{AddressLimits: chatfly.AddressLimits{RouletteWaiting: 2}})
	// Different interests: nobody is paired before the fallback wait.
	wait := func(conn, interest string) map[string]any {
		return th.reply(conn, `{"action":"roulette.join","id":1,"interests":["`+interest+`"]}`)
	}
	var bots []string
	for i := range 3 {
		conn, _ := th.helloFrom("203.0.113.7:"+strconv.Itoa(i), "bot"+strconv.Itoa(i))
		bots = append(bots, conn)
	}
	require.Equal(t, "roulette.waiting", wait(bots[0], "a")["type"])
	require.Equal(t, "roulette.waiting", wait(bots[1], "b")["type"])
	require.Equal(t, "roulette.waiting", wait(bots[0], "a")["type"], "a refresh is not a new entry")
	th.wantError(bots[2], `{"action":"roulette.join","id":1,"interests":["c"]}`, "too_many")

	// Leaving frees a place.
	require.Equal(t, "roulette.left", th.reply(bots[1], `{"action":"roulette.leave","id":1}`)["type"])
	require.Equal(t, "roulette.waiting", wait(bots[2], "c")["type"])

	// Being paired frees a place: Ann, from elsewhere, shares bot0's interest.
	ann, _ := th.helloFrom("198.51.100.1:1", "Ann")
	require.Equal(t, "roulette.matched", wait(ann, "a")["type"])
	require.Equal(t, "roulette.waiting", wait(bots[1], "b")["type"])
	th.wantError(bots[0], `{"action":"roulette.next","id":1,"interests":["a"]}`, "too_many")

	// A disconnect frees a place.
	require.NoError(t, th.hub.Disconnect(context.Background(), bots[2]))
	require.Equal(t, "roulette.waiting", wait(bots[0], "a")["type"])
}

func TestRoomSharePerAddress(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{MaxMembersPerRoom: 8, AddressLimits: chatfly.AddressLimits{RoomShare: 2}})
	// Below half full, the share does not apply: one network may fill half.
	var conns []string
	for i := range 5 {
		conn, _ := th.helloFrom("203.0.113.7:"+strconv.Itoa(i), "s"+strconv.Itoa(i))
		conns = append(conns, conn)
	}
	for _, conn := range conns[:4] {
		th.join(conn, "lobby")
	}
	th.wantError(conns[4], `{"action":"join","id":1,"room":"lobby"}`, "too_many")
	th.join(conns[4], "random") // other rooms are not affected

	// Other networks still get in, up to their own share.
	var others []string
	for i := range 3 {
		conn, _ := th.helloFrom("[2001:db8:5:5::"+strconv.Itoa(i+1)+"]:1", "v6-"+strconv.Itoa(i))
		others = append(others, conn)
	}
	th.join(others[0], "lobby")
	th.join(others[1], "lobby")
	th.wantError(others[2], `{"action":"join","id":1,"room":"lobby"}`, "too_many") // same /64
	th.join(th.helloFromConn("198.51.100.1:1", "Cy"), "lobby")

	// Once one of the network leaves, another may take its place.
	th.reply(conns[0], `{"action":"leave","id":1,"room":"lobby"}`)
	th.reply(conns[1], `{"action":"leave","id":1,"room":"lobby"}`)
	th.reply(conns[2], `{"action":"leave","id":1,"room":"lobby"}`)
	th.join(conns[4], "lobby")
}

func (th *testHub) helloFromConn(addr, name string) string {
	conn, _ := th.helloFrom(addr, name)
	return conn
}

// The address of the member items: members join again after a reconnect
// without counting twice.
func TestRoomShareCountsSessionsOnce(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{MaxMembersPerRoom: 4, AddressLimits: chatfly.AddressLimits{RoomShare: 2}})
	a, w := th.helloFrom("203.0.113.7:1", "Ada")
	b, _ := th.helloFrom("203.0.113.7:2", "Bob")
	th.join(a, "lobby")
	th.join(b, "lobby")
	again, _ := th.helloFrom("203.0.113.7:3", "token:"+w["token"].(string))
	th.join(again, "lobby")
	assert.Len(t, th.memberNames("lobby"), 2)
}

// A session joining many rooms at once, through several Hubs (API Gateway
// runs the frames of one connection concurrently): joins within
// MaxRoomsPerSession all succeed; of a burst past it, at most the one that
// fits does (they may all be refused: each counts the others), and the
// session is a member of exactly the rooms it was told it joined.
func TestMaxRoomsPerSessionConcurrent(t *testing.T) {
	const limit, attempts = 5, 30
	var rooms []chatfly.RoomConfig
	for i := range attempts {
		rooms = append(rooms, chatfly.RoomConfig{ID: "r" + strconv.Itoa(i), Public: true})
	}
	store := &slowStore{Storage: memstore.New(nil)}
	tr := newRecTransport()
	opts := &chatfly.Options{Rooms: rooms, MaxRoomsPerSession: limit, RateLimit: chatfly.RateLimit{Count: -1}}
	hubs := []*chatfly.Hub{chatfly.New(store, tr, opts), chatfly.New(store, tr, opts), chatfly.New(store, tr, opts)}
	ctx := context.Background()
	require.NoError(t, hubs[0].Connect(ctx, &chatfly.ConnectRequest{ConnID: "c1"}))
	require.NoError(t, hubs[0].Receive(ctx, "c1", []byte(`{"action":"hello","id":0,"name":"Ada"}`)))
	tr.take("c1")
	joinAll := func(rcs []chatfly.RoomConfig) (joined int) {
		var wg sync.WaitGroup
		for i, rc := range rcs {
			wg.Go(func() {
				assert.NoError(t, hubs[i%3].Receive(ctx, "c1", []byte(`{"action":"join","id":1,"room":"`+rc.ID+`"}`)))
			})
		}
		wg.Wait()
		for _, ev := range tr.take("c1") {
			if ev["type"] == "joined" {
				joined++
			} else {
				assert.Equal(t, "too_many", ev["code"], "%v", ev)
			}
		}
		return joined
	}
	require.Equal(t, limit-1, joinAll(rooms[:limit-1]), "joins within the limit")
	burst := joinAll(rooms[limit-1:])
	assert.LessOrEqual(t, burst, 1)
	in := 0
	for _, rc := range rooms {
		r, err := hubs[0].Room(ctx, rc.ID)
		require.NoError(t, err)
		ms, err := r.Members(ctx)
		require.NoError(t, err)
		in += len(ms)
	}
	assert.Equal(t, limit-1+burst, in, "the session is a member of exactly the rooms it was told it joined")
}

// slowStore makes every call take a little while, so that concurrent
// callers interleave between their reads and writes as they do on a remote
// database.
type slowStore struct{ chatfly.Storage }

func (s *slowStore) Get(ctx context.Context, k chatfly.Key) (chatfly.Item, error) {
	time.Sleep(200 * time.Microsecond)
	return s.Storage.Get(ctx, k)
}

func (s *slowStore) Put(ctx context.Context, it chatfly.Item, c chatfly.Cond) (int64, error) {
	time.Sleep(200 * time.Microsecond)
	return s.Storage.Put(ctx, it, c)
}

func (s *slowStore) Query(ctx context.Context, q chatfly.Query) ([]chatfly.Item, error) {
	time.Sleep(200 * time.Microsecond)
	return s.Storage.Query(ctx, q)
}
