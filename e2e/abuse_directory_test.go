package e2e_test

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
)

// firstPage asks for the first page of rooms and returns it with the size of
// the reply and how long it took.
func firstPage(t *testing.T, c *client.Client) (rooms []chatfly.RoomInfo, next string, bytes int, took time.Duration) {
	t.Helper()
	start := time.Now()
	ev, err := c.Do(ctx(t), "rooms", nil)
	took = time.Since(start)
	require.NoError(t, err)
	var v struct {
		Rooms []chatfly.RoomInfo `json:"rooms"`
		Next  string             `json:"next"`
	}
	require.NoError(t, json.Unmarshal(ev.Raw, &v))
	return v.Rooms, v.Next, len(ev.Raw), took
}

func ids(rooms []chatfly.RoomInfo) []string {
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = r.ID
	}
	return out
}

// talk makes a and b join room and write in it.
func talk(t *testing.T, a, b *client.Client, room string) {
	t.Helper()
	join(t, a, room)
	join(t, b, room)
	for _, c := range []*client.Client{a, b} {
		_, err := c.Send(ctx(t), room, "hello")
		require.NoError(t, err)
	}
}

// 120 sessions, each from its own address, create 3,000 public rooms (the
// attack of issue 13 made 15,000 in under a second and grew the rooms reply
// to 5.5 MB). The directory lists at most MaxListedRooms custom rooms and
// pages them, so the first page stays small, the room people are talking in
// stays on it, a room made after the flood gets listed once two people talk
// in it, and a newcomer lists and joins.
func TestAbuseDirectoryFlood(t *testing.T) {
	const sessions, each = 120, 25
	// A minute for storage: 120 flooders on a loaded 2-core machine must be
	// slow, not cut (the deadline is tested in abuse_flood_test.go).
	s := startServer(t, serverConfig{hub: &chatfly.Options{RoomsPerHour: each, StorageTimeout: time.Minute}})
	ada, bob := s.dial("Ada", nil), s.dial("Bob", nil)
	real := createRoom(t, ada, "Book club")
	talk(t, ada, bob, real)
	_, _, quietBytes, _ := firstPage(t, ada)

	var made, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range sessions {
		c := s.dialFrom("flood"+itoa(i), i+1)
		wg.Go(func() {
			for range each {
				_, err := c.Do(ctx(t), "room.create", map[string]any{"name": "free stuff", "topic": "click here", "visibility": "public"})
				switch {
				case err == nil:
					made.Add(1)
				case errors.Is(err, chatfly.ErrTooMany) || errors.Is(err, chatfly.ErrRateLimited):
					refused.Add(1)
				default:
					t.Errorf("room.create: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, sessions*each, made.Load(), "every room was made (%d refused)", refused.Load())

	newcomer := s.dial("Newcomer", nil)
	rooms, more, bytes, took := firstPage(t, newcomer)
	t.Logf("first page with %d public rooms: %d rooms, %d bytes (%d before the flood) in %v", made.Load()+1, len(rooms), bytes, quietBytes, took)
	assert.Len(t, rooms, 20)
	assert.NotEmpty(t, more)
	assert.Less(t, bytes, 8<<10, "the first page stays small")
	assert.Equal(t, real, rooms[0].ID, "the room in use is listed first")

	// Every page together lists at most MaxListedRooms custom rooms.
	var all []string
	for cursor, pages := "", 0; ; pages++ {
		page, next, err := newcomer.Rooms(ctx(t), cursor, 100)
		require.NoError(t, err)
		all = append(all, ids(page)...)
		if next == "" {
			t.Logf("%d rooms listed in %d pages of 100", len(all), pages+1)
			break
		}
		cursor = next
	}
	assert.Len(t, all, 3+200, "the default rooms and MaxListedRooms custom rooms")
	sorted := slices.Clone(all)
	sort.Strings(sorted)
	assert.Len(t, slices.Compact(sorted), len(all), "no room twice")

	// A room made after the flood is not listed until two people talk in it.
	cy, dee := s.dial("Cy", nil), s.dial("Dee", nil)
	late := createRoom(t, cy, "Chess")
	page, _, err := newcomer.Rooms(ctx(t), "", 100)
	require.NoError(t, err)
	assert.NotContains(t, ids(page), late)
	talk(t, cy, dee, late)
	rooms, _, _, _ = firstPage(t, newcomer)
	assert.Contains(t, ids(rooms[:2]), late, "listed among the busiest once two people talk")

	// The newcomer joins the listed room and chats.
	join(t, newcomer, real)
	_, err = newcomer.Send(ctx(t), real, "hi all")
	require.NoError(t, err)
	for m := next(t, ada, "message"); m.Text != "hi all"; m = next(t, ada, "message") {
	}

	// 20 clients polling the first page at once.
	var pollers []*client.Client
	for i := range 20 {
		pollers = append(pollers, s.dial("poller"+itoa(i), nil))
	}
	var worst atomic.Int64
	start := time.Now()
	for _, p := range pollers {
		wg.Go(func() {
			for range 10 {
				_, _, _, took := firstPage(t, p)
				if int64(took) > worst.Load() {
					worst.Store(int64(took))
				}
			}
		})
	}
	wg.Wait()
	t.Logf("20 clients × 10 first pages: %v in all, slowest %v", time.Since(start), time.Duration(worst.Load()))
}
