package wstransport_test

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/transport/wstransport"
)

// helloHub is a fakeHub with a hello timeout, as *chatfly.Hub has: the
// frame "hello" is its hello, which it reports with SaidHello.
type helloHub struct {
	*fakeHub
	timeout time.Duration
}

func (h helloHub) HelloTimeout() time.Duration { return h.timeout }

func (h helloHub) Receive(ctx context.Context, connID string, frame []byte) error {
	if string(frame) == "hello" {
		h.tr.SaidHello(connID)
	}
	return h.fakeHub.Receive(ctx, connID, frame)
}

func TestHelloTimeout(t *testing.T) {
	e := newEnv(t, envConfig{wrap: func(h *fakeHub) wstransport.Hub {
		h.echo = true
		return helloHub{fakeHub: h, timeout: 100 * time.Millisecond}
	}})
	// greeter says hello; then chatter, which sends frames but no hello,
	// and idle, which sends nothing, connect after it: when they are
	// closed, greeter's deadline has passed too.
	greeter, gid := e.dial(e.url, nil)
	write(t, greeter, "hello")
	frames, _ := readFrames(t, greeter, 1)
	require.Equal(t, []string{"hello"}, frames)
	chatter, cid := e.dial(e.url, nil)
	write(t, chatter, "not hello")
	idle, iid := e.dial(e.url, nil)

	for _, c := range []*websocket.Conn{chatter, idle} {
		err := readUntilClose(c)
		assert.Equal(t, websocket.StatusCode(chatfly.CloseHelloTimeout), websocket.CloseStatus(err), "err = %v", err)
	}
	waitUntil(t, "disconnects", func() bool { return e.hub.disconnectCount(cid) == 1 && e.hub.disconnectCount(iid) == 1 })

	write(t, greeter, "still here")
	frames, _ = readFrames(t, greeter, 1)
	assert.Equal(t, []string{"still here"}, frames)
	assert.Zero(t, e.hub.disconnectCount(gid))
}

// Options.HelloTimeout applies to a hub without a HelloTimeout method.
func TestHelloTimeoutOption(t *testing.T) {
	e := newEnv(t, envConfig{opts: &wstransport.Options{HelloTimeout: 50 * time.Millisecond}})
	c, _ := e.dial(e.url, nil)
	err := readUntilClose(c)
	assert.Equal(t, websocket.StatusCode(chatfly.CloseHelloTimeout), websocket.CloseStatus(err), "err = %v", err)
}

func TestBinaryFrameCloses(t *testing.T) {
	e := newEnv(t, envConfig{})
	c, id := e.dial(e.url, nil)
	write(t, c, "text first")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Write(ctx, websocket.MessageBinary, []byte(`{"action":"ping"}`)))
	err := readUntilClose(c)
	assert.Equal(t, websocket.StatusCode(chatfly.CloseUnsupported), websocket.CloseStatus(err), "err = %v", err)
	waitUntil(t, "disconnect", func() bool { return e.hub.disconnectCount(id) == 1 })
	assert.Equal(t, []string{"text first"}, e.hub.framesOf(id), "the binary frame never reached the hub")
}
