package wstransport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chatfly/chatfly/internal/wsframe"
)

// Buffers. net/http hands a hijacked connection over with a 4 KiB read
// buffer and a 4 KiB write buffer that stay with it for its whole life;
// most of the time a chat connection is idle, so those 8 KiB per
// connection would be most of its memory. Instead the WebSocket library
// gets a lazyConn under tiny bufio buffers: lazyConn borrows a pooled read
// buffer only while data is waiting to be parsed, and a pooled write buffer
// only while the writer goroutine writes, so an idle connection holds
// neither.

// smallBufio is the size of the bufio.Reader and bufio.Writer the WebSocket
// library gets. They only stage frame headers: payloads go through lazyConn
// straight to or from the pooled buffers.
const smallBufio = 64

// readBufSize is the size of the pooled read buffers.
const readBufSize = 4 << 10

var readBufs = sync.Pool{New: func() any {
	b := make([]byte, readBufSize)
	return &b
}}

// hijackWriter is the http.ResponseWriter given to websocket.Accept: its
// Hijack returns a lazyConn with small buffers instead of the connection
// and net/http's buffers.
type hijackWriter struct {
	http.ResponseWriter
	t  *Transport
	lc *lazyConn // set by Hijack
}

// pongs tells a connection that its ping was answered. It is the
// OnPongReceived of the WebSocket library, called in the read loop, which
// keeps it for the connection's life: so it is a struct of its own, not a
// method of hijackWriter, whose ResponseWriter holds net/http's buffers of
// the upgrade request (13 KiB per idle connection in S4 when it was).
type pongs struct {
	conn *conn // set once accepted, before the read loop starts
}

func (p *pongs) pong(context.Context, []byte) {
	if p.conn != nil {
		p.conn.pingSent.Store(0)
	}
}

// Hijack implements http.Hijacker.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	lc := newLazyConn(nc, w.t)
	if n := brw.Reader.Buffered(); n > 0 {
		// Bytes the client sent right after its upgrade request.
		b, _ := brw.Reader.Peek(n)
		lc.pending = append([]byte(nil), b...)
	}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			lc.raw = rc
		}
	}
	w.lc = lc
	return lc, bufio.NewReadWriter(bufio.NewReaderSize(lc, smallBufio), bufio.NewWriterSize(lc, smallBufio)), nil
}

// Unwrap lets http.ResponseController find the underlying ResponseWriter.
func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// lazyConn is a net.Conn that reads through a pooled buffer it holds only
// while it has unread data. It writes what the WebSocket library writes
// (control frames: pongs, pings, close) straight to the connection, and
// takes the data messages of the Transport's writer ready-framed
// (writeMessages), so that a batch costs one system call and none of the
// library's per-message locking.
//
// Reads come from one goroutine at a time (the WebSocket library's reader).
// Writes may come from any goroutine; wmu orders them, and a batch waits
// until the frame the library is writing is complete (the library may hand
// one frame over in several writes), so that frames reach the socket whole
// and in the order they were written.
type lazyConn struct {
	net.Conn
	t   *Transport
	raw syscall.RawConn // nil: read the Conn directly

	pending []byte  // unread bytes: in rbuf, or left from net/http
	rbuf    *[]byte // the pooled buffer behind pending, if any

	wmu       sync.Mutex
	wcond     sync.Cond       // signalled (with wmu) when out is at a frame boundary or broken
	out       wsframe.Tracker // the frames the library has written
	closeSent bool            // the library has written a close frame
	broken    bool            // a write failed, or the connection is closed
	waiting   int             // batches waiting on wcond

	// The close handshake's drain (see beginDrain).
	nread     atomic.Int64 // bytes read from the socket
	writes    atomic.Int64 // writes that reached the socket
	drainFrom atomic.Int64 // nread+1 when the close handshake began; 0: not closing
	drainMark atomic.Int64 // writes then
	drainAt   atomic.Int64 // t.now() then
	cut       atomic.Bool  // the peer kept sending: reads fail
	lingered  atomic.Bool  // the first failing read has waited closeLinger
}

func newLazyConn(nc net.Conn, t *Transport) *lazyConn {
	c := &lazyConn{Conn: nc, t: t}
	c.wcond.L = &c.wmu
	return c
}

