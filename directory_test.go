package chatfly_test

import (
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatfly/chatfly"

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

// page asks for one page of rooms and returns their ids and the next cursor.
func page(th *testHub, conn, cursor string, limit int) (ids []string, next string) {
	th.t.Helper()
	f := `{"action":"rooms","id":"p"`
	if cursor != "" {
		f += `,"cursor":` + jsonString(cursor)
	}
	if limit != 0 {
		f += `,"limit":` + strconv.Itoa(limit)
	}
	r := th.reply(conn, f+`}`)
	require.Equal(th.t, "rooms", r["type"], r)
	for _, x := range r["rooms"].([]any) {
		ids = append(ids, x.(map[string]any)["id"].(string))
	}
	next, _ = r["next"].(string)
	return ids, next
}

// allPages follows the cursors from the first page to the last.
func allPages(th *testHub, conn string, limit int) (ids []string, pages int) {
	th.t.Helper()
	cursor := ""
	for {
		p, next := page(th, conn, cursor, limit)
		ids, pages = append(ids, p...), pages+1
		if next == "" {
			return ids, pages
		}
		require.Len(th.t, p, limit, "a page before the last is full")
		require.Less(th.t, pages, 100, "the cursors do not end")
		cursor = next
	}
}

// busyDirectory creates n public rooms with different numbers of members
// and messages (joined by sessions that stay), and returns the owner.
func busyDirectory(th *testHub, n int) (owner string) {
	owner, _ = th.hello("Olga")
	var people []string
	for i := range 4 {
		p, _ := th.hello("P" + strconv.Itoa(i))
		people = append(people, p)
	}
	for i := range n {
		if i%10 == 0 {
			owner, _ = th.hello("Olga" + strconv.Itoa(i)) // within RoomsPerHour
		}
		id := th.createRoom(owner, "room "+strconv.Itoa(i), "public")
		for _, p := range people[:i%3] {
			th.join(p, id)
		}
		if i%3 != 0 && i%2 == 0 {
			th.clock.Advance(time.Second)
			th.do(people[0], `{"action":"send","room":"`+id+`","text":"hi"}`)
		}
		if i%4 == 0 { // someone passing through
			th.join(people[3], id)
			th.reply(people[3], `{"action":"leave","id":1,"room":"`+id+`"}`)
		}
	}
	return owner
}

func TestRoomsPagination(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{MaxRoomsPerSession: 100, RateLimit: chatfly.RateLimit{Count: -1}})
	a := busyDirectory(th, 40)
	for i := range 3 {
		p, _ := th.hello("R" + strconv.Itoa(i))
		th.join(p, "random")
	}
	whole, next := page(th, a, "", 100)
	require.Len(t, whole, 43)
	require.Empty(t, next, "everything fits one page: no cursor")
	assert.Equal(t, "random", whole[0], "the busiest room first")

	for _, limit := range []int{1, 7, 20, 43} {
		ids, pages := allPages(th, a, limit)
		assert.Equal(t, whole, ids, "pages of %d: every room once, in order", limit)
		assert.Equal(t, (43+limit-1)/limit, pages)
	}
	first, _ := page(th, a, "", 0)
	assert.Equal(t, whole[:20], first, "the default page is 20 rooms")

	// What the directory shows is what room.info says, busiest first, then
	// the most recently active.
	var prev map[string]any
	for _, x := range th.reply(a, `{"action":"rooms","id":1,"limit":100}`)["rooms"].([]any) {
		r := x.(map[string]any)
		info := th.reply(a, `{"action":"room.info","id":1,"room":"`+r["id"].(string)+`"}`)["room"].(map[string]any)
		delete(info, "epoch") // set by room.info and join only (RoomInfo.Epoch)
		assert.Equal(t, info, r)
		if prev != nil {
			pm, m := prev["members"].(float64), r["members"].(float64)
			pa, _ := prev["active"].(float64)
			ra, _ := r["active"].(float64)
			assert.True(t, pm > m || (pm == m && pa >= ra), "%v before %v", prev, r)
		}
		prev = r
	}
}

func TestRoomsCursorAfterTheRoomIsGone(t *testing.T) {
	th := newTestHub(t, nil)
	a, _ := th.hello("Ada")
	var made []string
	for i := range 6 {
		made = append(made, th.createRoom(a, "r"+strconv.Itoa(i), "public"))
	}
	whole, _ := page(th, a, "", 100)
	p1, next := page(th, a, "", 4)
	require.Equal(t, whole[:4], p1)
	last := p1[3]
	require.Contains(t, made, last, "the page ends with a custom room")
	th.reply(a, `{"action":"room.delete","id":1,"room":"`+last+`"}`)
	p2, next := page(th, a, next, 4)
	assert.Equal(t, whole[4:8], p2, "the next page starts after the deleted room")
	p3, next := page(th, a, next, 4)
	assert.Equal(t, whole[8:], p3)
	assert.Empty(t, next)
}

