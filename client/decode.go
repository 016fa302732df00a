package client

import (
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/chatfly/chatfly"
)

// This file holds the decoder of server lines, the client's hot path. It
// reads one JSON object into an Event without reflection and with at most
// one allocation per event in the common case (the text of a message; ids,
// names, rooms and types are interned per connection).
//
// Syntax is strict: a line is accepted only if it is valid JSON (the fuzz
// test checks this against encoding/json). Types are lenient: a known key
// whose value has an unexpected type (for example "room" holding an object
// in a joined reply, or "members" holding a list) leaves the field unchanged
// instead of failing, so one decoder serves events and replies alike and
// future frames can reuse a key with another meaning. Key matching is exact
// (encoding/json also matches keys case-insensitively; servers send the
// documented lower-case keys). Whenever encoding/json accepts a line, this
// decoder yields the same field values.

var (
	errSyntax   = errors.New("invalid JSON")
	errTooDeep  = errors.New("JSON nested too deeply")
	errNoObject = errors.New("JSON value is not an object")
)

// maxDepth bounds the nesting of skipped values, like encoding/json.
const maxDepth = 10000

// lineMeta holds the parts of a line that are not event fields: the reply
// routing id and the error details.
type lineMeta struct {
	// id is the raw id token as sent, nil when absent or null.
	id []byte
	// code and message are the fields of an error frame.
	code, message string
}

// decodeLine decodes one JSON object into ev and m. It does not reset ev
// (decoding merges into it, as encoding/json does). With a nil in, strings
// are not interned.
func decodeLine(b []byte, ev *Event, m *lineMeta, in *interner) error {
	s := scanner{b: b, in: in}
	s.ws()
	if s.i >= len(b) {
		return errSyntax
	}
	switch b[s.i] {
	case '{':
		if err := s.eventObject(ev, m); err != nil {
			return err
		}
	case 'n':
		// encoding/json leaves a struct unchanged for null.
		if err := s.literal("null"); err != nil {
			return err
		}
	default:
		if err := s.skip(0); err != nil {
			return err
		}
		return errNoObject
	}
	s.ws()
	if s.i != len(b) {
		return errSyntax
	}
	return nil
}

// scanner reads JSON from b starting at i.
type scanner struct {
	b  []byte
	i  int
	in *interner
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// next skips white space and consumes c if it comes next.
func (s *scanner) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return errSyntax
	}
	s.i += len(lit)
	return nil
}

// objectStart consumes '{' and reports whether the object is empty (then
// '}' is consumed too).
func (s *scanner) objectStart() (empty bool) {
	s.i++ // '{'
	return s.next('}')
}

// key reads an object key and the ':' after it. The result may alias the
// input.
func (s *scanner) key() ([]byte, error) {
	s.ws()
	start, end, slow, err := s.str()
	if err != nil {
		return nil, err
	}
	k := s.b[start:end]
	if slow {
		k = []byte(s.slowString(start, end))
	}
	if !s.next(':') {
		return nil, errSyntax
	}
	s.ws()
	return k, nil
}

// objectNext consumes ',' (more members follow) or '}' (done).
func (s *scanner) objectNext() (more bool, err error) {
	if s.next(',') {
		return true, nil
	}
	if s.next('}') {
		return false, nil
	}
	return false, errSyntax
}

func (s *scanner) eventObject(ev *Event, m *lineMeta) error {
	if s.objectStart() {
		return nil
	}
	for {
		k, err := s.key()
		if err != nil {
			return err
		}
		switch string(k) {
		case "type":
			err = s.stringField(&ev.Type, true)
		case "room":
			err = s.stringField(&ev.Room, true)
		case "seq":
			err = s.intField(&ev.Seq)
		case "from":
			err = s.memberField(&ev.From)
		case "text":
			err = s.stringField(&ev.Text, false)
		case "ts":
			err = s.intField(&ev.TS)
		case "system":
			err = s.boolField(&ev.System)
		case "event":
			err = s.stringField(&ev.Event, true)
		case "member":
			err = s.memberField(&ev.Member)
		case "members":
			var n int64
			if err = s.intField(&n); err == nil && n == int64(int(n)) {
				ev.Members = int(n)
			}
		case "id":
			start := s.i
			if err = s.skip(0); err == nil {
				if tok := s.b[start:s.i:s.i]; string(tok) == "null" {
					m.id = nil
				} else {
					m.id = tok
				}
			}
		case "code":
			err = s.stringField(&m.code, true)
		case "message":
			err = s.stringField(&m.message, false)
		default:
			err = s.skip(0)
		}
		if err != nil {
			return err
		}
		more, err := s.objectNext()
		if err != nil || !more {
			return err
		}
	}
}

func (s *scanner) memberField(dst *chatfly.Member) error {
	switch s.peek() {
	case '{':
	case 'n':
		return s.literal("null")
	default:
		return s.skip(0)
	}
	if s.objectStart() {
		return nil
	}
	for {
		k, err := s.key()
		if err != nil {
			return err
		}
		switch string(k) {
		case "id":
			err = s.stringField(&dst.ID, true)
		case "name":
			err = s.stringField(&dst.Name, true)
		default:
			err = s.skip(1)
		}
		if err != nil {
			return err
		}
		more, err := s.objectNext()
		if err != nil || !more {
			return err
		}
	}
}