// A peer that keeps sending while its connection closes (a flooder told to
// go away) is cut off without finishing the handshake once it has sent
// maxDrainBytes since the handshake began and the close frame is out (the
// socket had a write since, and closeFrameGrace passed for the rest of it):
// the WebSocket library reads and discards what a closing peer sends for up
// to 5 seconds, which costs more than serving it. Reads then fail, the
// first one after closeLinger without reading anything: closing a socket
// with unread data resets it, and a reset makes the peer drop what it has
// not read yet, the close frame included.
const (
	maxDrainBytes   = 256 << 10
	closeFrameGrace = 2 * time.Millisecond
	closeLinger     = 100 * time.Millisecond
)

var errKeptSending = errors.New("wstransport: the peer kept sending while the connection closed")

// beginDrain marks the start of the close handshake: the writer calls it
// just before it writes the close frame.
func (c *lazyConn) beginDrain() {
	c.drainMark.Store(c.writes.Load())
	c.drainAt.Store(c.t.now())
	c.drainFrom.Store(c.nread.Load() + 1)
}

// count adds n bytes read from the socket, and cuts the peer off if it
// keeps sending while the connection closes: the next reads fail.
func (c *lazyConn) count(n int) {
	read := c.nread.Add(int64(n))
	from := c.drainFrom.Load()
	if from != 0 && read-(from-1) > maxDrainBytes && c.writes.Load() > c.drainMark.Load() &&
		c.t.now()-c.drainAt.Load() > int64(closeFrameGrace) {
		c.cut.Store(true)
	}
}

// Read implements io.Reader.
func (c *lazyConn) Read(p []byte) (int, error) {
	if c.cut.Load() {
		if !c.lingered.Swap(true) {
			time.Sleep(closeLinger)
		}
		return 0, errKeptSending
	}
	if len(c.pending) == 0 {
		if c.raw == nil || len(p) >= readBufSize {
			n, err := c.Conn.Read(p)
			c.count(n)
			return n, err
		}
		if err := c.fill(); err != nil {
			return 0, err
		}
		c.count(len(c.pending))
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	if len(c.pending) == 0 && c.rbuf != nil {
		readBufs.Put(c.rbuf)
		c.rbuf = nil
		c.pending = nil
	}
	return n, nil
}

// fill waits until the socket is readable, then reads what it has into a
// pooled buffer taken only then.
func (c *lazyConn) fill() error {
	var (
		n    int
		rerr error
		buf  *[]byte
	)
	err := c.raw.Read(func(fd uintptr) bool {
		buf = readBufs.Get().(*[]byte)
		for {
			n, rerr = syscall.Read(int(fd), *buf)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			readBufs.Put(buf)
			buf = nil
			return false // wait for readability, then try again
		}
		return true
	})
	if err == nil && rerr != nil {
		err = &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", rerr)}
	}
	if err == nil && n <= 0 {
		err = io.EOF
	}
	if err != nil {
		if buf != nil {
			readBufs.Put(buf)
		}
		return err
	}
	c.rbuf, c.pending = buf, (*buf)[:n]
	return nil
}

// Write implements io.Writer: the WebSocket library's frames.
func (c *lazyConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.writes.Add(1)
	n, err := c.Conn.Write(p)
	c.out.Feed(p[:n], c.sawFrame)
	if err != nil {
		c.broken = true
	}
	if c.waiting > 0 && (err != nil || !c.out.MidFrame()) {
		c.wcond.Broadcast()
	}
	return n, err
}

// sawFrame notes a frame header the library wrote.
func (c *lazyConn) sawFrame(h wsframe.Header) {
	if h.Opcode == wsframe.OpClose {
		c.closeSent = true
	}
}

// writeMessages writes b, whole WebSocket frames (see wsframe.AppendHeader),
// in one system call, between two frames of the library. It fails with
// net.ErrClosed once the library has sent a close frame (nothing may follow
// it) or a write has failed.
func (c *lazyConn) writeMessages(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for c.out.MidFrame() && !c.broken {
		c.waiting++
		c.wcond.Wait()
		c.waiting--
	}
	if c.broken || c.closeSent {
		return net.ErrClosed
	}
	c.writes.Add(1)
	_, err := c.Conn.Write(b)
	if err != nil {
		c.broken = true
	}
	return err
}

// Close implements net.Conn. It closes the connection first, which ends a
// write in progress, then wakes the batches that wait for a frame boundary.
func (c *lazyConn) Close() error {
	err := c.Conn.Close()
	c.wmu.Lock()
	c.broken = true
	c.wcond.Broadcast()
	c.wmu.Unlock()
	return err
}