func TestRoomsBadCursorAndLimit(t *testing.T) {
	th := newTestHub(t, nil)
	a, _ := th.hello("Ada")
	for _, f := range []string{
		`{"action":"rooms","limit":-1}`,
		`{"action":"rooms","limit":101}`,
		`{"action":"rooms","limit":"5"}`,
		`{"action":"rooms","limit":2.5}`,
		`{"action":"rooms","cursor":5}`,
		`{"action":"rooms","cursor":"not base64!"}`,
		`{"action":"rooms","cursor":"` + base64.RawURLEncoding.EncodeToString([]byte("1.2.lobby")) + `"}`,
		`{"action":"rooms","cursor":"` + base64.RawURLEncoding.EncodeToString([]byte("x.2.3.lobby")) + `"}`,
		`{"action":"rooms","cursor":"` + base64.RawURLEncoding.EncodeToString([]byte("1.2.3.bad id")) + `"}`,
	} {
		th.wantError(a, f, "bad_request")
	}
	ids, _ := page(th, a, "", 100)
	assert.Equal(t, []string{"lobby", "random", "games"}, ids, "the connection still works")
}

// A page costs the same storage calls, and reads a bounded number of items,
// whether there are 10 public rooms or 5,000.
func TestRoomsPageCost(t *testing.T) {
	cost := func(n int) (calls, items, bytes int) {
		opts := &chatfly.Options{RoomsPerHour: n, RateLimit: chatfly.RateLimit{Count: -1}}
		th := newTestHub(t, opts)
		a, _ := th.hello("Ada")
		for i := range n {
			th.createRoom(a, "room "+strconv.Itoa(i), "public")
		}
		cs := newCountingStore(th.store)
		th.hub = chatfly.New(cs.Storage(), th.tr, opts)
		cs.take()
		r := th.do(a, `{"action":"rooms","id":1}`)
		calls, items = cs.totals()
		require.Len(t, r, 1)
		require.Len(t, r[0]["rooms"], min(20, n+3))
		th.tr.mu.Lock()
		defer th.tr.mu.Unlock()
		return calls, items, len(th.tr.raw[a][len(th.tr.raw[a])-1])
	}
	calls10, items10, _ := cost(10)
	calls5k, items5k, bytes5k := cost(5000)
	t.Logf("a page: %d storage calls (%d items read) with 10 rooms, %d (%d items, %d bytes sent) with 5,000", calls10, items10, calls5k, items5k, bytes5k)
	assert.Equal(t, calls10, calls5k)
	assert.LessOrEqual(t, calls5k, 1+1+3*3, "the connection, one Query of the directory, three calls per default room")
	assert.LessOrEqual(t, items5k, 200+3*2, "the directory holds at most MaxListedRooms custom rooms")
}

func TestDirectoryFloodKeepsRoomsInUse(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{MaxListedRooms: 5, RoomsPerHour: 1000, MaxRoomsPerSession: 100, RateLimit: chatfly.RateLimit{Count: -1}})
	f1, _ := th.hello("Flood1")
	f2, _ := th.hello("Flood2")
	a, _ := th.hello("Ada")
	b, _ := th.hello("Bob")
	listed := func() []string { // the custom rooms
		ids, _ := page(th, a, "", 100)
		return slices.DeleteFunc(ids, func(id string) bool { return id == "lobby" || id == "random" || id == "games" })
	}
	var junk []string
	for i := range 25 {
		junk = append(junk, th.createRoom(f1, "junk "+strconv.Itoa(i), "public"))
	}
	require.Len(t, listed(), 5, "the first rooms are listed up to the cap")

	real := th.createRoom(a, "real", "public")
	th.join(a, real)
	th.join(b, real)
	th.do(a, `{"action":"send","room":"`+real+`","text":"hi"}`)
	th.do(a, `{"action":"send","room":"`+real+`","text":"anyone?"}`)
	require.NotContains(t, listed(), real, "one person writing is not enough past the cap")
	th.do(b, `{"action":"send","room":"`+real+`","text":"hello Ada"}`)
	require.Contains(t, listed(), real, "a room two people talk in takes the place of an idle one")

	// The flooder makes rooms look used too, with two sessions that post and
	// leave: they take the idle rooms' places, never the room in use.
	for _, id := range junk[5:] {
		for _, f := range []string{f1, f2} {
			th.join(f, id)
			th.do(f, `{"action":"send","room":"`+id+`","text":"spam"}`)
			th.reply(f, `{"action":"leave","id":1,"room":"`+id+`"}`)
		}
	}
	ids := listed()
	assert.Len(t, ids, 5)
	assert.Equal(t, real, ids[0], "the room in use stays listed, first")
	for _, id := range ids[1:] {
		assert.NotContains(t, junk[:5], id, "idle rooms gave way to rooms with talk")
	}

	// A private room never takes a place; going public it queues like any.
	priv := th.createRoom(b, "quiet", "private")
	th.reply(b, `{"action":"room.update","id":1,"room":"`+priv+`","visibility":"public"}`)
	assert.NotContains(t, listed(), priv)
	// An unlisted room is still there for whoever has its id.
	assert.Equal(t, "room.info", th.reply(a, `{"action":"room.info","id":1,"room":"`+junk[0]+`"}`)["type"])
}

