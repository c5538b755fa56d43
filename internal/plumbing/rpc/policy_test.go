package rpc_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/plumbing/auth"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// callerContext is the context of a call from a verified certificate with
// the given role, carrying token (if not empty) as a bearer token.
func callerContext(t *testing.T, role certs.Role, token string) context.Context {
	ca, err := certs.NewCA("test-ca", time.Hour)
	require.NoError(t, err)
	id, err := ca.Issue(certs.Request{Role: role, Name: "caller"})
	require.NoError(t, err)
	state := tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{id.Leaf}}}
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{}, AuthInfo: credentials.TLSInfo{State: state}})
	if token != "" {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+token))
	}
	return ctx
}

// tokens accepts "alice" as a customer and "root" as an admin.
type tokens struct{}

func (tokens) Verify(token string, _ *x509.Certificate) (auth.Token, error) {
	switch token {
	case "alice":
		return auth.Token{User: "alice", Role: "customer"}, nil
	case "root":
		return auth.Token{User: "root", Role: "admin"}, nil
	}
	return auth.Token{}, errors.New("bad token")
}

func TestPolicy(t *testing.T) {
	const (
		prepare  = "/strife.v1.BankService/Prepare"
		resolve  = "/strife.v1.BankService/ResolveAttempt"
		decision = "/strife.v1.CoordinatorService/GetDecision"
		pay      = "/strife.v1.GatewayService/Pay"
		register = "/strife.v1.GatewayService/RegisterClient"
		login    = "/strife.v1.GatewayService/Login"
		health   = "/grpc.health.v1.Health/Check"
	)
	cases := []struct {
		name   string
		ctx    context.Context
		method string
		want   codes.Code
	}{
		{"gateway calls a bank", callerContext(t, certs.RoleGateway, ""), prepare, codes.OK},
		{"client calls a bank", callerContext(t, certs.RoleClient, "alice"), prepare, codes.PermissionDenied},
		{"bank calls a bank", callerContext(t, certs.RoleBank, ""), prepare, codes.PermissionDenied},
		{"gateway resolves an attempt", callerContext(t, certs.RoleGateway, ""), resolve, codes.OK},
		{"client resolves an attempt", callerContext(t, certs.RoleClient, "alice"), resolve, codes.PermissionDenied},
		{"bank asks the coordinator", callerContext(t, certs.RoleBank, ""), decision, codes.OK},
		{"gateway asks the coordinator", callerContext(t, certs.RoleGateway, ""), decision, codes.PermissionDenied},
		{"client asks the coordinator", callerContext(t, certs.RoleClient, "alice"), decision, codes.PermissionDenied},
		{"client logs in without a token", callerContext(t, certs.RoleClient, ""), login, codes.OK},
		{"bank tries to log in", callerContext(t, certs.RoleBank, ""), login, codes.PermissionDenied},
		{"customer pays", callerContext(t, certs.RoleClient, "alice"), pay, codes.OK},
		{"pay without a token", callerContext(t, certs.RoleClient, ""), pay, codes.Unauthenticated},
		{"pay with a bad token", callerContext(t, certs.RoleClient, "forged"), pay, codes.Unauthenticated},
		{"customer registers a client", callerContext(t, certs.RoleClient, "alice"), register, codes.PermissionDenied},
		{"admin registers a client", callerContext(t, certs.RoleAdmin, "root"), register, codes.OK},
		{"gateway certificate calls the gateway", callerContext(t, certs.RoleGateway, "root"), pay, codes.PermissionDenied},
		{"anyone checks health", callerContext(t, certs.RoleClient, ""), health, codes.OK},
		{"a method missing from the table", callerContext(t, certs.RoleAdmin, "root"), "/strife.v1.BankService/DropAllTables", codes.PermissionDenied},
		{"no certificate", peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{}}), health, codes.Unauthenticated},
		{"no peer at all", context.Background(), health, codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rpc.DefaultPolicy.Authorize(tc.ctx, tc.method, tokens{})
			require.Equal(t, tc.want, status.Code(err), "%v", err)
		})
	}
}

