package wstransport

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/wsframe"
)

// conn is one accepted WebSocket connection: its send queue, the state of
// its writer and the state the keepalive goroutine looks at.
//
// Goroutines: the connection's goroutine (started by ServeHTTP) runs the
// read loop and owns the connection's lifetime; a writer goroutine drains
// the queue, and exists only while the queue is not empty or a close frame
// is due, so that an idle connection costs one goroutine; the keepalive
// goroutine of the Transport has the writer send the pings (the pong is
// seen by the read loop, see hijackWriter.pong) and starts short-lived abort goroutines.
// The writers and aborts are counted in helpers, which the connection's
// goroutine waits for before it ends.
type conn struct {
	id     string
	t      *Transport
	ws     *websocket.Conn
	lc     *lazyConn          // the socket under ws
	cancel context.CancelFunc // cancels the context given to Hub.Receive

	mu       sync.Mutex
	queue    [][]byte             // frames waiting for the writer
	writing  bool                 // a writer goroutine runs (or is starting)
	pingDue  bool                 // the writer is to send a ping
	closing  bool                 // no more frames are accepted
	code     websocket.StatusCode // close code the writer sends; 0: none
	reason   string
	finished bool // the connection's goroutine waits for helpers: start no more

	helpers sync.WaitGroup

	// Written by the writer, read by the keepalive goroutine.
	writeStart atomic.Int64 // t.now() when the current write began; 0 when idle
	// Owned by the keepalive goroutine (atomic so the race detector
	// needn't reason about which lock orders it).
	nextPing atomic.Int64
	pingSent atomic.Int64 // t.now() when the unanswered ping was queued; 0: none
	aborted  atomic.Bool

	helloWait int64        // the handler's hello timeout in ns, 0: none
	helloBy   atomic.Int64 // t.now() deadline for hello; 0: said hello, or none
}

// maxKeptQueue is the largest queue slice a writer keeps for reuse once
// the traffic is light again: a longer one, grown by a burst, is dropped
// when a batch of at most maxKeptQueue/8 frames comes through, so that a
// quiet connection does not hold it. While batches stay large it is reused.
// A writer that finds the queue empty keeps at most maxIdleQueue slots.
const (
	maxKeptQueue = 64
	maxIdleQueue = 4
)

type sendResult uint8

const (
	sendOK       sendResult = iota
	sendGone                // the connection is closed or closing
	sendOverflow            // the queue was full: the connection is now closing
)

// enqueue adds frame to the queue without blocking. A full queue closes the
// connection as a slow consumer and drops what it held.
func (c *conn) enqueue(frame []byte) sendResult {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return sendGone
	}
	if len(c.queue) >= c.t.opts.QueueSize {
		c.closing = true
		c.code = websocket.StatusCode(chatfly.CloseSlowConsumer)
		c.reason = "too slow"
		clear(c.queue)
		c.queue = c.queue[:0]
		c.wakeWriterUnlock()
		c.t.log.Info("wstransport: closing slow consumer", "conn", c.id, "queued", c.t.opts.QueueSize)
		return sendOverflow
	}
	c.queue = append(c.queue, frame)
	c.wakeWriterUnlock()
	return sendOK
}

// wakeWriterUnlock starts the writer goroutine unless one runs, and unlocks
// c.mu, which the caller holds. A running writer looks at the queue (and
// pingDue, closing) before it exits, so one is started only when none runs.
// Once the connection's goroutine is finishing, no writer starts: the
// connection is ending and its queue is dropped.
func (c *conn) wakeWriterUnlock() {
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		c.spawn(c.writeLoop)
	}
}

// queuePing has the writer send a ping (unless the connection is closing).
func (c *conn) queuePing() {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.pingDue = true
	c.wakeWriterUnlock()
}

// requestClose asks the writer to send what is queued, then close with code
// and reason. Only the first request counts. It never blocks.
func (c *conn) requestClose(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.code = code
	c.reason = truncateReason(reason)
	c.wakeWriterUnlock()
}

// stopWriter makes a running writer exit without writing anything more
// (unless it is closing the connection on request: then it finishes the
// close handshake).
func (c *conn) stopWriter() {
	c.mu.Lock()
	if !c.closing {
		c.closing = true
		c.code = 0
	}
	clear(c.queue)
	c.queue = c.queue[:0]
	c.mu.Unlock()
}

