package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/storage/storagetest"
)

// The memory part of the abuse suite (issue 13): sessions that stay inside
// the rate limit used to grow a standalone server without bound (18 MB to
// 552 MB in 60 s), and nothing was freed after they left.

// TestAbuseMemoryFloodStaysWithinBudget floods a server on a memstore with
// an 8 MiB budget: 40 sessions, each from its own address, each in 5 rooms
// of its own, send 2,000-character (6,000-byte) messages at half the rate
// limit for 40 s of (fake) time, almost three times the budget. The store's accounted bytes
// and the live heap stay within the budget plus a margin, a newcomer can
// still join the lobby and chat, members of a flooded room catch up with
// join "after" from where history now starts, without a hole; after the
// flooders leave and their rooms expire, the memory is given back.
func TestAbuseMemoryFloodStaysWithinBudget(t *testing.T) {
	const (
		budget   = 8 << 20
		flooders = 40
		rooms    = 5  // per flooder
		perRound = 25 // messages per flooder per 10 s window (limit 50)
		rounds   = 4
	)
	clock := storagetest.NewFakeClock(time.Unix(1_800_000_000, 0))
	store := memstore.New(&memstore.Options{Now: clock.Now, MaxBytes: budget})
	s := startServer(t, serverConfig{store: store, hub: &chatfly.Options{Now: clock.Now}})
	before := liveHeap()
	logMemory(t, "before", store, before)

	type flooder struct {
		c     *client.Client
		rooms []string
	}
	fl := make([]flooder, flooders)
	// Not s.dialFrom: its cleanups would keep every client (and its event
	// buffer) until the test ends, and the heap is measured after they
	// leave.
	t.Cleanup(func() {
		for _, f := range fl {
			_ = f.c.Close()
		}
	})
	var drained sync.WaitGroup
	for i := range fl {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 4, byte(i+1))}}
		opts := &client.Options{Name: fmt.Sprintf("Flood%d", i), EventBuffer: 64,
			HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}}
		c, err := client.Dial(ctx(t), s.url, opts)
		require.NoError(t, err)
		fl[i].c = c
		drained.Go(func() {
			for range c.Events() { // their own messages, fanned out back
			}
		})
		for r := range rooms {
			fl[i].rooms = append(fl[i].rooms, createRoom(t, c, fmt.Sprintf("flood %d.%d", i, r)))
		}
	}
	text := strings.Repeat("洪水", 1000) // 2,000 characters, 6,000 bytes
	connected := liveHeap()
	logMemory(t, "flooders connected", store, connected)

	var maxBytes, maxHeap int64
	for round := range rounds {
		// One context per round (ctx(t) keeps each until the test ends),
		// generous for the race detector on a busy machine.
		floodCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var wg sync.WaitGroup
		for _, f := range fl {
			wg.Go(func() {
				for k := range perRound {
					if _, err := f.c.Send(floodCtx, f.rooms[k%rooms], text); err != nil {
						t.Errorf("round %d: %v", round, err)
						return
					}
				}
			})
		}
		wg.Wait()
		cancel()
		if t.Failed() {
			t.FailNow()
		}
		st := store.Stats()
		maxBytes = max(maxBytes, st.Bytes)
		require.LessOrEqual(t, st.Bytes, int64(budget+budget/32), "round %d: %+v", round, st)
		if round%2 == 1 {
			h := liveHeap()
			maxHeap = max(maxHeap, h-connected)
			require.Less(t, h-connected, int64(2*budget), "round %d: live heap grew from %d to %d bytes", round, connected, h)
		}
		clock.Advance(10 * time.Second)
	}
	st := store.Stats()
	written := int64(flooders * perRound * rounds * len(text))
	require.Greater(t, written, int64(2*budget))
	require.Positive(t, st.Evicted, "%+v", st)
	logMemory(t, fmt.Sprintf("after %d messages (%d bytes of text)", flooders*perRound*rounds, written), store, liveHeap())
	t.Logf("at most %d bytes accounted, %d bytes of heap above the flooders' connections", maxBytes, maxHeap)

	// A newcomer can still join and chat.
	nc := s.dial("Newcomer", nil)
	join(t, nc, "lobby")
	_, err := nc.Send(ctx(t), "lobby", "is anyone here?")
	require.NoError(t, err)

	// A member of a flooded room catches up: history starts later, and
	// runs without a hole to the latest message. (The room is one that lost
	// some of its messages, not all.)
	var room string
	for i := 0; room == ""; i++ {
		room = partlyEvicted(store, fl[i].rooms)
	}
	member := s.dial("Member", nil)
	for _, after := range []int64{0, 1} {
		j, err := member.Join(ctx(t), room, after)
		require.NoError(t, err)
		require.NotEmpty(t, j.History, "join after %d", after)
		first, last := j.History[0].Seq, j.History[len(j.History)-1].Seq
		require.Equal(t, j.Room.Seq, last, "join after %d: history ends at %d", after, last)
		require.Greater(t, first, after+1, "join after %d: the oldest messages are still there", after)
		for i, m := range j.History {
			require.Equal(t, first+int64(i), m.Seq, "join after %d: a hole in the history", after)
		}
		older, _, err := member.History(ctx(t), room, first, 50)
		require.NoError(t, err)
		for i, m := range older {
			require.Equal(t, first-int64(len(older)-i), m.Seq, "history before %d: a hole", first)
		}
		require.NoError(t, member.Leave(ctx(t), room))
	}

	// The flooders leave; their rooms expire after RoomTTL.
	for _, f := range fl {
		require.NoError(t, f.c.Close())
	}
	drained.Wait()
	fl = nil
	_ = member.Close()
	clock.Advance(25 * time.Hour) // RoomTTL defaults to 24 h
	// Any traffic reclaims what expired (the store sweeps every minute).
	_ = nc.Close()
	later := s.dial("Later", nil)
	join(t, later, "lobby")
	_, err = later.Send(ctx(t), "lobby", "quiet now")
	require.NoError(t, err)
	after := liveHeap()
	st = store.Stats()
	logMemory(t, "after the flooders left", store, after)
	require.Less(t, st.Bytes, int64(256<<10), "%+v", st)
	require.Less(t, after-before, int64(4<<20), "live heap %d bytes before the flood, %d after", before, after)
}

