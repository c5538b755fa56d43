package bankd

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/strife-pay/strife/internal/discovery"
	"github.com/strife-pay/strife/internal/metrics"
	"github.com/strife-pay/strife/internal/rpc"
	"github.com/strife-pay/strife/participant"
	"github.com/strife-pay/strife/wal"
)

// bankMetrics are a bank's metrics, in a registry of its own, handed to
// the packages that measure (each defines its own). A nil *bankMetrics is
// a bank without metrics: each accessor returns nil, which measures
// nothing.
type bankMetrics struct {
	reg    *prometheus.Registry
	w      *wal.Metrics
	p      *participant.Metrics
	r      *rpc.Metrics
	server *metrics.Server
}

func newBankMetrics(registration func() *discovery.Registration) *bankMetrics {
	reg := metrics.NewRegistry()
	discovery.RegisterMetrics(reg, registration)
	return &bankMetrics{reg: reg, w: wal.NewMetrics(reg), p: participant.NewMetrics(reg), r: rpc.NewMetrics(reg, rpc.DefaultPolicy)}
}

// serve starts the metrics listener: last, once everything it reads is
// in place.
func (m *bankMetrics) serve(addr string, log zerolog.Logger) (err error) {
	m.server, err = metrics.Serve(addr, m.reg, log)
	return err
}

func (m *bankMetrics) wal() *wal.Metrics {
	if m == nil {
		return nil
	}
	return m.w
}

func (m *bankMetrics) participant() *participant.Metrics {
	if m == nil {
		return nil
	}
	return m.p
}

func (m *bankMetrics) rpc() *rpc.Metrics {
	if m == nil {
		return nil
	}
	return m.r
}

func (m *bankMetrics) addr() string {
	if m == nil || m.server == nil {
		return ""
	}
	return m.server.Addr()
}

func (m *bankMetrics) close() {
	if m != nil && m.server != nil {
		m.server.Close()
	}
}
