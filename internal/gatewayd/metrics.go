package gatewayd

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/auth"
	"github.com/strife-pay/strife/internal/discovery"
	"github.com/strife-pay/strife/internal/metrics"
	"github.com/strife-pay/strife/internal/rpc"
	"github.com/strife-pay/strife/wal"
)

// Reasons of strife_login_refusals_total.
const (
	loginBadPassword = "bad_password" // a known user, a wrong password
	loginNoUser      = "no_user"      // no such user (answered as a wrong password)
	loginThrottled   = "throttled"    // too many failures of the user or certificate
	loginLocked      = "locked"       // the user is locked by an admin
	loginBusy        = "busy"         // every hashing slot and the queue taken
)

// gatewayMetrics are a gateway's metrics, in a registry of its own: its
// own (Pay latency, login refusals) and those of the packages it hands
// theirs to (wal, coordinator, rpc, discovery). A nil *gatewayMetrics is
// a gateway without metrics: each accessor returns nil, which measures
// nothing.
type gatewayMetrics struct {
	reg    *prometheus.Registry
	w      *wal.Metrics
	c      *coordinator.Metrics
	r      *rpc.Metrics
	server *metrics.Server

	pay    prometheus.Observer
	logins map[string]prometheus.Counter
}

func newGatewayMetrics(registration func() *discovery.Registration) *gatewayMetrics {
	reg := metrics.NewRegistry()
	discovery.RegisterMetrics(reg, registration)
	pay := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "strife_pay_duration_seconds", Help: "Pay handler latency, receipt to answer, of every Pay answered OK.", Buckets: metrics.LatencyBuckets,
	})
	logins := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strife_login_refusals_total", Help: "Logins refused, by reason."}, []string{"reason"})
	reg.MustRegister(pay, logins)
	m := &gatewayMetrics{
		reg: reg, w: wal.NewMetrics(reg), c: coordinator.NewMetrics(reg), r: rpc.NewMetrics(reg, rpc.DefaultPolicy),
		pay: pay, logins: map[string]prometheus.Counter{},
	}
	for _, reason := range []string{loginBadPassword, loginNoUser, loginThrottled, loginLocked, loginBusy} {
		m.logins[reason] = logins.WithLabelValues(reason)
	}
	return m
}

// serve starts the metrics listener: last, once everything it reads is
// in place.
func (m *gatewayMetrics) serve(addr string, log zerolog.Logger) (err error) {
	m.server, err = metrics.Serve(addr, m.reg, log)
	return err
}

// start is when a call was received: zero without metrics, which then
// never read the clock.
func (m *gatewayMetrics) start() time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}

// paid measures a Pay answered OK, received at start.
func (m *gatewayMetrics) paid(start time.Time) {
	if m != nil {
		m.pay.Observe(time.Since(start).Seconds())
	}
}

// loginRefused counts a login refused with err; known is whether the user
// exists. Other errors (a wiring bug, a cancelled call) are not refusals.
func (m *gatewayMetrics) loginRefused(err error, known bool) {
	if m == nil {
		return
	}
	var throttled *auth.ThrottledError
	switch {
	case errors.As(err, &throttled):
		m.logins[loginThrottled].Inc()
	case errors.Is(err, auth.ErrBusy):
		m.logins[loginBusy].Inc()
	case errors.Is(err, ErrLocked):
		m.logins[loginLocked].Inc()
	case errors.Is(err, ErrBadLogin) && known:
		m.logins[loginBadPassword].Inc()
	case errors.Is(err, ErrBadLogin):
		m.logins[loginNoUser].Inc()
	}
}

func (m *gatewayMetrics) wal() *wal.Metrics {
	if m == nil {
		return nil
	}
	return m.w
}

func (m *gatewayMetrics) coordinator() *coordinator.Metrics {
	if m == nil {
		return nil
	}
	return m.c
}

func (m *gatewayMetrics) rpc() *rpc.Metrics {
	if m == nil {
		return nil
	}
	return m.r
}

func (m *gatewayMetrics) addr() string {
	if m == nil || m.server == nil {
		return ""
	}
	return m.server.Addr()
}

func (m *gatewayMetrics) close() {
	if m != nil && m.server != nil {
		m.server.Close()
	}
}
