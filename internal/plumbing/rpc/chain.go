package rpc

import (
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
)

// ServerOptions returns the interceptor chain of every Strife server, in
// this order:
//
//	metrics        if m is not nil: gRPC counts and handling times of every call
//	audit          one log line per call, whatever happens inside
//	recovery       a panic anywhere below becomes INTERNAL and is logged
//	authorization  the policy: certificate role, then login token if needed
//	handler
//
// so that refused calls and panics are logged (and counted) too. tokens may
// be nil for a server whose methods need no login. m, if not nil, also
// counts the policy's refusals by reason; call m.Init once the services are
// registered.
func ServerOptions(log zerolog.Logger, policy Policy, tokens TokenVerifier, m *Metrics) []grpc.ServerOption {
	auditU, auditS := AuditInterceptors(log)
	recoverU, recoverS := RecoveryInterceptors(log)
	authU, authS := policy.interceptors(tokens, log, m)
	unary := []grpc.UnaryServerInterceptor{auditU, recoverU, authU}
	stream := []grpc.StreamServerInterceptor{auditS, recoverS, authS}
	if m != nil {
		metricsU, metricsS := m.interceptors()
		unary = append([]grpc.UnaryServerInterceptor{metricsU}, unary...)
		stream = append([]grpc.StreamServerInterceptor{metricsS}, stream...)
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...)}
}
