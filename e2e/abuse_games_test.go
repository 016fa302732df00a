package e2e_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/games/builtin"
)

// dialFrom dials s as name from the loopback address 127.0.3.n, so that
// each attacker of a test has its own client address.
func (s *server) dialFrom(name string, n int) *client.Client {
	s.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 3, byte(n))}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	s.t.Cleanup(hc.CloseIdleConnections)
	return s.dial(name, &client.Options{HTTPClient: hc})
}

// tally counts the frames (lines) and bytes c receives until it closes.
func tally(c *client.Client) (frames, bytes *atomic.Int64, done <-chan struct{}) {
	frames, bytes = new(atomic.Int64), new(atomic.Int64)
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for ev := range c.Events() {
			frames.Add(1)
			bytes.Add(int64(len(ev.Raw)) + 1)
		}
	}()
	return frames, bytes, ch
}

// 100 sessions, each from its own address and within the rate limit, try
// to open 45 games each in one room (the attack of issue 13, which used to
// send every member 4,602 frames, 991 KB, and give a newcomer a 981 KB
// game.list). The room holds at most MaxOpenGamesPerRoom open games, so a
// member who watches receives a bounded number of frames, and a newcomer's
// game.list stays small.
func TestAbuseManyGamesInOneRoom(t *testing.T) {
	const attackers, tries = 100, 45
	s := startServer(t, serverConfig{hub: &chatfly.Options{Games: builtin.All()}})
	watcher := s.dial("Wendy", nil)
	join(t, watcher, "games")
	frames, bytes, watched := tally(watcher)

	var opened, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range attackers {
		c := s.dialFrom("bot"+itoa(i), i+1)
		go func() {
			for range c.Events() { // a bot reads what it is sent
			}
		}()
		join(t, c, "games")
		wg.Go(func() {
			for range tries {
				_, err := c.Do(ctx(t), "game.start", map[string]any{"room": "games", "game": "tictactoe"})
				switch {
				case err == nil:
					opened.Add(1)
				case errors.Is(err, chatfly.ErrTooMany):
					refused.Add(1)
				default:
					t.Errorf("game.start: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, watcher.Ping(ctx(t))) // everything sent to Wendy before this has arrived
	require.NoError(t, watcher.Close())
	<-watched

	newcomer := s.dial("Nina", nil)
	join(t, newcomer, "games")
	list, err := newcomer.Do(ctx(t), "game.list", map[string]any{"room": "games"})
	require.NoError(t, err)
	t.Logf("%d×%d game.start: %d opened, %d too_many; the watcher received %d frames (%d bytes); a newcomer's game.list: %d bytes",
		attackers, tries, opened.Load(), refused.Load(), frames.Load(), bytes.Load(), len(list.Raw))

	assert.LessOrEqual(t, opened.Load(), int64(10), "open games in the room (MaxOpenGamesPerRoom)")
	// Wendy saw the bots join (100 presence events) and at most the 10
	// games, and the replies to her own frames.
	assert.LessOrEqual(t, frames.Load(), int64(attackers+10+2))
	assert.Less(t, bytes.Load(), int64(64<<10))
	assert.Less(t, len(list.Raw), 16<<10)
}

// A muted member's typing and game.start are refused over the real
// protocol, and nobody sees them.
func TestAbuseMutedMemberCannotTypeOrStartGames(t *testing.T) {
	s := startServer(t, serverConfig{hub: &chatfly.Options{Games: builtin.All()}})
	owner, max := s.dial("Olga", nil), s.dial("Max", nil)
	ev, err := owner.Do(ctx(t), "room.create", map[string]any{"name": "club"})
	require.NoError(t, err)
	var created struct {
		Room chatfly.RoomInfo `json:"room"`
	}
	require.NoError(t, json.Unmarshal(ev.Raw, &created))
	room := created.Room.ID
	join(t, owner, room)
	join(t, max, room)
	_, err = owner.Do(ctx(t), "room.mute", map[string]any{"room": room, "member": max.Welcome().Session, "duration": 600})
	require.NoError(t, err)

	_, err = max.Do(ctx(t), "typing", map[string]any{"room": room})
	assert.ErrorIs(t, err, chatfly.ErrMuted, "typing")
	_, err = max.Do(ctx(t), "game.start", map[string]any{"room": room, "game": "tictactoe"})
	assert.ErrorIs(t, err, chatfly.ErrMuted, "game.start")

	_, err = owner.Do(ctx(t), "room.unmute", map[string]any{"room": room, "member": max.Welcome().Session})
	require.NoError(t, err)
	_, err = max.Do(ctx(t), "typing", map[string]any{"room": room})
	require.NoError(t, err)
	// Olga sees Max typing only after the unmute, and no game.
	unmuted := false
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-owner.Events():
			require.NotEqual(t, "game.state", ev.Type, "a refused game was announced")
			if ev.Type == "moderation" && strings.Contains(string(ev.Raw), `"action":"unmute"`) {
				unmuted = true
			}
			if ev.Type == "typing" {
				require.True(t, unmuted, "Olga saw muted Max typing")
				return
			}
		case <-timeout:
			t.Fatal("no typing event after the unmute")
		}
	}
}
