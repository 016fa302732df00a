// Package wsframe follows the frame boundaries of a WebSocket byte stream
// (RFC 6455, section 5.2), for code that watches the bytes under a
// WebSocket library: wstransport (where its own frames may go in between)
// and apigwlocal (API Gateway's frame size limit).
package wsframe

import "encoding/binary"

// Opcodes.
const (
	OpText  = 0x1
	OpClose = 0x8
	OpPing  = 0x9
)

// Header is a frame header as a Tracker saw it.
type Header struct {
	Opcode byte
	Size   uint64 // payload bytes
}

// Tracker follows the frames of one direction of a connection. The zero
// value is at a frame boundary. A Tracker is not safe for concurrent use.
type Tracker struct {
	hdr [14]byte // the current frame's header so far
	n   int      // bytes in hdr
	rem uint64   // payload bytes of the current frame still to come
}

// MidFrame reports whether a frame has begun and is not complete.
func (t *Tracker) MidFrame() bool { return t.n > 0 || t.rem > 0 }

// Feed follows b, the next bytes of the stream, and calls seen (if not
// nil) with every header that b completes.
func (t *Tracker) Feed(b []byte, seen func(Header)) {
	for len(b) > 0 {
		if t.rem > 0 {
			k := min(uint64(len(b)), t.rem)
			t.rem -= k
			b = b[k:]
			continue
		}
		t.hdr[t.n] = b[0]
		t.n++
		b = b[1:]
		if t.n < 2 || t.n < headerLen(t.hdr[1]) {
			continue
		}
		h := Header{Opcode: t.hdr[0] & 0x0f, Size: uint64(t.hdr[1] & 0x7f)}
		switch h.Size {
		case 126:
			h.Size = uint64(binary.BigEndian.Uint16(t.hdr[2:]))
		case 127:
			h.Size = binary.BigEndian.Uint64(t.hdr[2:]) &^ (1 << 63)
		}
		t.n, t.rem = 0, h.Size
		if seen != nil {
			seen(h)
		}
	}
}

// headerLen returns the length of a frame header whose second byte is b1.
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 { // the masking key
		n += 4
	}
	return n
}

// AppendHeader appends the header of an unmasked, final frame with opcode
// op and n payload bytes, as a server sends it.
func AppendHeader(b []byte, op byte, n int) []byte {
	b0 := 0x80 | op
	switch {
	case n < 126:
		return append(b, b0, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, b0, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, b0, 127), uint64(n))
	}
}
