package gatewayd

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/plumbing/auth"
	"github.com/strife-pay/strife/internal/plumbing/metrics"
)

// Reasons of strife_login_refusals_total.
const (
	loginBadPassword = "bad_password" // a known user, a wrong password
	loginNoUser      = "no_user"      // no such user (answered as a wrong password)
	loginThrottled   = "throttled"    // too many failures of the user or certificate
	loginLocked      = "locked"       // the user is locked by an admin
	loginBusy        = "busy"         // every hashing slot and the queue taken
)

// gatewayMetrics are a gateway's own metrics (Pay latency, login
// refusals) and the coordinator's, in the registry of its daemon.Server,
// with the log's, the gRPC server's and the registration's. A nil *gatewayMetrics is
// a gateway without metrics: each accessor returns nil, which measures
// nothing.
type gatewayMetrics struct {
	c      *coordinator.Metrics
	pay    prometheus.Observer
	logins map[string]prometheus.Counter
}

// newGatewayMetrics registers the gateway's metrics, and the coordinator's,
// in reg (the daemon.Server's, which has the log's, the gRPC server's and
// the registration's).
func newGatewayMetrics(reg *prometheus.Registry) *gatewayMetrics {
	pay := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "strife_pay_duration_seconds", Help: "Pay handler latency, receipt to answer, of every Pay answered OK.", Buckets: metrics.LatencyBuckets,
	})
	logins := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strife_login_refusals_total", Help: "Logins refused, by reason."}, []string{"reason"})
	reg.MustRegister(pay, logins)
	m := &gatewayMetrics{c: coordinator.NewMetrics(reg), pay: pay, logins: map[string]prometheus.Counter{}}
	for _, reason := range []string{loginBadPassword, loginNoUser, loginThrottled, loginLocked, loginBusy} {
		m.logins[reason] = logins.WithLabelValues(reason)
	}
	return m
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

func (m *gatewayMetrics) coordinator() *coordinator.Metrics {
	if m == nil {
		return nil
	}
	return m.c
}