// stringField decodes a string into dst; null and values of other types
// leave dst unchanged.
func (s *scanner) stringField(dst *string, intern bool) error {
	switch s.peek() {
	case '"':
	case 'n':
		return s.literal("null")
	default:
		return s.skip(0)
	}
	start, end, slow, err := s.str()
	if err != nil {
		return err
	}
	switch {
	case slow:
		*dst = s.slowString(start, end)
	case intern:
		*dst = s.in.str(s.b[start:end])
	default:
		*dst = string(s.b[start:end])
	}
	return nil
}

// intField decodes an integer into dst; null, fractions, exponents,
// overflow and values of other types leave dst unchanged.
func (s *scanner) intField(dst *int64) error {
	switch c := s.peek(); {
	case c == '-' || c >= '0' && c <= '9':
	case c == 'n':
		return s.literal("null")
	default:
		return s.skip(0)
	}
	v, ok, err := s.number()
	if err == nil && ok {
		*dst = v
	}
	return err
}

// boolField decodes true or false into dst; null and values of other
// types leave dst unchanged.
func (s *scanner) boolField(dst *bool) error {
	switch s.peek() {
	case 't':
		if err := s.literal("true"); err != nil {
			return err
		}
		*dst = true
		return nil
	case 'f':
		if err := s.literal("false"); err != nil {
			return err
		}
		*dst = false
		return nil
	}
	return s.skip(0)
}

// str scans the string token at s.i and returns the bounds of its contents.
// slow reports that the contents need unescaping or UTF-8 repair.
func (s *scanner) str() (start, end int, slow bool, err error) {
	b := s.b
	if s.i >= len(b) || b[s.i] != '"' {
		return 0, 0, false, errSyntax
	}
	start = s.i + 1
	ascii := true
	for i := start; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			if !slow && !ascii && !utf8.Valid(b[start:i]) {
				slow = true
			}
			return start, i, slow, nil
		case c == '\\':
			slow = true
			i++
			if i >= len(b) {
				return 0, 0, false, errSyntax
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return 0, 0, false, errSyntax
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return 0, 0, false, errSyntax
					}
				}
				i += 4
			default:
				return 0, 0, false, errSyntax
			}
		case c < 0x20:
			return 0, 0, false, errSyntax
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return 0, 0, false, errSyntax
}

// slowString decodes the string token b[start-1:end+1], which str has
// validated, the way encoding/json does (escapes, surrogate pairs, invalid
// UTF-8 replaced by U+FFFD). It is the rare path.
func (s *scanner) slowString(start, end int) string {
	var v string
	if err := json.Unmarshal(s.b[start-1:end+1], &v); err != nil {
		// Unreachable for a token that str accepted.
		return string(s.b[start:end])
	}
	return v
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number scans a JSON number. ok reports that it is an integer that fits
// in an int64, then v is its value.
func (s *scanner) number() (v int64, ok bool, err error) {
	b, i := s.b, s.i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	digits := i
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, false, errSyntax
	}
	intEnd := i
	isInt := true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, false, errSyntax
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, false, errSyntax
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	s.i = i
	if !isInt || intEnd-digits > 19 {
		return 0, false, nil
	}
	var u uint64
	for _, c := range b[digits:intEnd] {
		u = u*10 + uint64(c-'0') // at most 19 digits: no uint64 overflow
	}
	switch {
	case !neg && u <= 1<<63-1:
		return int64(u), true, nil
	case neg && u <= 1<<63:
		return int64(-u), true, nil // -(1<<63) wraps to itself
	}
	return 0, false, nil
}

// skip scans and validates one value of any type.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	switch c := s.peek(); {
	case c == '"':
		_, _, _, err := s.str()
		return err
	case c == '{':
		if s.objectStart() {
			return nil
		}
		for {
			s.ws()
			if _, _, _, err := s.str(); err != nil {
				return err
			}
			if !s.next(':') {
				return errSyntax
			}
			s.ws()
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			more, err := s.objectNext()
			if err != nil || !more {
				return err
			}
		}
	case c == '[':
		s.i++
		if s.next(']') {
			return nil
		}
		for {
			s.ws()
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			if s.next(',') {
				continue
			}
			if s.next(']') {
				return nil
			}
			return errSyntax
		}
	case c == '-' || isDigit(c):
		_, _, err := s.number()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return errSyntax
}

// interner deduplicates the short strings that repeat from event to event
// (types, room ids, member ids and names), so that decoding them allocates
// only the first time. It belongs to one goroutine. A nil *interner does not
// intern.
type interner struct {
	m map[string]string
}

const (
	internMaxLen  = 128  // longer strings are not interned
	internMaxSize = 4096 // the table is cleared when it grows beyond
)

func newInterner() *interner { return &interner{m: make(map[string]string)} }

func (in *interner) str(b []byte) string {
	if in == nil || len(b) > internMaxLen {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if len(in.m) >= internMaxSize {
		clear(in.m)
	}
	s := string(b)
	in.m[s] = s
	return s
}
