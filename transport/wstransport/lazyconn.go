package wstransport

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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

// Hijack implements http.Hijacker.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	lc := &lazyConn{Conn: nc, t: w.t}
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
// while it has unread data, and writes either straight to the connection
// or, between beginBatch and endBatch, into a pooled buffer that endBatch
// writes with one system call.
//
// Reads come from one goroutine at a time (the WebSocket library's reader).
// Writes may come from any goroutine (the library serialises whole frames);
// wmu orders them with the batch, so that frames reach the socket whole and
// in the order they were written.
type lazyConn struct {
	net.Conn
	t   *Transport
	raw syscall.RawConn // nil: read the Conn directly

	pending []byte  // unread bytes: in rbuf, or left from net/http
	rbuf    *[]byte // the pooled buffer behind pending, if any

	wmu   sync.Mutex
	batch *[]byte // non-nil between beginBatch and endBatch

	// The close handshake's drain (see beginDrain).
	nread     atomic.Int64 // bytes read from the socket
	writes    atomic.Int64 // writes that reached the socket
	drainFrom atomic.Int64 // nread+1 when the close handshake began; 0: not closing
	drainMark atomic.Int64 // writes then
	drainAt   atomic.Int64 // t.now() then
	cut       atomic.Bool  // the peer kept sending: reads fail
	lingered  atomic.Bool  // the first failing read has waited closeLinger
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

// Write implements io.Writer.
func (c *lazyConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.batch != nil {
		*c.batch = append(*c.batch, p...)
		return len(p), nil
	}
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// beginBatch makes writes collect in a pooled buffer until endBatch.
func (c *lazyConn) beginBatch() {
	b := c.t.getBuf()
	*b = (*b)[:0]
	c.wmu.Lock()
	c.batch = b
	c.wmu.Unlock()
}

// endBatch writes what was collected since beginBatch and returns the
// buffer to the pool.
func (c *lazyConn) endBatch() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.batch
	c.batch = nil
	if b == nil {
		return errors.New("wstransport: endBatch without beginBatch")
	}
	var err error
	if len(*b) > 0 {
		_, err = c.Conn.Write(*b)
	}
	c.t.putBuf(b)
	return err
}
