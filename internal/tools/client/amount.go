package client

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrBadAmount is wrapped by every amount that ParseAmount refuses.
var ErrBadAmount = errors.New("bad amount")

// ParseAmount turns a decimal amount such as "12.50", "12.5" or "12" into
// minor units (1250, 1250, 1200) exactly, without floating point. It refuses
// more than two decimals, signs, zero, values past math.MaxInt64 minor units
// and anything that is not digits with at most one dot.
func ParseAmount(s string) (int64, error) {
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") {
		return 0, fmt.Errorf("%w %q: write it like 12.50", ErrBadAmount, s)
	}
	if len(frac) > 2 {
		return 0, fmt.Errorf("%w %q: at most two decimals", ErrBadAmount, s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	var n int64
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w %q: write it like 12.50", ErrBadAmount, s)
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, fmt.Errorf("%w %q: too large", ErrBadAmount, s)
		}
		n = n*10 + d
	}
	if n == 0 {
		return 0, fmt.Errorf("%w %q: must be more than zero", ErrBadAmount, s)
	}
	return n, nil
}

// FormatAmount writes minor units as a decimal with two places: 1250 is
// "12.50".
func FormatAmount(minor int64) string {
	sign := ""
	u := uint64(minor)
	if minor < 0 {
		sign, u = "-", uint64(-(minor+1))+1
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}
