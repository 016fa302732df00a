package chatfly_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
)

// nimHub is a Hub with the nim game and people in "games" (th.conns).
func nimHub(t *testing.T, opts *chatfly.Options, names ...string) *testHub {
	opts.Games = []chatfly.Game{nim{}}
	opts.RateLimit = chatfly.RateLimit{Count: -1}
	th := newTestHub(t, opts)
	th.conns = map[string]string{}
	for _, n := range names {
		th.conns[n], _ = th.hello(n)
		th.join(th.conns[n], "games")
	}
	return th
}

// open starts a nim game in "games" as who and returns its id ("" and the
// error code if refused).
func (th *testHub) open(who string) (id, code string) {
	th.t.Helper()
	r := th.reply(th.conns[who], `{"action":"game.start","id":1,"room":"games","game":"nim"}`)
	if r["type"] == "error" {
		return "", r["code"].(string)
	}
	return gameOf(r)["id"].(string), ""
}

func (th *testHub) gameAction(who, action, id string) map[string]any {
	th.t.Helper()
	return th.reply(th.conns[who], `{"action":"`+action+`","id":1,"room":"games","game":"`+id+`"}`)
}

// listed returns the ids and statuses game.list shows who, in order.
func (th *testHub) listed(who string) (ids, statuses []string) {
	th.t.Helper()
	for _, g := range th.reply(th.conns[who], `{"action":"game.list","id":1,"room":"games"}`)["games"].([]any) {
		g := gameOf(g.(map[string]any))
		ids = append(ids, g["id"].(string))
		statuses = append(statuses, g["status"].(string))
	}
	return ids, statuses
}

// Open games are capped per session and per room; a refused start changes
// nothing and tells nobody; starting or cancelling a game frees its slot.
func TestOpenGameLimits(t *testing.T) {
	th := nimHub(t, &chatfly.Options{MaxOpenGamesPerSession: 2, MaxOpenGamesPerRoom: 3}, "Ada", "Bob", "Cy")
	a1, _ := th.open("Ada")
	a2, _ := th.open("Ada")
	for _, c := range th.conns {
		th.tr.take(c)
	}
	before := th.snapshot("games")
	_, code := th.open("Ada")
	assert.Equal(t, "too_many", code, "Ada's third open game")
	assert.Equal(t, before, th.snapshot("games"), "a refused start changed storage")
	assert.Empty(t, th.tr.take(th.conns["Bob"]), "Bob was told of a refused start")

	b1, code := th.open("Bob")
	require.Empty(t, code, "Bob's first game")
	_, code = th.open("Bob")
	assert.Equal(t, "too_many", code, "a fourth game in a room of 3")
	_, code = th.open("Cy")
	assert.Equal(t, "too_many", code, "Cy, room full")

	// Bob takes Ada's seat: that game starts and frees its slot.
	require.Equal(t, "playing", gameOf(th.gameAction("Bob", "game.accept", a1))["status"])
	c1, code := th.open("Cy")
	require.Empty(t, code, "Cy after a game started")
	// Cancelling an open game frees its slot too, for its starter again.
	require.Equal(t, "over", gameOf(th.gameAction("Ada", "game.resign", a2))["status"])
	_, code = th.open("Ada")
	require.Empty(t, code, "Ada after cancelling")
	_, code = th.open("Cy")
	assert.Equal(t, "too_many", code, "room full again")
	// Leaving cancels one's open games, and frees their slots.
	th.reply(th.conns["Bob"], `{"action":"leave","id":1,"room":"games"}`)
	_, code = th.open("Cy")
	assert.Empty(t, code, "Cy after Bob left with his open game")
	_, statuses := th.listed("Cy")
	open := 0
	for _, s := range statuses {
		if s == "open" {
			open++
		}
	}
	assert.Equal(t, 3, open, "open games listed (%v; b1 %s c1 %s)", statuses, b1, c1)
}

