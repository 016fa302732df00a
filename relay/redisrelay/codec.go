package redisrelay

import (
	"encoding/binary"
	"errors"

	"github.com/chatfly/chatfly"
)

// formatV1 is the first byte of every encoded message. A subscriber drops
// (and logs) a message in a format it does not know, so nodes of two
// versions never misread each other.
const formatV1 = 1

// errMalformed reports a payload that is not a message in formatV1.
var errMalformed = errors.New("redisrelay: malformed message")

// encode writes m as: the format byte, the close code, the reason, the
// number of connection ids, each id, all as uvarint-length-prefixed fields,
// and then the frame, which runs to the end (so it costs no length field and
// is copied once).
func encode(m chatfly.RelayMessage) []byte {
	n := 1 + 3*binary.MaxVarintLen64 + len(m.Reason) + len(m.Frame)
	for _, id := range m.Conns {
		n += binary.MaxVarintLen64 + len(id)
	}
	b := make([]byte, 0, n)
	b = append(b, formatV1)
	b = binary.AppendUvarint(b, uint64(m.Close))
	b = appendString(b, m.Reason)
	b = binary.AppendUvarint(b, uint64(len(m.Conns)))
	for _, id := range m.Conns {
		b = appendString(b, id)
	}
	if m.Close == 0 {
		b = append(b, m.Frame...)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decode reads a payload written by encode. The connection ids and the
// reason share the payload's memory (strings are immutable); the frame is
// a fresh copy.
func decode(p string) (chatfly.RelayMessage, error) {
	var m chatfly.RelayMessage
	if len(p) == 0 || p[0] != formatV1 {
		return m, errMalformed
	}
	d := decoder{p: p[1:]}
	code := d.uvarint()
	m.Reason = d.string()
	n := d.uvarint()
	if d.err != nil || code > 4999 || n > uint64(len(d.p)) {
		return chatfly.RelayMessage{}, errMalformed
	}
	m.Close = chatfly.CloseCode(code)
	m.Conns = make([]string, n)
	for i := range m.Conns {
		m.Conns[i] = d.string()
	}
	if d.err != nil {
		return chatfly.RelayMessage{}, errMalformed
	}
	if m.Close == 0 {
		m.Frame = []byte(d.p)
	} else if len(d.p) > 0 {
		return chatfly.RelayMessage{}, errMalformed
	}
	return m, nil
}

// decoder reads uvarint-prefixed fields off the front of p; after the
// first error every read returns a zero value.
type decoder struct {
	p   string
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	for i := 0; i < len(d.p) && i < binary.MaxVarintLen64; i++ {
		c := d.p[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			d.p = d.p[i+1:]
			return v
		}
	}
	d.err = errMalformed
	return 0
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.p)) {
		d.err = errMalformed
		return ""
	}
	s := d.p[:n]
	d.p = d.p[n:]
	return s
}
