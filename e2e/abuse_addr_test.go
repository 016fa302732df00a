package e2e_test

// Abuse from one address, through real sockets: the per-address limits
// (chatfly.AddressLimits) hold while people from other addresses still get
// in. Loopback gives many addresses: attackers dial from 127.0.0.2,
// newcomers from 127.0.0.3 and up.

import (
	"context"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/storage/memstore"
)

// fromAddr returns client options that dial from the loopback address ip.
func fromAddr(ip, name string) *client.Options {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &client.Options{Name: name, HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}}
}

// tryDial dials s as name from ip and returns the client or the error.
func tryDial(t *testing.T, s *server, ip, name string) (*client.Client, error) {
	c, err := client.Dial(ctx(t), s.url, fromAddr(ip, name))
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// newcomerChats has a person from ip join the lobby and say hello, and
// returns how long that took from the dial.
func newcomerChats(t *testing.T, s *server, ip string) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := tryDial(t, s, ip, "Newcomer")
	require.NoError(t, err)
	join(t, c, "lobby")
	_, err = c.Send(ctx(t), "lobby", "hello, is anyone here?")
	require.NoError(t, err)
	return time.Since(start)
}

// attackSockets is the size of the socket flood: 300 by default, more with
// CHATFLY_ABUSE_SOCKETS (the figures in SECURITY.md use 3000).
func attackSockets(t *testing.T) int {
	if n, err := strconv.Atoi(os.Getenv("CHATFLY_ABUSE_SOCKETS")); err == nil && n > 0 {
		return n
	}
	return 300
}

