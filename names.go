package chatfly

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// invisible are characters that render as nothing (or as blank space) but
// are not in Unicode's control or format categories; they would let two
// names look the same.
var invisible = map[rune]bool{
	'\u115F': true, '\u1160': true, '\u3164': true, '\uFFA0': true, // Hangul fillers
	'\u2800': true, // braille blank
	'\u180E': true, // Mongolian vowel separator
	'\u034F': true, // combining grapheme joiner
}

// CleanName validates a display name and returns it trimmed. A valid name has
// 1 to maxRunes characters after trimming white space, and no control,
// format (zero-width, soft hyphen, bidirectional override…), invisible,
// line-separator or invalid UTF-8 characters. Errors wrap [ErrInvalidName].
func CleanName(name string, maxRunes int) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Errorf(ErrInvalidName, "name is empty")
	}
	if !utf8.ValidString(name) {
		return "", Errorf(ErrInvalidName, "name is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(name); n > maxRunes {
		return "", Errorf(ErrInvalidName, "name is longer than "+itoa(int64(maxRunes))+" characters")
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) ||
			unicode.Is(unicode.Zp, r) || invisible[r] || r == utf8.RuneError {
			return "", Errorf(ErrInvalidName, "name contains an invisible or control character")
		}
	}
	return name, nil
}

// nameKey is the form in which names are compared for uniqueness in a room.
func nameKey(name string) string { return strings.ToLower(name) }

// ValidRoomID reports whether id is a valid room id: 1 to 64 characters of
// A-Z, a-z, 0-9, '_' and '-'.
func ValidRoomID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
