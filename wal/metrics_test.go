package wal_test

import (
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/wal"
)

// TestMetricsCountCommitsAndFailures checks the log's metrics: one commit
// of three appends measured once, with its bytes and fsync time, and a
// commit the disk refuses counted as a write failure.
func TestMetricsCountCommitsAndFailures(t *testing.T) {
	reg := prometheus.NewRegistry()
	var fail atomic.Bool
	l, err := wal.Open(filepath.Join(t.TempDir(), "log.db"), wal.Options{
		Metrics:    wal.NewMetrics(reg),
		FailWrites: func() error { return map[bool]error{true: errors.New("disk full")}[fail.Load()] },
	})
	require.NoError(t, err)
	defer l.Close()
	noop := func(*wal.Tx) error { return nil }
	for _, err := range l.AppendAll([]func(*wal.Tx) error{noop, noop, noop}) {
		require.NoError(t, err)
	}
	fail.Store(true)
	require.ErrorIs(t, l.Append(noop), wal.ErrWriteFailed)

	families, err := reg.Gather()
	require.NoError(t, err)
	metric := map[string]*dto.Metric{}
	for _, f := range families {
		metric[f.GetName()] = f.GetMetric()[0]
	}
	// The commit of Open's buckets is not measured: Metrics start with the
	// appends.
	for _, name := range []string{"strife_wal_commit_duration_seconds", "strife_wal_fsync_duration_seconds", "strife_wal_appends_per_commit", "strife_wal_commit_bytes"} {
		require.EqualValues(t, 1, metric[name].GetHistogram().GetSampleCount(), name)
	}
	require.Equal(t, 3.0, metric["strife_wal_appends_per_commit"].GetHistogram().GetSampleSum())
	require.Positive(t, metric["strife_wal_commit_bytes"].GetHistogram().GetSampleSum())
	require.Positive(t, metric["strife_wal_fsync_duration_seconds"].GetHistogram().GetSampleSum())
	require.Equal(t, 1.0, metric["strife_wal_write_failures_total"].GetCounter().GetValue())
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}
