package bench_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/bench"
)

// The benchmark's deployment works and its payments commit. Only that: the
// figures are for people to read, not for a test to assert.
func TestBenchRunsPaymentsThroughTheWholePath(t *testing.T) {
	var out bytes.Buffer
	results, err := bench.Run(bench.Options{Payers: []int{1, 4}, Duration: 300 * time.Millisecond, Out: &out})
	require.NoError(t, err)
	require.Len(t, results, 2)
	for _, r := range results {
		require.Positive(t, r.Payments, "%v", r)
		require.Zero(t, r.Failed, "%v", r)
	}
	require.Contains(t, out.String(), "payments/s")
}
