package backoff_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/plumbing/backoff"
)

func TestJitterStaysWithinHalfToWhole(t *testing.T) {
	for _, d := range []time.Duration{1, 3, time.Millisecond, 30 * time.Second} {
		seen := map[bool]bool{} // below and above 3d/4
		for range 1000 {
			j := backoff.Jitter(d)
			require.GreaterOrEqual(t, j, d/2, "%v", d)
			require.LessOrEqual(t, j, d, "%v", d)
			seen[j < 3*d/4] = true
		}
		if d >= time.Millisecond {
			require.Len(t, seen, 2, "%v: spread over the range, not a constant", d)
		}
	}
	require.Zero(t, backoff.Jitter(0))
}
