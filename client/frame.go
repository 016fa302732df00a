package client

import (
	"strconv"
	"sync"
	"unicode/utf8"
)

// frame builds one client frame, {"action":...,"id":...,...}, by appending
// to a pooled buffer, so sending does not allocate.
type frame struct {
	b []byte
}

var framePool = sync.Pool{New: func() any { return &frame{b: make([]byte, 0, 256)} }}

// maxPooledFrame keeps unusually large buffers out of the pool.
const maxPooledFrame = 64 << 10

// newFrame starts a frame for action; id 0 means no id.
func newFrame(action string, id int64) *frame {
	f := framePool.Get().(*frame)
	f.b = append(f.b[:0], `{"action":`...)
	f.b = appendString(f.b, action)
	if id != 0 {
		f.b = append(f.b, `,"id":`...)
		f.b = strconv.AppendInt(f.b, id, 10)
	}
	return f
}

// str appends a string member; key must not need escaping.
func (f *frame) str(key, v string) *frame {
	f.b = append(f.b, ',', '"')
	f.b = append(f.b, key...)
	f.b = append(f.b, '"', ':')
	f.b = appendString(f.b, v)
	return f
}

// int appends an integer member; key must not need escaping.
func (f *frame) int(key string, v int64) *frame {
	f.b = append(f.b, ',', '"')
	f.b = append(f.b, key...)
	f.b = append(f.b, '"', ':')
	f.b = strconv.AppendInt(f.b, v, 10)
	return f
}

// members appends the members of a JSON object, given as its encoding
// "{...}", which must be valid.
func (f *frame) members(obj []byte) *frame {
	inner := obj[1 : len(obj)-1]
	for _, c := range inner {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			f.b = append(f.b, ',')
			f.b = append(f.b, inner...)
			break
		}
	}
	return f
}

// bytes closes the object and returns the frame. It is valid until release.
func (f *frame) bytes() []byte {
	f.b = append(f.b, '}')
	return f.b
}

func (f *frame) release() {
	if cap(f.b) <= maxPooledFrame {
		framePool.Put(f)
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as with encoding/json.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
