package wstransport_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatfly/chatfly/transport/wstransport"
)

// TestFrameRightAfterUpgrade sends the upgrade request and a first frame in
// one write, so that the frame is in net/http's buffer when the connection
// is hijacked: the Transport must still read it (lazyConn keeps those
// bytes).
func TestFrameRightAfterUpgrade(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.hub.echo = true
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	payload := []byte(`{"early":true}`)
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(payload))}
	frame = append(frame, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := nc.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The echo: an unmasked text frame with the same payload.
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, hdr[1]&0x7f)
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 0x81 || !bytes.Equal(got, payload) {
		t.Fatalf("echo %x %q, want text frame %q", hdr, got, payload)
	}
}

// TestLargeFramesBothWays checks reads and writes larger than the pooled
// buffers.
func TestLargeFramesBothWays(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.hub.echo = true
	c, _ := e.dial(e.url, nil)
	var want []string
	for i, n := range []int{1, 4095, 4096, 4097, 12000, 15000} {
		f := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", n))
		want = append(want, f)
		write(t, c, f)
	}
	got, _ := readFrames(t, c, len(want))
	if !slices.Equal(got, want) {
		t.Errorf("echo of large frames differs")
	}
}

// TestIdleConnectionsHoldOneGoroutine checks that an idle connection holds
// no writer goroutine: only its reader.
func TestIdleConnectionsHoldOneGoroutine(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.hub.echo = true
	const n = 20
	base := runtime.NumGoroutine()
	for range n {
		c, id := e.dial(e.url, nil)
		write(t, c, "hi") // the echo starts a writer, which then exits
		if got, _ := readFrames(t, c, 1); len(got) != 1 {
			t.Fatalf("no echo on %s", id)
		}
	}
	// The clients read only when asked: no goroutine of theirs. The
	// Transport has one keepalive goroutine; with a writer per connection
	// (or net/http's goroutine kept) it would be 2n.
	waitUntil(t, "idle goroutines", func() bool {
		return runtime.NumGoroutine()-base <= n+3
	})
}

// TestUnansweredPingsHoldNoGoroutine pings clients that do not read, so
// every ping stays unanswered: waiting for the pongs must cost no goroutine
// (nor timer) per connection, only the keepalive goroutine's bookkeeping.
func TestUnansweredPingsHoldNoGoroutine(t *testing.T) {
	e := newEnv(t, envConfig{opts: &wstransport.Options{PingInterval: 10 * time.Millisecond, PingTimeout: time.Minute}})
	const n = 20
	base := runtime.NumGoroutine()
	ids := make([]string, n)
	for i := range ids {
		_, ids[i] = e.dial(e.url, nil)
	}
	waitUntil(t, "pings out to all", func() bool {
		for _, id := range ids {
			if !e.tr.PingOutstanding(id) {
				return false
			}
		}
		return true
	})
	// Readers, plus the keepalive goroutine and a writer or two finishing.
	waitUntil(t, "goroutines of idle pinged connections", func() bool {
		return runtime.NumGoroutine()-base <= n+3
	})
}

// TestPongsBetweenBatches pings the server over and over while it sends a
// stream of frames: the pongs (written by the WebSocket library) and the
// Transport's batches (framed by the Transport) share the socket, and must
// reach the client whole and in order.
func TestPongsBetweenBatches(t *testing.T) {
	const n = 5000
	e := newEnv(t, envConfig{opts: &wstransport.Options{QueueSize: n}})
	c, id := e.dial(e.url, nil)
	got := make(chan []string, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.CloseNow()
	wg.Go(func() { // reads until the connection ends: the pings need a reader
		var frames []string
		for {
			m, err := readMessage(c)
			if err != nil {
				got <- frames
				return
			}
			if frames = append(frames, strings.Split(m, "\n")...); len(frames) == n {
				got <- frames
			}
		}
	})
	pings := make(chan error, 1)
	go func() {
		for range 200 {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			err := c.Ping(ctx)
			cancel()
			if err != nil {
				pings <- err
				return
			}
		}
		pings <- nil
	}()
	for i := range n {
		pad := strings.Repeat("p", i%300) // frames of 1 to 2-byte lengths
		if err := e.tr.Send(context.Background(), id, []byte(fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, pad))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := <-pings; err != nil {
		t.Fatalf("ping while frames stream: %v", err)
	}
	frames := <-got
	if len(frames) != n {
		t.Fatalf("got %d frames, want %d", len(frames), n)
	}
	for i, f := range frames {
		if want := fmt.Sprintf(`{"i":%d,`, i); !strings.HasPrefix(f, want) {
			t.Fatalf("frame %d is %.40q, want it to start with %q", i, f, want)
		}
	}
}
