package apigwlocal

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/chatfly/chatfly/internal/wsframe"
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
// of the client's byte stream and record whether a frame's payload was
// over MaxFrameBytes.
type frameMeter struct {
	net.Conn
	r io.Reader

	frames wsframe.Tracker

	oversize atomic.Bool
}

func (m *frameMeter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.frames.Feed(p[:n], m.header)
	return n, err
}

// header checks the size of each frame.
func (m *frameMeter) header(h wsframe.Header) {
	if h.Size > MaxFrameBytes {
		m.oversize.Store(true)
	}
}
