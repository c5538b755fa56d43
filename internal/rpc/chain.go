package rpc

import (
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
)

// ServerOptions returns the interceptor chain of every Strife server, in
// this order:
//
//	audit          outermost: one log line per call, whatever happens inside
//	recovery       a panic anywhere below becomes INTERNAL and is logged
//	authorization  the policy: certificate role, then login token if needed
//	handler
//
// so that refused calls and panics are logged too. tokens may be nil for a
// server whose methods need no login.
func ServerOptions(log zerolog.Logger, policy Policy, tokens TokenVerifier) []grpc.ServerOption {
	auditU, auditS := AuditInterceptors(log)
	recoverU, recoverS := RecoveryInterceptors(log)
	authU, authS := policy.Interceptors(tokens, log)
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(auditU, recoverU, authU),
		grpc.ChainStreamInterceptor(auditS, recoverS, authS),
	}
}