// An open game nobody joins disappears after OpenGameTTL, with its slots.
func TestOpenGamesExpire(t *testing.T) {
	th := nimHub(t, &chatfly.Options{OpenGameTTL: 5 * time.Minute, PresenceTTL: time.Hour}, "Ada", "Bob")
	id1, _ := th.open("Ada")
	th.clock.Advance(time.Minute)
	id2, _ := th.open("Ada")
	_, code := th.open("Ada")
	require.Equal(t, "too_many", code)

	th.clock.Advance(4 * time.Minute) // the first one is 5 minutes old
	ids, _ := th.listed("Bob")
	assert.Equal(t, []string{id2}, ids, "listed after the first expired")
	th.wantError(th.conns["Bob"], `{"action":"game.accept","room":"games","game":"`+id1+`"}`, "not_found")
	_, code = th.open("Ada")
	assert.Empty(t, code, "Ada opens again once one expired")

	// A game that started lives on: only waiting expires.
	require.Equal(t, "playing", gameOf(th.gameAction("Bob", "game.accept", id2))["status"])
	th.clock.Advance(10 * time.Minute)
	ids, statuses := th.listed("Bob")
	assert.Equal(t, []string{id2}, ids)
	assert.Equal(t, []string{"playing"}, statuses)
}

// game.list is bounded: newest first, at most MaxGameList games, of which at
// most 3 finished; one's own running games are always among them.
func TestGameListBounded(t *testing.T) {
	th := nimHub(t, &chatfly.Options{MaxGameList: 4}, "Ada", "Bob", "Cy", "Dee", "Sam")
	var over, playing []string
	for range 5 {
		th.clock.Advance(time.Second)
		id, _ := th.open("Ada")
		th.gameAction("Ada", "game.resign", id)
		over = append(over, id)
	}
	ids, _ := th.listed("Bob")
	assert.Equal(t, []string{over[4], over[3], over[2]}, ids, "only the 3 latest finished games")
	for range 3 {
		th.clock.Advance(time.Second)
		id, _ := th.open("Ada")
		th.gameAction("Bob", "game.accept", id)
		playing = append(playing, id)
	}
	ids, statuses := th.listed("Bob")
	assert.Equal(t, []string{playing[2], playing[1], playing[0], over[4]}, ids)
	assert.Equal(t, []string{"playing", "playing", "playing", "over"}, statuses)

	// Four newer games push Ada's out of a spectator's list, not of hers.
	var newer []string
	for _, who := range []string{"Cy", "Cy", "Dee", "Dee"} {
		th.clock.Advance(time.Second)
		id, code := th.open(who)
		require.Empty(t, code)
		newer = append(newer, id)
	}
	ids, _ = th.listed("Sam")
	assert.Equal(t, []string{newer[3], newer[2], newer[1], newer[0]}, ids, "a spectator's list")
	ids, _ = th.listed("Ada")
	assert.Equal(t, []string{newer[3], playing[2], playing[1], playing[0]}, ids, "Ada's list")
}

