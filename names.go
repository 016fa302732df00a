package chatfly

import (
	"crypto/sha256"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// invisible are characters that render as nothing (or as blank space) but
// are in none of the categories and properties CleanName refuses as a whole;
// they would let two names look the same.
var invisible = map[rune]bool{
	'\u2800': true, // braille blank
}

// CleanName validates a display name and returns it trimmed and in Unicode
// normal form NFC. A valid name has 1 to maxRunes characters after trimming
// white space, and no control, format (zero-width, soft hyphen,
// bidirectional override…), default-ignorable (Hangul fillers, invisible
// combining marks such as U+034F or U+17B5), private-use, line-separator or
// invalid UTF-8 characters. A variation selector is accepted only right
// after a symbol (the emoji presentation of "❤️"), once. Errors wrap
// [ErrInvalidName].
//
// Names that differ in case, by compatibility forms (fullwidth or
// mathematical letters) or by common look-alike letters and digits (Cyrillic
// "а" for Latin "a", "0" for "O") count as the same name in a room: joining
// a room where a look-alike is in use fails with [ErrNameTaken].
func CleanName(name string, maxRunes int) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Errorf(ErrInvalidName, "name is empty")
	}
	if !utf8.ValidString(name) {
		return "", Errorf(ErrInvalidName, "name is not valid UTF-8")
	}
	name = norm.NFC.String(name)
	if n := utf8.RuneCountInString(name); n > maxRunes {
		return "", Errorf(ErrInvalidName, "name is longer than "+itoa(int64(maxRunes))+" characters")
	}
	prev := rune(-1)
	for _, r := range name {
		if unicode.Is(unicode.Variation_Selector, r) {
			if prev < 0 || !unicode.Is(unicode.So, prev) {
				return "", Errorf(ErrInvalidName, "name contains a variation selector that is not part of an emoji")
			}
			prev = -1 // one selector per symbol
			continue
		}
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp, unicode.Other_Default_Ignorable_Code_Point) ||
			invisible[r] || r == utf8.RuneError {
			return "", Errorf(ErrInvalidName, "name contains an invisible or control character")
		}
		prev = r
	}
	return name, nil
}

// maxNameKeyBytes bounds the length of a name key (a storage sort key):
// compatibility decomposition can make a name many times longer.
const maxNameKeyBytes = 256

// nameKey is the form in which names are compared for uniqueness in a room:
// the name's skeleton. It is the NFKC form of the name, with common
// look-alike characters replaced by the Latin letter they imitate
// (confusable), lower-cased, with variation selectors dropped and runs of
// white space collapsed to one space. A plain ASCII name made of letters,
// punctuation and single spaces keys as its lower case, as it always did;
// the digits 0 and 1 key as "o" and "l".
//
// Case folding and look-alike folding are not transitive together: "I" and
// "l" look alike in many fonts, but keying them alike would also fold "i"
// and "l" and change the key of every ASCII name with an i or an l, so "I"
// keys as "i" only.
func nameKey(name string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFKC.String(name) {
		switch {
		case unicode.Is(unicode.Variation_Selector, r):
			continue
		case unicode.IsSpace(r):
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if t, ok := confusables[r]; ok {
			r = t
		}
		b.WriteRune(unicode.ToLower(r))
	}
	if b.Len() > maxNameKeyBytes {
		sum := sha256.Sum256([]byte(b.String()))
		return "#" + b64.EncodeToString(sum[:])
	}
	return b.String()
}

// confusables maps characters that look like a Latin letter in common fonts
// to that letter (before lower-casing, so upper-case look-alikes map to
// upper-case letters). It is a compact hand-made subset of Unicode's
// confusables (UTS #39): the Cyrillic, Greek and Latin look-alikes of ASCII
// letters, and the digits and signs that pass for letters. Compatibility
// forms (fullwidth, mathematical and circled letters, ligatures) need no
// entry: NFKC already maps them to plain letters.
var confusables = map[rune]rune{
	// ASCII digits and signs.
	'0': 'o', '1': 'l', '|': 'l',
	// Cyrillic capitals.
	'А': 'A', 'В': 'B', 'Е': 'E', 'Ѕ': 'S', 'І': 'I', 'Ј': 'J', 'К': 'K', 'М': 'M',
	'Н': 'H', 'О': 'O', 'Р': 'P', 'С': 'C', 'Т': 'T', 'У': 'Y', 'Х': 'X', 'Ү': 'Y',
	'Ԛ': 'Q', 'Ԝ': 'W', 'Ӏ': 'I', 'Ꙅ': 'S',
	// Cyrillic small letters.
	'а': 'a', 'е': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x', 'ѕ': 's',
	'і': 'i', 'ј': 'j', 'ԁ': 'd', 'һ': 'h', 'ԛ': 'q', 'ԝ': 'w', 'ү': 'y', 'ӏ': 'l',
	'ѵ': 'v', 'ɡ': 'g',
	// Greek capitals.
	'Α': 'A', 'Β': 'B', 'Ε': 'E', 'Ζ': 'Z', 'Η': 'H', 'Ι': 'I', 'Κ': 'K', 'Μ': 'M',
	'Ν': 'N', 'Ο': 'O', 'Ρ': 'P', 'Τ': 'T', 'Υ': 'Y', 'Χ': 'X', 'Ϲ': 'C', 'Ϳ': 'J',
	// Greek small letters.
	'α': 'a', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'υ': 'u', 'χ': 'x',
	'ϲ': 'c', 'ϳ': 'j',
	// Latin look-alikes of other letters.
	'ı': 'i', 'ɩ': 'i', 'ǀ': 'l', 'ɑ': 'a', 'ʏ': 'y', 'ᴅ': 'd',
}

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
