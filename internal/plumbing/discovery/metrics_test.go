package discovery_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/daemons/devetcd/etcdtest"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
)

// TestRegisteredMetricFollowsTheRegistration checks strife_etcd_registered:
// 0 before a registration exists, 1 once registered, 0 after Close.
func TestRegisteredMetricFollowsTheRegistration(t *testing.T) {
	etcd := etcdtest.Start(t)
	var r *discovery.Registration
	reg := prometheus.NewRegistry()
	discovery.RegisterMetrics(reg, func() *discovery.Registration { return r })
	value := func() float64 {
		families, err := reg.Gather()
		require.NoError(t, err)
		return families[0].GetMetric()[0].GetGauge().GetValue()
	}
	require.Zero(t, value())
	r = register(t, etcdtest.Client(t, etcd), discovery.Banks, "BankA", "127.0.0.1:7001", 2*time.Second)
	require.Equal(t, 1.0, value())
	require.NoError(t, r.Close())
	require.Zero(t, value())
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}
