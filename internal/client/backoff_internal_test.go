package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestJitterStaysWithinHalfAndWhole(t *testing.T) {
	for d := MinBackoff; d < 2*MaxBackoff; d *= 2 {
		d = min(d, MaxBackoff)
		for range 100 {
			j := jitter(d)
			require.GreaterOrEqual(t, j, d/2)
			require.LessOrEqual(t, j, d)
		}
		if d == MaxBackoff {
			break
		}
	}
	require.LessOrEqual(t, jitter(MaxBackoff), 30*time.Second)
}