// The caps hold across Hubs sharing a Storage under concurrent starts:
// per room, per session, and server-wide (MaxOpenGames).
func TestOpenGameCapsHoldUnderConcurrency(t *testing.T) {
	th := nimHub(t, &chatfly.Options{MaxOpenGamesPerSession: 2, MaxOpenGamesPerRoom: 5, MaxOpenGames: 7})
	other := chatfly.New(th.store, th.tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Games: []chatfly.Game{nim{}}, RateLimit: chatfly.RateLimit{Count: -1},
		MaxOpenGamesPerSession: 2, MaxOpenGamesPerRoom: 5, MaxOpenGames: 7, Now: th.clock.Now})
	ctx := context.Background()
	hubs := []*chatfly.Hub{th.hub, other}
	type player struct {
		hub        *chatfly.Hub
		conn, room string
	}
	var players []player
	for i := range 12 {
		p := player{hub: hubs[i%2], conn: fmt.Sprintf("p%02d", i), room: []string{"games", "lobby"}[i/6]}
		require.NoError(t, p.hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: p.conn}))
		require.NoError(t, p.hub.Receive(ctx, p.conn, []byte(`{"action":"hello","name":"`+p.conn+`"}`)))
		require.NoError(t, p.hub.Receive(ctx, p.conn, []byte(`{"action":"join","room":"`+p.room+`"}`)))
		players = append(players, p)
	}
	var wg sync.WaitGroup
	for _, p := range players {
		for range 4 {
			wg.Go(func() {
				assert.NoError(t, p.hub.Receive(ctx, p.conn, []byte(`{"action":"game.start","room":"`+p.room+`","game":"nim"}`)))
			})
		}
	}
	wg.Wait()
	perRoom := map[string]int{}
	perSession := map[string]int{}
	for _, room := range []string{"games", "lobby"} {
		items, err := th.store.Query(ctx, chatfly.Query{Partition: "room#" + room, Prefix: "game#"})
		require.NoError(t, err)
		for _, it := range items {
			var g struct {
				Status string           `json:"status"`
				Seats  []chatfly.Member `json:"seats"`
			}
			require.NoError(t, json.Unmarshal(it.Value, &g))
			if g.Status == "open" {
				perRoom[room]++
				perSession[g.Seats[0].ID]++
			}
		}
	}
	total := perRoom["games"] + perRoom["lobby"]
	assert.LessOrEqual(t, perRoom["games"], 5)
	assert.LessOrEqual(t, perRoom["lobby"], 5)
	// Near the server-wide cap a start may be refused a little early (it
	// probes 4 slots), never late.
	assert.LessOrEqual(t, total, 7, "open games server-wide: %v", perRoom)
	assert.GreaterOrEqual(t, total, 5, "open games server-wide: %v", perRoom)
	for sid, n := range perSession {
		assert.LessOrEqual(t, n, 2, "open games of %s", sid)
	}
}

// countingStore counts a Hub's storage calls and the items its queries
// return. It is a Storage without the optional capabilities (the Hub's
// fallbacks); its Storage() has those of the inner Storage.
type countingStore struct {
	basic
	inner chatfly.Storage
	mu    sync.Mutex
	calls map[string]int
}

// basic names the embedded Storage of countingStore, which hides the
// optional interfaces.
type basic = chatfly.Storage

func (s *countingStore) count(op string, n int) {
	s.mu.Lock()
	s.calls[op] += n
	s.mu.Unlock()
}

func newCountingStore(st chatfly.Storage) *countingStore {
	cs := &countingStore{inner: st, calls: map[string]int{}}
	cs.basic = counting{cs}
	return cs
}

// Storage returns the counting Storage, with the optional capabilities of
// the inner one. A batch counts as one call.
func (s *countingStore) Storage() chatfly.Storage { return chatfly.WrapStorage(counting{s}, s.inner) }

// totals returns the number of calls and of items queries returned so
// far, and starts again.
func (s *countingStore) totals() (calls, items int) {
	for op, n := range s.take() {
		if op == "items" {
			items = n
		} else {
			calls += n
		}
	}
	return calls, items
}

// take returns the counts so far, by operation ("items": the items queries
// returned), and starts again.
func (s *countingStore) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = map[string]int{}
	return c
}

// counting is the Storage of a countingStore.
type counting struct{ s *countingStore }

func (c counting) Get(ctx context.Context, k chatfly.Key) (chatfly.Item, error) {
	c.s.count("Get", 1)
	return c.s.inner.Get(ctx, k)
}

func (c counting) Put(ctx context.Context, it chatfly.Item, cond chatfly.Cond) (int64, error) {
	c.s.count("Put", 1)
	return c.s.inner.Put(ctx, it, cond)
}