// isClosing reports whether the connection refuses new frames.
func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// spawn runs f in a helper goroutine unless the handler is already waiting
// for its helpers to finish.
func (c *conn) spawn(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return false
	}
	c.helpers.Add(1)
	go func() {
		defer c.helpers.Done()
		f()
	}()
	return true
}

// finish forbids new helpers and waits for the running ones.
func (c *conn) finish() {
	c.mu.Lock()
	c.finished = true
	c.mu.Unlock()
	c.helpers.Wait()
}

// abort closes the socket without a close handshake (the peer is not
// responding), which ends the read loop and the writer.
func (c *conn) abort(why string) {
	if c.aborted.Swap(true) {
		return
	}
	c.t.log.Debug("wstransport: aborting connection", "conn", c.id, "why", why)
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.cancel()
	c.spawn(func() { c.ws.CloseNow() })
}

// writeLoop is the writer goroutine: it writes everything queued
// (coalesced) until the queue is empty, then exits; once the connection is
// closing, it sends the close frame if one was requested.
func (c *conn) writeLoop() {
	// Let the goroutines that are ready run first: under load they are the
	// Hub's handlers, which may queue more frames for this connection, and
	// the writer then sends them together (one system call). When the
	// server is idle, this returns at once.
	runtime.Gosched()
	var spare [][]byte
	for {
		c.mu.Lock()
		batch, ping := c.queue, c.pingDue && !c.closing
		closing, code, reason := c.closing, c.code, c.reason
		c.pingDue = false
		if len(batch) == 0 && !closing && !ping {
			// Idle: exit. The next enqueue starts a new writer.
			c.writing = false
			if cap(batch) > maxIdleQueue {
				c.queue = nil
			}
			c.mu.Unlock()
			return
		}
		c.queue = spare[:0]
		c.mu.Unlock()

		if len(batch) > 0 || ping {
			err := c.flush(batch, ping)
			clear(batch) // let the frames be collected
			spare = batch[:0]
			if cap(batch) > maxKeptQueue && len(batch) <= maxKeptQueue/8 {
				spare = nil // the burst is over: shrink
			}
			if err != nil {
				if !closing {
					c.t.log.Debug("wstransport: write failed", "conn", c.id, "err", err)
				}
				c.abort("write failed")
				return
			}
		}
		if closing {
			if code != 0 {
				// Close handshake: at most 5 s to write the close frame
				// and 5 s for the client's answer (coder/websocket).
				c.lc.beginDrain()
				err := c.ws.Close(code, reason)
				if err != nil {
					c.t.log.Debug("wstransport: close", "conn", c.id, "code", int(code), "err", err)
				}
			}
			return
		}
	}
}

// flush writes batch as few WebSocket messages as the limits allow: frames
// joined by '\n' up to MaxFramesPerWrite frames and MaxWriteBytes bytes;
// with ping, a ping frame first. The messages are framed here, into one
// pooled buffer, and reach the socket in one system call
// (lazyConn.writeMessages). The write has no deadline of its own: the
// keepalive goroutine enforces WriteTimeout from writeStart.
func (c *conn) flush(batch [][]byte, ping bool) error {
	c.writeStart.Store(c.t.now())
	defer c.writeStart.Store(0)
	bp := c.t.getBuf()
	b := (*bp)[:0]
	if ping {
		b = wsframe.AppendHeader(b, wsframe.OpPing, 0)
	}
	maxFrames, maxBytes := c.t.opts.MaxFramesPerWrite, c.t.opts.MaxWriteBytes
	for len(batch) > 0 {
		n, size := 1, len(batch[0])
		for n < len(batch) && n < maxFrames && size+1+len(batch[n]) <= maxBytes {
			size += 1 + len(batch[n])
			n++
		}
		b = wsframe.AppendHeader(b, wsframe.OpText, size)
		for i, f := range batch[:n] {
			if i > 0 {
				b = append(b, '\n')
			}
			b = append(b, f...)
		}
		batch = batch[n:]
	}
	err := c.lc.writeMessages(b)
	*bp = b
	c.t.putBuf(bp)
	return err
}

// truncateReason cuts a close reason to the 123 bytes a close frame can
// carry, on a UTF-8 boundary.
func truncateReason(s string) string {
	const maxReason = 123
	if len(s) <= maxReason {
		return s
	}
	i := maxReason
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i]
}
