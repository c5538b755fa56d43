package rpc_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// callerContext is the context of a call from a verified certificate with
// the given role.
func callerContext(t *testing.T, role certs.Role) context.Context {
	ca, err := certs.NewCA("test-ca", time.Hour)
	require.NoError(t, err)
	id, err := ca.Issue(certs.Request{Role: role, Name: "caller"})
	require.NoError(t, err)
	state := tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{id.Leaf}}}
	return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{}, AuthInfo: credentials.TLSInfo{State: state}})
}

func TestPolicy(t *testing.T) {
	cases := []struct {
		name   string
		ctx    context.Context
		method string
		want   codes.Code
	}{
		{"gateway calls a bank", callerContext(t, certs.RoleGateway), "/strife.v1.BankService/Prepare", codes.OK},
		{"client calls a bank", callerContext(t, certs.RoleClient), "/strife.v1.BankService/Prepare", codes.PermissionDenied},
		{"bank calls a bank", callerContext(t, certs.RoleBank), "/strife.v1.BankService/Commit", codes.PermissionDenied},
		{"bank asks the coordinator", callerContext(t, certs.RoleBank), "/strife.v1.CoordinatorService/GetDecision", codes.OK},
		{"gateway asks the coordinator", callerContext(t, certs.RoleGateway), "/strife.v1.CoordinatorService/GetDecision", codes.PermissionDenied},
		{"client asks the coordinator", callerContext(t, certs.RoleClient), "/strife.v1.CoordinatorService/GetDecision", codes.PermissionDenied},
		{"anyone checks health", callerContext(t, certs.RoleClient), "/grpc.health.v1.Health/Check", codes.OK},
		{"a method missing from the table", callerContext(t, certs.RoleAdmin), "/strife.v1.BankService/DropAllTables", codes.PermissionDenied},
		{"no certificate", peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{}}), "/grpc.health.v1.Health/Check", codes.Unauthenticated},
		{"no peer at all", context.Background(), "/grpc.health.v1.Health/Check", codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := rpc.DefaultPolicy.Authorize(tc.ctx, tc.method)
			require.Equal(t, tc.want, status.Code(err), "%v", err)
		})
	}
}

// Every method Strife serves must be in the policy table, or it would be
// unreachable (deny by default): this catches a method added to a .proto
// without a decision about who may call it.
func TestPolicyCoversEveryMethod(t *testing.T) {
	for _, desc := range []grpc.ServiceDesc{strifev1.BankService_ServiceDesc, strifev1.CoordinatorService_ServiceDesc} {
		for _, m := range desc.Methods {
			method := "/" + desc.ServiceName + "/" + m.MethodName
			require.NotEmpty(t, rpc.DefaultPolicy[method], "%s is missing from the policy", method)
		}
		for _, s := range desc.Streams {
			method := "/" + desc.ServiceName + "/" + s.StreamName
			require.NotEmpty(t, rpc.DefaultPolicy[method], "%s is missing from the policy", method)
		}
	}
}
