package apigwlocal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
)

// MaxFrameBytes is API Gateway's limit on one WebSocket frame: 32 KB. A
// client frame over it closes the connection with 1009, even when its
// message is within MaxMessageBytes (a message may span several frames).
const MaxFrameBytes = 32 << 10

// frameHijacker lets websocket.Accept hijack the connection through a
// frameMeter, which sees the headers of the client's frames on their way
// to the WebSocket library.
type frameHijacker struct {
	http.ResponseWriter
	meter *frameMeter
}

// Hijack hijacks the underlying connection and reads it, bytes already
// buffered first, through the meter.
func (h *frameHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("apigwlocal: %T cannot hijack", h.ResponseWriter)
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
	h.meter.Conn = nc
	h.meter.r = io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), nc)
	brw.Reader.Reset(h.meter)
	return h.meter, brw, nil
}

// frameMeter is a net.Conn whose reads parse the WebSocket frame headers
// (RFC 6455 section 5.2) of the client's byte stream and record whether a
// frame's payload was over MaxFrameBytes.
type frameMeter struct {
	net.Conn
	r io.Reader

	hdr       [14]byte // the header being read
	n         int      // its bytes so far
	remaining uint64   // payload bytes left of the current frame

	oversize atomic.Bool
}

func (m *frameMeter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.feed(p[:n])
	return n, err
}

// feed follows the frames through b.
func (m *frameMeter) feed(b []byte) {
	for len(b) > 0 {
		if m.remaining > 0 {
			k := uint64(len(b))
			k = min(k, m.remaining)
			m.remaining -= k
			b = b[k:]
			continue
		}
		m.hdr[m.n] = b[0]
		m.n++
		b = b[1:]
		if m.n < 2 {
			continue
		}
		need := 2
		switch m.hdr[1] & 0x7f {
		case 126:
			need += 2
		case 127:
			need += 8
		}
		if m.hdr[1]&0x80 != 0 {
			need += 4 // the masking key
		}
		if m.n < need {
			continue
		}
		size := uint64(m.hdr[1] & 0x7f)
		switch size {
		case 126:
			size = uint64(binary.BigEndian.Uint16(m.hdr[2:4]))
		case 127:
			size = binary.BigEndian.Uint64(m.hdr[2:10])
		}
		if size > MaxFrameBytes {
			m.oversize.Store(true)
		}
		m.n, m.remaining = 0, size
	}
}
