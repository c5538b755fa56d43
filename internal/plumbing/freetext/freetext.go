package freetext

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxMemoLen is the longest memo of a payment, in bytes: the gateway, the
// banks and the client share it.
const MaxMemoLen = 256

// ErrInvalid marks a value that breaks the rule. Callers wrap it in their
// own invalid-argument error; its text reads after the field's name.
var ErrInvalid = errors.New("is not valid text")

// Joiners are the format characters the rule keeps: the zero-width
// non-joiner and joiner.
const (
	zwnj = '\u200C'
	zwj  = '\u200D'
)

// Check checks the value of a free-text field: at most max bytes (no limit
// if max is 0), valid UTF-8, and no character Allowed refuses. field names
// the field in the error, which says what is wrong and where; it quotes the
// offending character only as a code point, so that the error is safe to
// print and to log.
func Check(field, s string, max int) error {
	if max > 0 && len(s) > max {
		return fmt.Errorf("%s %w: %d bytes, at most %d", field, ErrInvalid, len(s), max)
	}
	for i, r := range s {
		if r == utf8.RuneError && invalidAt(s, i) {
			return fmt.Errorf("%s %w: invalid UTF-8 at byte %d", field, ErrInvalid, i)
		}
		if !Allowed(r) {
			return fmt.Errorf("%s %w: %s U+%04X at byte %d", field, ErrInvalid, kind(r), r, i)
		}
	}
	return nil
}

// invalidAt reports whether the rune at byte i of s is an encoding error
// rather than a literal U+FFFD.
func invalidAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 1
}

// Allowed reports whether r may appear in free text: it is not a control
// character, a format character other than the joiners, or a line or
// paragraph separator.
func Allowed(r rune) bool {
	switch {
	case r == zwnj || r == zwj:
		return true
	case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
		return false
	}
	return true
}

// kind names the class of a refused character, for the error.
func kind(r rune) string {
	switch {
	case unicode.Is(unicode.Cc, r):
		return "control character"
	case unicode.Is(unicode.Cf, r):
		return "format character"
	}
	return "line separator"
}