func (c counting) Delete(ctx context.Context, k chatfly.Key, cond chatfly.Cond) error {
	c.s.count("Delete", 1)
	return c.s.inner.Delete(ctx, k, cond)
}

func (c counting) Query(ctx context.Context, q chatfly.Query) ([]chatfly.Item, error) {
	items, err := c.s.inner.Query(ctx, q)
	c.s.count("Query", 1)
	c.s.count("items", len(items))
	return items, err
}

func (c counting) Add(ctx context.Context, k chatfly.Key, d int64, exp time.Time) (int64, error) {
	c.s.count("Add", 1)
	return c.s.inner.Add(ctx, k, d, exp)
}

func (c counting) Scan(ctx context.Context, q chatfly.Query, f func(it *chatfly.Item, left int) bool) error {
	n := 0
	err := c.s.inner.(chatfly.Scanner).Scan(ctx, q, func(it *chatfly.Item, left int) bool {
		n++
		return f(it, left)
	})
	c.s.count("Scan", 1)
	c.s.count("items", n)
	return err
}

func (c counting) GetMany(ctx context.Context, keys []chatfly.Key) ([]chatfly.Item, error) {
	c.s.count("GetMany", 1)
	return c.s.inner.(chatfly.Batcher).GetMany(ctx, keys)
}

func (c counting) WriteMany(ctx context.Context, writes []chatfly.Write) error {
	c.s.count("WriteMany", 1)
	return c.s.inner.(chatfly.Batcher).WriteMany(ctx, writes)
}

func (c counting) Touch(ctx context.Context, k chatfly.Key, exp time.Time, cond chatfly.Cond) error {
	c.s.count("Touch", 1)
	return c.s.inner.(chatfly.Toucher).Touch(ctx, k, exp, cond)
}

func (counting) ValueConditions() {}

// The storage cost of the limits: opening a game claims its three slots
// (one Query, three Puts) besides storing the game; starting it deletes
// them; game.list reads at most 5×MaxGameList games however many the room
// has; the mute check of typing reads no more where the room can be
// moderated (the mute is in the member items it reads).
func TestGameLimitsStorageCalls(t *testing.T) {
	opts := &chatfly.Options{MaxGameList: 4}
	th := nimHub(t, opts, "Ada", "Bob")
	cs := newCountingStore(th.store)
	th.hub = chatfly.New(cs.Storage(), th.tr, opts)
	room := th.createRoom(th.conns["Ada"], "club", "private")
	th.join(th.conns["Ada"], room)

	typing := func(room string) map[string]int {
		cs.take()
		th.do(th.conns["Ada"], `{"action":"typing","room":"`+room+`"}`)
		return cs.take()
	}
	inGames, inCustom := typing("games"), typing(room)
	delete(inGames, "items") // a custom room's members Query also reads its status item
	delete(inCustom, "items")
	assert.Equal(t, inGames, inCustom, "typing checks the mute in the members it reads, not the room's meta: in a custom room %v; in a default room %v", inCustom, inGames)

	cs.take()
	for range 30 {
		id, code := th.open("Ada")
		require.Empty(t, code)
		th.gameAction("Ada", "game.resign", id)
	}
	th.clock.Advance(time.Second)
	id, _ := th.open("Ada")
	th.clock.Advance(time.Second)
	cs.take()
	id2, _ := th.open("Ada")
	opened := cs.take()
	th.gameAction("Bob", "game.accept", id)
	accepted := cs.take()
	t.Logf("game.start: %v; game.accept that starts the game: %v", opened, accepted)
	assert.Equal(t, 4, opened["Put"], "game.start: three slots and the game")
	assert.Equal(t, 3, accepted["Delete"], "the started game's three slots")

	ids, _ := th.listed("Bob")
	listed := cs.take()
	assert.Equal(t, []string{id2, id}, ids[:2])
	assert.LessOrEqual(t, listed["items"], 20+2, "items read by game.list (games, and the membership query): %v", listed)
}
