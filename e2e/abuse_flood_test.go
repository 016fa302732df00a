package e2e_test

// Abuse through real sockets: a flooder, sockets that never say hello, a
// storage that stops answering. Each case is bounded in count and time and
// asserts what a person would notice.

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/internal/hangstore"
	"github.com/chatfly/chatfly/storage/memstore"
)

// rawDial opens a WebSocket to s from the loopback address from (e.g.
// "127.0.0.2"), without the Go client: the attacker speaks raw frames.
func rawDial(t *testing.T, s *server, from string) *websocket.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	c, _, err := websocket.Dial(ctx(t), s.url, &websocket.DialOptions{HTTPClient: hc})
	require.NoError(t, err)
	c.SetReadLimit(-1)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// readAll reads the connection's server frames until it ends, splitting
// coalesced messages, and returns them with the error that ended it.
func readAll(c *websocket.Conn) (frames []map[string]any, err error) {
	for {
		rctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		_, b, err := c.Read(rctx)
		cancel()
		if err != nil {
			return frames, err
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			var f map[string]any
			if json.Unmarshal([]byte(line), &f) == nil {
				frames = append(frames, f)
			}
		}
	}
}

// A socket pushing 16 KiB frames as fast as it can is told once
// (rate_limited, with the id of its first frame over the limit), gets no
// more replies, and is closed with 1008 once it has sent twice the limit;
// its writes then fail. Meanwhile a newcomer joins and chats normally.
func TestAbuseFlooderIsToldOnceThenClosed(t *testing.T) {
	fixed := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // one rate window for the whole test
	now := func() time.Time { return fixed }
	const limit = 20
	s := startServer(t, serverConfig{
		store: memstore.New(&memstore.Options{Now: now}),
		hub:   &chatfly.Options{Now: now, RateLimit: chatfly.RateLimit{Count: limit, Window: time.Minute}},
	})
	flooder := rawDial(t, s, "127.0.0.2")
	type result struct {
		frames []map[string]any
		err    error
	}
	read := make(chan result, 1)
	go func() { f, err := readAll(flooder); read <- result{f, err} }()
	pad := strings.Repeat("x", chatfly.DefaultMaxFrameBytes-100)
	sent := 0
	for ; sent < 5000; sent++ {
		frame := `{"action":"hello","id":0,"name":"Flood"}`
		if sent > 0 {
			frame = `{"action":"ping","id":` + strconv.Itoa(sent) + `,"pad":"` + pad + `"}`
		}
		if flooder.Write(ctx(t), websocket.MessageText, []byte(frame)) != nil {
			break
		}
	}
	assert.Less(t, sent, 5000, "the flooder's writes kept succeeding: it was not cut off")
	t.Logf("the flooder wrote %d frames of 16 KiB before its connection failed", sent)

	// The newcomer, from another address, chats normally after the flood.
	ada, lin := s.dial("Ada", nil), s.dial("Lin", nil)
	join(t, ada, "lobby")
	join(t, lin, "lobby")
	_, err := ada.Send(ctx(t), "lobby", "still works")
	require.NoError(t, err)
	assert.Equal(t, "still works", next(t, lin, "message").Text)

	r := <-read
	assert.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(r.err), "closed with 1008: %v", r.err)
	var ce websocket.CloseError
	if errors.As(r.err, &ce) {
		assert.Equal(t, "rate limit exceeded", ce.Reason)
	}
	var answered, limited []map[string]any
	for _, f := range r.frames {
		if f["type"] == "error" {
			limited = append(limited, f)
		} else {
			answered = append(answered, f)
		}
	}
	// hello counts against the connection like the pings.
	assert.Len(t, answered, limit, "welcome and 19 pongs")
	require.Len(t, limited, 1, "one rate_limited reply for the whole window: %v", limited)
	assert.Equal(t, "rate_limited", limited[0]["code"])
	assert.Equal(t, float64(limit), limited[0]["id"], "the first frame over the limit is the one answered")
}

// Sockets that connect and never say hello (some send other frames) are
// closed with 4002 after HelloTimeout, while someone who says hello chats
// on.
func TestAbuseNoHelloSocketsAreClosed(t *testing.T) {
	s := startServer(t, serverConfig{hub: &chatfly.Options{HelloTimeout: 300 * time.Millisecond}})
	ada := s.dial("Ada", nil)
	join(t, ada, "lobby")
	var idle []*websocket.Conn
	for i := range 20 {
		c := rawDial(t, s, "127.0.0."+strconv.Itoa(2+i%4))
		if i%5 == 0 {
			require.NoError(t, c.Write(ctx(t), websocket.MessageText, []byte(`{"action":"rooms","id":1}`)))
		}
		idle = append(idle, c)
	}
	var wg sync.WaitGroup
	codes := make([]websocket.StatusCode, len(idle))
	for i, c := range idle {
		wg.Go(func() {
			_, err := readAll(c)
			codes[i] = websocket.CloseStatus(err)
		})
	}
	wg.Wait()
	for i, code := range codes {
		assert.Equal(t, websocket.StatusCode(chatfly.CloseHelloTimeout), code, "socket %d", i)
	}
	// Ada said hello: her connection is still there, and works.
	_, err := ada.Send(ctx(t), "lobby", "hi")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.ws.Len() == 1 }, 15*time.Second, 5*time.Millisecond, "the idle sockets are gone")
}

// A storage that stops answering costs a bounded wait: a request is
// answered "unavailable" with its id (the client matches it to the
// request), a new connection is refused with 503, and when the storage is
// back everything works again. A ping, which needs no storage on the
// server that holds the socket, is answered all along.
func TestAbuseHungStorageAnswersUnavailable(t *testing.T) {
	hs := hangstore.New(memstore.New(nil))
	s := startServer(t, serverConfig{store: hs.Storage(), hub: &chatfly.Options{StorageTimeout: 200 * time.Millisecond}})
	ada := s.dial("Ada", nil)
	join(t, ada, "lobby")

	hs.HangAll()
	_, err := ada.Send(ctx(t), "lobby", "are you there?")
	require.ErrorIs(t, err, chatfly.ErrUnavailable)
	require.NoError(t, ada.Ping(ctx(t)), "a ping needs no storage on the server that holds the socket")
	_, err = client.Dial(ctx(t), s.url, &client.Options{Name: "Lin"})
	var he *client.HandshakeError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusServiceUnavailable, he.StatusCode)
	assert.ErrorIs(t, err, chatfly.ErrUnavailable)

	hs.HangIf(nil)
	_, err = ada.Send(ctx(t), "lobby", "back")
	require.NoError(t, err)
	lin := s.dial("Lin", nil)
	join(t, lin, "lobby")
}
