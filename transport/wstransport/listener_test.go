package wstransport_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly/transport/wstransport"
)

// echoServer serves ln: every accepted connection echoes one byte, then
// stays open until the test closes it with closeFrom.
type echoServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[string][]net.Conn // accepted, by the client's IP
	wg    sync.WaitGroup
}

func newEchoServer(t *testing.T, lim *wstransport.ListenerLimits) *echoServer {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &echoServer{ln: wstransport.LimitListener(raw, lim), conns: map[string][]net.Conn{}}
	s.wg.Go(func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			ip := c.RemoteAddr().(*net.TCPAddr).IP.String()
			s.mu.Lock()
			s.conns[ip] = append(s.conns[ip], c)
			s.mu.Unlock()
			var b [1]byte
			if _, err := io.ReadFull(c, b[:]); err == nil {
				c.Write(b[:])
			}
		}
	})
	t.Cleanup(func() {
		s.ln.Close()
		s.wg.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, cs := range s.conns {
			for _, c := range cs {
				c.Close()
			}
		}
	})
	return s
}

// dial connects from the loopback address from and reports whether the
// server kept the connection (it echoed a byte) or refused it (closed it).
func (s *echoServer) dial(t *testing.T, from string) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		return false // reset before connect returned
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second)) // against hanging only
	var b [1]byte
	if _, err := c.Write([]byte{'x'}); err != nil {
		return false
	}
	_, err = io.ReadFull(c, b[:])
	return err == nil
}

// closeFrom closes the first connection the server accepted from ip.
func (s *echoServer) closeFrom(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[ip][0].Close()
	s.conns[ip] = s.conns[ip][1:]
}

func TestLimitListenerPerAddress(t *testing.T) {
	s := newEchoServer(t, &wstransport.ListenerLimits{PerAddress: 3})
	for i := range 5 {
		ok := s.dial(t, "127.0.0.2")
		assert.Equal(t, i < 3, ok, "connection %d from 127.0.0.2", i)
	}
	ok := s.dial(t, "127.0.0.3")
	assert.True(t, ok, "another address still gets in")

	s.closeFrom("127.0.0.2") // a slot frees up when a connection closes
	ok = s.dial(t, "127.0.0.2")
	assert.True(t, ok, "after one of its connections closed")
	ok = s.dial(t, "127.0.0.2")
	assert.False(t, ok, "and the cap holds again")
}

func TestLimitListenerGlobal(t *testing.T) {
	s := newEchoServer(t, &wstransport.ListenerLimits{Max: 4, PerAddress: -1})
	for i := range 4 {
		ok := s.dial(t, "127.0.0.2")
		require.True(t, ok, "connection %d", i)
	}
	ok := s.dial(t, "127.0.0.3")
	assert.False(t, ok, "a full server refuses every address")
	s.closeFrom("127.0.0.2")
	ok = s.dial(t, "127.0.0.3")
	assert.True(t, ok)
}
