package rpc

import (
	"context"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
)

// Policy says which roles may call which method, keyed by full gRPC method
// name ("/strife.v1.BankService/Prepare"). A method that is not listed is
// refused: deny by default, so a new method is unreachable until someone
// decides who may call it.
type Policy map[string][]certs.Role

// anyRole is every role a certificate can carry.
var anyRole = []certs.Role{certs.RoleClient, certs.RoleAdmin, certs.RoleGateway, certs.RoleBank}

// DefaultPolicy is Strife's policy: banks serve only the gateway, the
// coordinator answers only banks, and health and reflection are open to any
// verified certificate.
var DefaultPolicy = Policy{
	"/strife.v1.BankService/OpenAccount":   {certs.RoleGateway},
	"/strife.v1.BankService/UpdateAccount": {certs.RoleGateway},
	"/strife.v1.BankService/GetAccount":    {certs.RoleGateway},
	"/strife.v1.BankService/ListEntries":   {certs.RoleGateway},
	"/strife.v1.BankService/Prepare":       {certs.RoleGateway},
	"/strife.v1.BankService/Commit":        {certs.RoleGateway},
	"/strife.v1.BankService/Abort":         {certs.RoleGateway},

	"/strife.v1.CoordinatorService/GetDecision": {certs.RoleBank},

	"/grpc.health.v1.Health/Check":                                   anyRole,
	"/grpc.health.v1.Health/Watch":                                   anyRole,
	"/grpc.health.v1.Health/List":                                    anyRole,
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      anyRole,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": anyRole,
}

// Authorize returns nil if the caller in ctx may call method, and a status
// error otherwise: UNAUTHENTICATED without a verified certificate that names
// a role, PERMISSION_DENIED for a role the policy does not list.
func (p Policy) Authorize(ctx context.Context, method string) error {
	_, role, err := Peer(ctx)
	if err != nil {
		return status.Error(codes.Unauthenticated, err.Error())
	}
	if !slices.Contains(p[method], role) {
		return status.Errorf(codes.PermissionDenied, "role %s may not call %s", role, method)
	}
	return nil
}

// ServerOptions returns the interceptors that enforce p on every call.
func (p Policy) ServerOptions() []grpc.ServerOption {
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if err := p.Authorize(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		if err := p.Authorize(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return next(srv, ss)
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream)}
}
