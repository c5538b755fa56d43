package freetext_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/plumbing/freetext"
)

// The values of the rule, by what they are. Refused ones name the byte
// where the first offending character starts.
var (
	accepted = []string{
		"", "rent", "Miete für März", "家賃", "إيجار", "🎉 party", "€12.50 — thanks!",
		"👨\u200D👩\u200D👧 family", // emoji joined by ZWJ
		"می\u200Cخواهم",          // Persian with ZWNJ
		"\uFFFD",                 // a literal replacement character is text
		"\uE000 private use",     // private use
		"unassigned \U000E0FFF",  // not assigned
		strings.Repeat("x", 256), // at the limit
	}
	refused = map[string]string{
		"nul \x00":               "control character U+0000 at byte 4",
		"line\nbreak":            "control character U+000A at byte 4",
		"cr\r":                   "control character U+000D at byte 2",
		"tab\there":              "control character U+0009 at byte 3",
		"\x1b[31mred":            "control character U+001B at byte 0",
		"del\x7f":                "control character U+007F at byte 3",
		"c1 csi \u009b31m":       "control character U+009B at byte 7",
		"evil\u202Etxt.exe":      "format character U+202E at byte 4",
		"isolate \u2066x\u2069":  "format character U+2066 at byte 8",
		"rlm\u200F":              "format character U+200F at byte 3",
		"\uFEFFbom":              "format character U+FEFF at byte 0",
		"soft\u00ADhyphen":       "format character U+00AD at byte 4",
		"tag\U000E0041":          "format character U+E0041 at byte 3",
		"line\u2028sep":          "line separator U+2028 at byte 4",
		"para\u2029sep":          "line separator U+2029 at byte 4",
		"bad \xff utf8":          "invalid UTF-8 at byte 4",
		"cut \xe2\x82":           "invalid UTF-8 at byte 4",
		"surrogate \xed\xa0\x80": "invalid UTF-8 at byte 10",
		strings.Repeat("x", 257): "257 bytes, at most 256",
	}
)

func TestCheck(t *testing.T) {
	for _, s := range accepted {
		require.NoError(t, freetext.Check("memo", s, 256), "%q", s)
	}
	for s, why := range refused {
		err := freetext.Check("memo", s, 256)
		require.ErrorIs(t, err, freetext.ErrInvalid, "%q", s)
		require.Equal(t, "memo is not valid text: "+why, err.Error())
	}
}

func TestCheckNoLimit(t *testing.T) {
	require.NoError(t, freetext.Check("owner", strings.Repeat("x", 10_000), 0))
}

// FuzzCheck holds Check to the rule stated independently: a value passes
// exactly when it is within the limit, valid UTF-8, and every rune is
// neither a control (unicode.IsControl, which is Cc), nor a format
// character other than the joiners, nor U+2028/U+2029. The error never
// repeats the value's bytes.
func FuzzCheck(f *testing.F) {
	for _, s := range accepted {
		f.Add(s)
	}
	for s := range refused {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		const limit = 64
		err := freetext.Check("f", s, limit)
		want := len(s) <= limit && utf8.ValidString(s)
		for _, r := range s {
			format := unicode.In(r, unicode.Cf) && r != 0x200C && r != 0x200D
			if unicode.IsControl(r) || format || r == 0x2028 || r == 0x2029 {
				want = false
			}
		}
		if want != (err == nil) {
			t.Fatalf("Check(%q) = %v, want ok=%v", s, err, want)
		}
		if err != nil && !errors.Is(err, freetext.ErrInvalid) {
			t.Fatalf("Check(%q) = %v, not ErrInvalid", s, err)
		}
		if err != nil && len(s) > 3 && strings.Contains(err.Error(), s) {
			t.Fatalf("the error %q repeats the value", err)
		}
	})
}