func TestAuthorizedCallCarriesItsPrincipal(t *testing.T) {
	call := &rpc.Call{}
	ctx := rpc.WithCall(callerContext(t, certs.RoleClient, "alice"), call)
	ctx, err := rpc.DefaultPolicy.Authorize(ctx, "/strife.v1.GatewayService/Pay", tokens{})
	require.NoError(t, err)
	p, ok := rpc.PrincipalFrom(ctx)
	require.True(t, ok)
	require.Equal(t, [4]string{"caller", "client", "alice", "customer"}, [4]string{p.Program, string(p.ProgramRole), p.User, p.UserRole})
	require.Equal(t, "caller", p.Cert.Subject.CommonName)
	require.Equal(t, rpc.CallInfo{Program: "caller", ProgramRole: certs.RoleClient, User: "alice", UserRole: "customer"}, call.Info(), "the audit line learns who called")
}

// Every method Strife serves must be in the policy table, or it would be
// unreachable (deny by default): this catches a method added to a .proto
// without a decision about who may call it.
func TestPolicyCoversEveryMethod(t *testing.T) {
	for _, desc := range []grpc.ServiceDesc{strifev1.BankService_ServiceDesc, strifev1.CoordinatorService_ServiceDesc, strifev1.GatewayService_ServiceDesc} {
		for _, m := range desc.Methods {
			method := "/" + desc.ServiceName + "/" + m.MethodName
			require.NotEmpty(t, rpc.DefaultPolicy[method].Programs, "%s is missing from the policy", method)
		}
		for _, s := range desc.Streams {
			method := "/" + desc.ServiceName + "/" + s.StreamName
			require.NotEmpty(t, rpc.DefaultPolicy[method].Programs, "%s is missing from the policy", method)
		}
	}
}

// refusing tells why Verify refused a token, as auth.Signer does.
type refusing struct{ why error }

func (r refusing) Verify(string, *x509.Certificate) (auth.Token, error) { return auth.Token{}, r.why }

// The caller learns only that its token is invalid or expired; the server's
// log tells a bad token from one presented over another certificate, and
// never holds the token.
func TestRefusedTokenIsLoggedWithItsReason(t *testing.T) {
	const token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	for _, why := range []error{fmt.Errorf("%w: token is expired", auth.ErrBadToken), auth.ErrWrongCertificate} {
		t.Run(why.Error(), func(t *testing.T) {
			var log banktest.LogBuffer
			unary, _ := rpc.DefaultPolicy.Interceptors(refusing{why}, zerolog.New(&log))
			_, err := unary(callerContext(t, certs.RoleClient, token), nil, &grpc.UnaryServerInfo{FullMethod: "/strife.v1.GatewayService/Pay"},
				func(context.Context, any) (any, error) { t.Fatal("the handler ran"); return nil, nil })
			require.Equal(t, codes.Unauthenticated, status.Code(err))
			require.NotContains(t, status.Convert(err).Message(), why.Error(), "the reason is for the log only")

			var line map[string]any
			require.NoError(t, json.Unmarshal([]byte(log.String()), &line), log.String())
			require.Equal(t, map[string]any{
				"level": "warn", "message": "login token refused", "method": "/strife.v1.GatewayService/Pay",
				"program": "caller", "error": why.Error(),
			}, line)
			require.NotContains(t, log.String(), "c2lnbmF0dXJl", "the token")
		})
	}
}

// The Bearer scheme is case-insensitive (RFC 7235 section 2.1, RFC 6750
// section 2.1); the token is what follows the spaces, as it was sent.
func TestBearerToken(t *testing.T) {
	for _, value := range []string{"Bearer abc.DEF", "bearer abc.DEF", "BEARER abc.DEF", "bEaReR   abc.DEF"} {
		token, ok := rpc.BearerToken(value)
		require.True(t, ok, "%q", value)
		require.Equal(t, "abc.DEF", token, "%q", value)
	}
	for _, value := range []string{"", "Bearer", "Bearer ", "Bearer   ", "Basic abc", "Bearerabc", "Bearer\tabc", "Token abc", " Bearer abc"} {
		_, ok := rpc.BearerToken(value)
		require.False(t, ok, "%q", value)
	}
}

// The policy takes the scheme in any case, on the way it reads the
// metadata of a real call.
func TestPolicyBearerAnyCase(t *testing.T) {
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		ctx := metadata.NewIncomingContext(callerContext(t, certs.RoleClient, ""), metadata.Pairs("authorization", scheme+" alice"))
		_, err := rpc.DefaultPolicy.Authorize(ctx, "/strife.v1.GatewayService/Pay", tokens{})
		require.NoError(t, err, scheme)
	}
}
