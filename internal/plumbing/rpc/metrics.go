package rpc

import (
	"context"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/strife-pay/strife/internal/plumbing/metrics"
)

// Metrics measure a server's calls (see ServerOptions). Nil measures
// nothing.
//
//	grpc_server_started_total, grpc_server_handled_total, grpc_server_handling_seconds
//	    go-grpc-middleware's server metrics, with the handling-time histogram, by
//	    grpc_service, grpc_method, grpc_type (and grpc_code)
//	strife_auth_refusals_total{reason}
//	    calls the policy refused, by why (the Refused reasons)
//
// A method the server does not serve is counted as "unknown"/"unknown": a
// caller chooses the name of the method it calls, and a label must never
// take a value a caller can choose without bound.
type Metrics struct {
	grpc     *grpcprom.ServerMetrics
	refusals map[string]prometheus.Counter
	policy   Policy
}

// NewMetrics makes a server's metrics and registers them with reg. policy
// lists the methods whose names may be labels.
func NewMetrics(reg prometheus.Registerer, policy Policy) *Metrics {
	m := &Metrics{
		grpc:     grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(metrics.LatencyBuckets))),
		refusals: map[string]prometheus.Counter{},
		policy:   policy,
	}
	refusals := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strife_auth_refusals_total", Help: "Calls refused by authentication or authorization, by reason."}, []string{"reason"})
	for _, reason := range []string{RefusedNoCertificate, RefusedNotInPolicy, RefusedWrongProgram, RefusedNoToken, RefusedBadToken,
		RefusedExpired, RefusedWrongCertificate, RefusedRevoked, RefusedLocked, RefusedWrongRole} {
		m.refusals[reason] = refusals.WithLabelValues(reason)
	}
	reg.MustRegister(m.grpc, refusals)
	return m
}

// Init creates the series of every method server serves at zero, so that a
// scrape shows them before their first call. Call it once the services are
// registered.
func (m *Metrics) Init(server *grpc.Server) {
	if m != nil {
		m.grpc.InitializeMetrics(server)
	}
}

func (m *Metrics) refused(reason string) {
	if m != nil {
		m.refusals[reason].Inc()
	}
}

// unlistedMethod is the method name of every call to a method not in the
// policy, in the metrics.
const unlistedMethod = "/unknown/unknown"

// interceptors are the gRPC metrics' interceptors, with the names of
// methods not in the policy replaced by unlistedMethod.
func (m *Metrics) interceptors() (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	unary, stream := m.grpc.UnaryServerInterceptor(), m.grpc.StreamServerInterceptor()
	u := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if _, ok := m.policy[info.FullMethod]; !ok {
			info = &grpc.UnaryServerInfo{Server: info.Server, FullMethod: unlistedMethod}
		}
		return unary(ctx, req, info, next)
	}
	s := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		if _, ok := m.policy[info.FullMethod]; !ok {
			info = &grpc.StreamServerInfo{FullMethod: unlistedMethod, IsClientStream: info.IsClientStream, IsServerStream: info.IsServerStream}
		}
		return stream(srv, ss, info, next)
	}
	return u, s
}