func TestDirectoryShowsActivity(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: -1}})
	a, _ := th.hello("Ada")
	b, _ := th.hello("Bob")
	id := th.createRoom(a, "club", "public")
	shown := func() map[string]any {
		for _, r := range th.reply(b, `{"action":"rooms","id":1}`)["rooms"].([]any) {
			if r.(map[string]any)["id"] == id {
				return r.(map[string]any)
			}
		}
		t.Fatal("not listed")
		return nil
	}
	th.join(a, id)
	th.join(b, id)
	assert.Equal(t, float64(2), shown()["members"], "joins show at once")
	th.do(a, `{"action":"send","room":"`+id+`","text":"one"}`)
	first := th.clock.Now().UnixMilli()
	assert.Equal(t, float64(1), shown()["seq"], "the first message shows at once")
	th.clock.Advance(10 * time.Second)
	th.do(a, `{"action":"send","room":"`+id+`","text":"two"}`)
	assert.Equal(t, float64(first), shown()["active"], "later messages show at most every minute")
	th.clock.Advance(time.Minute)
	th.do(b, `{"action":"send","room":"`+id+`","text":"three"}`)
	assert.Equal(t, float64(3), shown()["seq"])
	assert.Equal(t, float64(th.clock.Now().UnixMilli()), shown()["active"])
	th.reply(b, `{"action":"leave","id":1,"room":"`+id+`"}`)
	assert.Equal(t, float64(1), shown()["members"], "leaves show at once")
	require.NoError(t, th.hub.Disconnect(context.Background(), a))
	assert.Equal(t, float64(0), shown()["members"], "a disconnect leaves too")
}

func TestMaxCustomRooms(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{MaxCustomRooms: 150, RoomsPerHour: 1000, RoomTTL: time.Hour, RateLimit: chatfly.RateLimit{Count: -1}})
	a, _ := th.hello("Ada")
	var made []string
	for i := range 150 {
		made = append(made, th.createRoom(a, "r"+strconv.Itoa(i), "private"))
	}
	create := `{"action":"room.create","id":1,"name":"one more"}`
	th.wantError(a, create, "too_many")

	// A deleted room frees its place at once.
	th.reply(a, `{"action":"room.delete","id":1,"room":"`+made[0]+`"}`)
	kept := th.createRoom(a, "kept", "private")
	th.wantError(a, create, "too_many")

	// A room in use keeps its place past RoomTTL; the idle ones expire and
	// free theirs.
	th.join(a, kept)
	for range 12 {
		th.clock.Advance(10 * time.Minute)
		th.do(a, `{"action":"ping"}`)
	}
	_, err := roomInfo(th, kept)
	require.NoError(t, err, "the room in use is still there")
	for range 149 {
		th.createRoom(a, "new", "private")
	}
	th.wantError(a, create, "too_many")
}

// limitedTransport is a recTransport that delivers frames of at most max
// bytes, as API Gateway does (128 KB).
type limitedTransport struct {
	*recTransport
	max int
}

func (t limitedTransport) MaxSendBytes() int { return t.max }

// A page of long-named rooms is cut to fit the transport's frame limit, and
// the cursor goes on from where it was cut: nothing is lost.
func TestRoomsPageFitsTheTransport(t *testing.T) {
	opts := &chatfly.Options{RoomsPerHour: 1000, RateLimit: chatfly.RateLimit{Count: -1}}
	th := newTestHub(t, opts)
	const limit = 16 << 10
	th.hub = chatfly.New(th.store, limitedTransport{th.tr, limit}, opts)
	a, _ := th.hello("Ada")
	for i := range 150 {
		name := strconv.Itoa(i) + strings.Repeat("é", 60)
		th.reply(a, `{"action":"room.create","id":1,"name":"`+name+`","topic":"`+strings.Repeat("ü", 200)+`","visibility":"public"}`)
	}
	cursor, seen, pages := "", map[string]bool{}, 0
	for {
		f := `{"action":"rooms","id":1,"limit":100`
		if cursor != "" {
			f += `,"cursor":"` + cursor + `"`
		}
		r := th.reply(a, f+`}`)
		th.tr.mu.Lock()
		size := len(th.tr.raw[a][len(th.tr.raw[a])-1])
		th.tr.mu.Unlock()
		require.LessOrEqual(t, size, limit)
		rooms := r["rooms"].([]any)
		require.NotEmpty(t, rooms)
		for _, x := range rooms {
			id := x.(map[string]any)["id"].(string)
			require.False(t, seen[id], "listed twice: %s", id)
			seen[id] = true
		}
		pages++
		next, _ := r["next"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Len(t, seen, 153)
	assert.Greater(t, pages, 2, "pages of 100 long rooms were cut")
}
