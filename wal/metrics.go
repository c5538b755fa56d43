package wal

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/internal/plumbing/metrics"
)

// Metrics measure a Log's commits (Options.Metrics). Nil measures nothing.
type Metrics struct {
	commit, fsync, appends, bytes prometheus.Observer
	failures                      prometheus.Counter
	damaged                       prometheus.Gauge
}

// NewMetrics makes the write-ahead log's metrics and registers them with
// reg:
//
//	strife_wal_commit_duration_seconds  one commit of a group, begin to durable
//	strife_wal_fsync_duration_seconds   its write and fdatasync part (bbolt's Tx.Stats WriteTime)
//	strife_wal_appends_per_commit       appends (functions) in one commit
//	strife_wal_commit_bytes             pages written by one commit × page size
//	strife_wal_write_failures_total     commits the disk refused
//	strife_wal_damaged                  1 once the scrub found the file damaged (appends refused)
//
// bbolt's WriteTime runs from the first page written to the meta page
// synced: the dirty pages, the fdatasync after them and the meta page with
// its own fdatasync. The syncs dominate it on any real disk, but it is not
// the fsync alone. Its bytes count each write of a page (an overflow page
// run counts as one page) and the meta page, as whole pages.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	h := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	}
	commit := h("strife_wal_commit_duration_seconds", "One bbolt commit of a group of appends, begin to durable.", metrics.LatencyBuckets)
	fsync := h("strife_wal_fsync_duration_seconds", "The write and fdatasync part of a commit (bbolt Tx.Stats WriteTime: page writes and the two fdatasyncs).", metrics.LatencyBuckets)
	appends := h("strife_wal_appends_per_commit", "Appends (records' functions) in one commit.", prometheus.ExponentialBuckets(1, 2, 11))
	bytes := h("strife_wal_commit_bytes", "Bytes written by one commit (pages written times the page size).", prometheus.ExponentialBuckets(4096, 2, 12))
	failures := prometheus.NewCounter(prometheus.CounterOpts{Name: "strife_wal_write_failures_total", Help: "Commits the disk refused (full disk, I/O error, failed fsync)."})
	damaged := prometheus.NewGauge(prometheus.GaugeOpts{Name: "strife_wal_damaged", Help: "1 once the background scrub found the data file damaged: the log refuses appends until the daemon is stopped and the file checked (strife-recover check)."})
	reg.MustRegister(commit, fsync, appends, bytes, failures, damaged)
	return &Metrics{commit: commit, fsync: fsync, appends: appends, bytes: bytes, failures: failures, damaged: damaged}
}

// start is when a commit begins: the zero time without metrics, so that a
// Log without them does not read the clock.
func (m *Metrics) start() time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}

// committed measures a commit of appends that began at start, and whose
// bbolt transaction was btx (read after its commit: its Stats stay).
func (m *Metrics) committed(start time.Time, btx *bolt.Tx, appends, pageSize int) {
	if m == nil || btx == nil {
		return
	}
	m.commit.Observe(time.Since(start).Seconds())
	stats := btx.Stats()
	m.fsync.Observe(stats.GetWriteTime().Seconds())
	m.appends.Observe(float64(appends))
	m.bytes.Observe(float64(stats.GetWrite()) * float64(pageSize))
}

// failed counts a commit the disk refused.
func (m *Metrics) failed() {
	if m != nil {
		m.failures.Inc()
	}
}

// damagedFound says that the scrub found the file damaged.
func (m *Metrics) damagedFound() {
	if m != nil {
		m.damaged.Set(1)
	}
}