// Many sockets from one address: beyond AddressLimits.Connections (32) the
// upgrade is refused with 429 too_many, the accepted ones sit in the lobby,
// and a newcomer from another address, arriving halfway through the attack,
// still joins the lobby and chats.
func TestAbuseSocketsFromOneAddress(t *testing.T) {
	s := startServer(t, serverConfig{})
	n := attackSockets(t)
	var accepted, refused atomic.Int32
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	attackStart := time.Now()
	var took time.Duration
	for i := range n {
		if i == n/2 {
			took = newcomerChats(t, s, "127.0.0.3") // while the attack runs
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := tryDial(t, s, "127.0.0.2", "bot"+strconv.Itoa(i))
			if err != nil {
				var he *client.HandshakeError
				if assert.ErrorAs(t, err, &he) && assert.Equal(t, http.StatusTooManyRequests, he.StatusCode) {
					assert.ErrorIs(t, err, chatfly.ErrTooMany)
					refused.Add(1)
				}
				return
			}
			accepted.Add(1)
			_, err = c.Join(ctx(t), "lobby", 0)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	attack := time.Since(attackStart)
	assert.Equal(t, int32(32), accepted.Load(), "the default AddressLimits.Connections")
	assert.Equal(t, int32(n), accepted.Load()+refused.Load())
	info, err := s.hub.Room(ctx(t), "lobby")
	require.NoError(t, err)
	ri, err := info.Info(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, 33, ri.Members)
	t.Logf("%d sockets from one address in %v: %d accepted, %d refused with 429; lobby has %d members; a newcomer from another address, during the attack, joined the lobby and chatted in %v",
		n, attack.Round(time.Millisecond), accepted.Load(), refused.Load(), ri.Members, took.Round(time.Microsecond))
}

// One address cannot fill a room: past half full, it holds at most its
// share (AddressLimits.RoomShare), while people from other addresses still
// join, and the room only fills up with many addresses.
func TestAbuseRoomShare(t *testing.T) {
	s := startServer(t, serverConfig{hub: &chatfly.Options{MaxMembersPerRoom: 16, AddressLimits: chatfly.AddressLimits{RoomShare: 3}}})
	in, full := 0, 0
	for i := range 12 {
		c, err := tryDial(t, s, "127.0.0.2", "bot"+strconv.Itoa(i))
		require.NoError(t, err)
		if _, err := c.Join(ctx(t), "lobby", 0); err == nil {
			in++
		} else {
			require.ErrorIs(t, err, chatfly.ErrTooMany)
			full++
		}
	}
	assert.Equal(t, 8, in, "one address fills the room to half, not more")
	assert.Equal(t, 4, full)
	// Others still get in, each address up to its share.
	for ip := 3; ip <= 4; ip++ {
		for i := range 3 {
			c, err := tryDial(t, s, "127.0.0."+strconv.Itoa(ip), "p"+strconv.Itoa(ip)+"-"+strconv.Itoa(i))
			require.NoError(t, err)
			join(t, c, "lobby")
		}
	}
	newcomerChats(t, s, "127.0.0.5")
}

// A fake clock shared by a server's Hub and memstore.
func clockServer(t *testing.T, limits chatfly.AddressLimits) (*server, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	s := startServer(t, serverConfig{
		hub:   &chatfly.Options{Now: clock.Now, AddressLimits: limits},
		store: memstore.New(&memstore.Options{Now: clock.Now}),
	})
	return s, clock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// New sessions per hour from one address are capped; resuming does not
// count, other addresses are not affected, and the next hour opens again.
func TestAbuseSessionsPerHourPerAddress(t *testing.T) {
	s, clock := clockServer(t, chatfly.AddressLimits{SessionsPerHour: 3})
	first, err := tryDial(t, s, "127.0.0.2", "s0")
	require.NoError(t, err)
	for i := 1; i < 3; i++ {
		_, err := tryDial(t, s, "127.0.0.2", "s"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	_, err = tryDial(t, s, "127.0.0.2", "one-too-many")
	require.ErrorIs(t, err, chatfly.ErrTooMany)
	newcomerChats(t, s, "127.0.0.3")

	resumed, err := client.Dial(ctx(t), s.url, &client.Options{Token: first.Welcome().Token, HTTPClient: fromAddr("127.0.0.2", "").HTTPClient})
	require.NoError(t, err, "a resume is not a new session")
	t.Cleanup(func() { _ = resumed.Close() })
	assert.Equal(t, first.Welcome().Session, resumed.Welcome().Session)

	clock.Advance(time.Hour)
	_, err = tryDial(t, s, "127.0.0.2", "next-hour")
	require.NoError(t, err)
}

// Rooms created per hour from one address are capped, whatever the number
// of sessions it makes.
func TestAbuseRoomsPerHourPerAddress(t *testing.T) {
	s, clock := clockServer(t, chatfly.AddressLimits{RoomsPerHour: 4})
	create := func(c *client.Client, name string) error {
		_, err := c.Do(ctx(t), "room.create", map[string]string{"name": name, "visibility": "public"})
		return err
	}
	created := 0
	for i := range 3 {
		c, err := tryDial(t, s, "127.0.0.2", "maker"+strconv.Itoa(i))
		require.NoError(t, err)
		for k := range 2 {
			if err := create(c, "flood "+strconv.Itoa(i)+"-"+strconv.Itoa(k)); err == nil {
				created++
			} else {
				require.ErrorIs(t, err, chatfly.ErrTooMany)
			}
		}
	}
	assert.Equal(t, 4, created)
	other, err := tryDial(t, s, "127.0.0.3", "Olga")
	require.NoError(t, err)
	require.NoError(t, create(other, "book club"))

	clock.Advance(time.Hour)
	again, err := tryDial(t, s, "127.0.0.2", "maker-next-hour")
	require.NoError(t, err)
	require.NoError(t, create(again, "next hour"))
}

// Roulette queue entries from one address are capped: bots cannot fill the
// queue so that everyone is paired with them.
func TestAbuseRouletteWaitersPerAddress(t *testing.T) {
	s := startServer(t, serverConfig{hub: &chatfly.Options{AddressLimits: chatfly.AddressLimits{RouletteWaiting: 3}}})
	queue := func(c *client.Client, interest string) (client.Event, error) {
		return c.Do(ctx(t), "roulette.join", map[string][]string{"interests": {interest}})
	}
	waiting := 0
	for i := range 6 {
		c, err := tryDial(t, s, "127.0.0.2", "bot"+strconv.Itoa(i))
		require.NoError(t, err)
		// Distinct interests: the bots do not pair with each other.
		ev, err := queue(c, "bot"+strconv.Itoa(i))
		if err == nil {
			require.Equal(t, "roulette.waiting", ev.Type)
			waiting++
		} else {
			require.ErrorIs(t, err, chatfly.ErrTooMany)
		}
	}
	assert.Equal(t, 3, waiting)
	// Two people from elsewhere find each other.
	ann, err := tryDial(t, s, "127.0.0.3", "Ann")
	require.NoError(t, err)
	ben, err := tryDial(t, s, "127.0.0.4", "Ben")
	require.NoError(t, err)
	ev, err := queue(ann, "chess")
	require.NoError(t, err)
	require.Equal(t, "roulette.waiting", ev.Type)
	ev, err = queue(ben, "chess")
	require.NoError(t, err)
	require.Equal(t, "roulette.matched", ev.Type)
}

// The raw socket path: a refused upgrade is an HTTP 429 with the
// documented body, readable by any WebSocket client.
func TestAbuseConnectionLimitRawSocket(t *testing.T) {
	s := startServer(t, serverConfig{hub: &chatfly.Options{AddressLimits: chatfly.AddressLimits{Connections: 2}}})
	rawDial(t, s, "127.0.0.2")
	rawDial(t, s, "127.0.0.2")
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	_, resp, err := websocket.Dial(context.Background(), s.url, &websocket.DialOptions{HTTPClient: hc})
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	rawDial(t, s, "127.0.0.3")
}