// partlyEvicted returns one of rooms that lost its oldest messages but not
// all of them, or "".
func partlyEvicted(store *memstore.Store, rooms []string) string {
	for _, room := range rooms {
		q := chatfly.Query{Partition: "room#" + room, Prefix: "msg#", Limit: 1}
		if oldest, err := store.Query(context.Background(), q); err == nil && len(oldest) == 1 && !strings.HasSuffix(oldest[0].Sort, "#0000000000000001") {
			return room
		}
	}
	return ""
}

// createRoom creates a public custom room, joins it and returns its id.
func createRoom(t *testing.T, c *client.Client, name string) string {
	t.Helper()
	ev, err := c.Do(ctx(t), "room.create", map[string]any{"name": name, "visibility": "public"})
	require.NoError(t, err)
	var created struct {
		Room chatfly.RoomInfo `json:"room"`
	}
	require.NoError(t, json.Unmarshal(ev.Raw, &created))
	join(t, c, created.Room.ID)
	return created.Room.ID
}

// liveHeap returns the bytes of live heap after a collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// logMemory logs the store's statistics, the live heap and the process's
// resident set (where /proc tells it).
func logMemory(t *testing.T, when string, store *memstore.Store, heap int64) {
	t.Helper()
	rss := "?"
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				rss = strings.TrimSpace(v)
			}
		}
	}
	t.Logf("%s: store %+v, live heap %.1f MiB, RSS %s", when, store.Stats(), float64(heap)/(1<<20), rss)
}
