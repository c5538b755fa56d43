package coordinator_test

import (
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
)

// A payment whose Prepare is on its way is in flight: in doubt at the
// banks it has not heard from, but not held. Held are the payments PENDING
// after their first answer, because a bank could not be reached: those an
// operator must look at.
func TestHeldCountsHeldPaymentsNotThoseInFlight(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := crashConfig
	cfg.Metrics = coordinator.NewMetrics(reg)
	w := newWorld(t, cfg)
	gauge := func(name string, labels ...string) float64 {
		families, err := reg.Gather()
		require.NoError(t, err)
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
		series:
			for _, m := range f.GetMetric() {
				for i, l := range m.GetLabel() {
					if 2*i+1 >= len(labels) || l.GetName() != labels[2*i] || l.GetValue() != labels[2*i+1] {
						continue series
					}
				}
				return m.GetGauge().GetValue()
			}
		}
		return 0
	}

	bankB := w.gate("BankB")
	bankB.set(coordinator.KindPrepare, 1, holdBefore)
	paid := w.payInBackground(t, ulid.Make(), pay("BankA/1001", "BankB/2001", 100))
	bankB.await(t, coordinator.KindPrepare, 1)
	require.Zero(t, gauge("strife_payments_held"), "in flight, not held")
	// The Prepares leave while the attempt's staging commits: the run
	// knows its attempt a moment after the Prepare reached the gate.
	require.Eventually(t, func() bool { return gauge("strife_attempts_in_doubt", "bank", "BankB") == 1 }, 10*time.Second, 5*time.Millisecond, "in doubt at BankB")
	require.Zero(t, gauge("strife_payments_held"), "in flight, not held")
	bankB.open()
	require.Equal(t, coordinator.Committed, (<-paid).Status)

	w.dir.setDown("BankB", true)
	p := <-w.payInBackground(t, ulid.Make(), pay("BankA/1001", "BankB/2001", 100))
	require.Equal(t, coordinator.Pending, p.Status)
	require.Equal(t, 1.0, gauge("strife_payments_held"), "held: BankB cannot be reached")
	w.dir.setDown("BankB", false)
	require.Eventually(t, func() bool { return gauge("strife_payments_held") == 0 }, 10*time.Second, 10*time.Millisecond, "paid once BankB is back")
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}
