package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// auditLog is the log sink of an audited test server: server goroutines
// write it while the test reads it.
type auditLog struct{ banktest.LogBuffer }

// entries parses every line, optionally only those with message msg.
func (l *auditLog) entries(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(l.String()) {
		var e map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &e), "log line %q", line)
		if msg == "" || e["message"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// onlyCall returns the single audit line, failing if there is not exactly one.
func (l *auditLog) onlyCall(t *testing.T) map[string]any {
	t.Helper()
	calls := l.entries(t, "grpc call")
	require.Len(t, calls, 1, "log:\n%s", l.String())
	return calls[0]
}

// auditBank is a BankService whose Prepare does what the layers below the
// interceptors do to the Call, and whose Commit is the test's to choose.
type auditBank struct {
	strifev1.UnimplementedBankServiceServer
	commit func(context.Context, *strifev1.CommitRequest) (*strifev1.CommitResponse, error)
}

func (auditBank) Prepare(ctx context.Context, _ *strifev1.PrepareRequest) (*strifev1.PrepareResponse, error) {
	call := rpc.CallFrom(ctx)
	call.MarkRetry()
	call.SetUser("alice", "customer")
	return &strifev1.PrepareResponse{Vote: strifev1.Vote_VOTE_YES}, nil
}

func (b auditBank) Commit(ctx context.Context, req *strifev1.CommitRequest) (*strifev1.CommitResponse, error) {
	if b.commit == nil {
		return &strifev1.CommitResponse{}, nil
	}
	return b.commit(ctx, req)
}

// payStreamDesc is a hand-registered bidirectional stream of
// PrepareRequests, so that the tests can stream messages that carry a
// transaction_id. Its handler panics on transaction "panic".
var payStreamDesc = grpc.ServiceDesc{
	ServiceName: "strife.test.AuditTest",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Pay",
		Handler:       payStream,
		ClientStreams: true,
		ServerStreams: true,
	}},
}

const payMethod = "/strife.test.AuditTest/Pay"

func payStream(_ any, ss grpc.ServerStream) error {
	for {
		var req strifev1.PrepareRequest
		err := ss.RecvMsg(&req)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if req.GetTransactionId() == "panic" {
			panic("stream handler blew up")
		}
	}
}

// identify stands in for the authorization interceptor: it records the
// verified certificate in the Call.
func identify(ctx context.Context) {
	if name, role, err := rpc.Peer(ctx); err == nil {
		rpc.CallFrom(ctx).SetProgram(name, role)
	}
}

// auditedServer is a real mutual-TLS server on 127.0.0.1 with the audit and
// recovery interceptors outermost, and a connection to it from a gateway
// certificate named "gateway-1".
type auditedServer struct {
	conn *grpc.ClientConn
	bank strifev1.BankServiceClient
	log  *auditLog
}

// startAudited serves auditBank{commit} and payStreamDesc behind the chain
// audit → recovery → identify → inner → handler.
func startAudited(t *testing.T, commit func(context.Context, *strifev1.CommitRequest) (*strifev1.CommitResponse, error), inner ...grpc.UnaryServerInterceptor) *auditedServer {
	t.Helper()
	ca, err := certs.NewCA("audit-test-ca", time.Hour)
	require.NoError(t, err)
	dns, ips := certs.LocalhostSANs()
	serverID, err := ca.Issue(certs.Request{Role: certs.RoleBank, Name: "bank-a", DNSNames: dns, IPAddresses: ips})
	require.NoError(t, err)
	clientID, err := ca.Issue(certs.Request{Role: certs.RoleGateway, Name: "gateway-1"})
	require.NoError(t, err)

	logs := &auditLog{}
	log := zerolog.New(logs)
	auditU, auditS := rpc.AuditInterceptors(log)
	recoverU, recoverS := rpc.RecoveryInterceptors(log)
	identifyU := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		identify(ctx)
		return next(ctx, req)
	}
	identifyS := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		identify(ss.Context())
		return next(srv, ss)
	}
	unary := append([]grpc.UnaryServerInterceptor{auditU, recoverU, identifyU}, inner...)
	s, _ := rpc.NewServer(certs.ServerConfigFrom(serverID, ca.Pool()), log,
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(auditS, recoverS, identifyS))
	strifev1.RegisterBankServiceServer(s, auditBank{commit: commit})
	s.RegisterService(&payStreamDesc, nil)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)

	conn, err := rpc.Dial(lis.Addr().String(), certs.ClientConfigFrom(clientID, ca.Pool(), ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &auditedServer{conn: conn, bank: strifev1.NewBankServiceClient(conn), log: logs}
}

func callContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestAuditLogsOneLinePerCall(t *testing.T) {
	s := startAudited(t, nil)
	const txID = "01J9ZQ4T3V6M8X2B5N7R0C1D4E"
	_, err := s.bank.Prepare(callContext(t), &strifev1.PrepareRequest{
		TransactionId: txID,
		Attempt:       1,
		Legs:          []*strifev1.Leg{{Account: "1001", Direction: strifev1.Direction_DIRECTION_DEBIT, Amount: 500}},
	})
	require.NoError(t, err)

	line := s.log.onlyCall(t)
	require.ElementsMatch(t, []string{
		"level", "message", "method", "peer", "program", "program_role", "user", "user_role",
		"transaction_id", "retry", "code", "duration_ms",
	}, keys(line), "amount is on the legs, not the request")
	require.Equal(t, "info", line["level"])
	require.Equal(t, "/strife.v1.BankService/Prepare", line["method"])
	require.True(t, strings.HasPrefix(line["peer"].(string), "127.0.0.1:"), "peer %v", line["peer"])
	require.Equal(t, "gateway-1", line["program"])
	require.Equal(t, "gateway", line["program_role"])
	require.Equal(t, "alice", line["user"])
	require.Equal(t, "customer", line["user_role"])
	require.Equal(t, txID, line["transaction_id"])
	require.Equal(t, true, line["retry"])
	require.Equal(t, "OK", line["code"])
	require.GreaterOrEqual(t, line["duration_ms"], 0.0)
}

func TestAuditLevels(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		wantLevel string
		wantCode  string
	}{
		{"ok", nil, "info", "OK"},
		{"not found", status.Error(codes.NotFound, "attempt 01J9/2 was never prepared"), "warn", "NotFound"},
		{"permission denied", status.Error(codes.PermissionDenied, "role client may not call Commit"), "warn", "PermissionDenied"},
		{"failed precondition", status.Error(codes.FailedPrecondition, "attempt aborted"), "warn", "FailedPrecondition"},
		{"deadline", status.Error(codes.DeadlineExceeded, "too slow"), "warn", "DeadlineExceeded"},
		{"context canceled", context.Canceled, "warn", "Canceled"},
		{"internal", status.Error(codes.Internal, "wal: corrupt record"), "error", "Internal"},
		{"unavailable", status.Error(codes.Unavailable, "draining"), "error", "Unavailable"},
		{"unimplemented", status.Error(codes.Unimplemented, "not yet"), "error", "Unimplemented"},
		{"plain error", errors.New("boom"), "error", "Unknown"},
	}
	byTx := map[string]error{}
	for _, tc := range cases {
		byTx[tc.name] = tc.err
	}
	s := startAudited(t, func(_ context.Context, req *strifev1.CommitRequest) (*strifev1.CommitResponse, error) {
		if err := byTx[req.GetTransactionId()]; err != nil {
			return nil, err
		}
		return &strifev1.CommitResponse{}, nil
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.log.Reset()
			_, err := s.bank.Commit(callContext(t), &strifev1.CommitRequest{TransactionId: tc.name, Attempt: 1})
			require.Equal(t, tc.wantCode, status.Code(err).String())

			line := s.log.onlyCall(t)
			require.Equal(t, tc.wantLevel, line["level"])
			require.Equal(t, tc.wantCode, line["code"])
			require.Equal(t, "/strife.v1.BankService/Commit", line["method"])
			require.Equal(t, tc.name, line["transaction_id"])
			require.NotContains(t, line, "retry")
			if tc.err == nil {
				require.NotContains(t, line, "error")
			} else {
				require.Equal(t, status.Convert(err).Message(), line["error"])
			}
		})
	}
}

func TestAuditRedactsStatusMessage(t *testing.T) {
	s := startAudited(t, func(context.Context, *strifev1.CommitRequest) (*strifev1.CommitResponse, error) {
		return nil, status.Error(codes.Unauthenticated, "token Bearer abc.def.ghi or eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl rejected")
	})
	_, err := s.bank.Commit(callContext(t), &strifev1.CommitRequest{TransactionId: "t"})
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	line := s.log.onlyCall(t)
	require.Equal(t, "warn", line["level"])
	require.Equal(t, "token [REDACTED] or [REDACTED] rejected", line["error"])
	for _, secret := range []string{"abc.def", "eyJ", "c2lnbmF0dXJl"} {
		require.NotContains(t, s.log.String(), secret)
	}
}

// Bodies and metadata never reach the log, whatever they hold.
func TestAuditNeverLogsBodiesOrMetadata(t *testing.T) {
	s := startAudited(t, nil)
	ctx := metadata.AppendToOutgoingContext(callContext(t),
		"authorization", "Bearer hunter2-token",
		"x-password", "hunter2")
	_, err := s.bank.Prepare(ctx, &strifev1.PrepareRequest{
		TransactionId: "01J9ZQ4T3V6M8X2B5N7R0C1D4E",
		Legs:          []*strifev1.Leg{{Account: "1001", Amount: 5, Counterparty: "hunter2/1"}},
		Memo:          "hunter2-password",
	})
	require.NoError(t, err)

	stream, err := s.conn.NewStream(ctx, &payStreamDesc.Streams[0], payMethod)
	require.NoError(t, err)
	require.NoError(t, stream.SendMsg(&strifev1.PrepareRequest{TransactionId: "s", Memo: "hunter2-password"}))
	require.NoError(t, stream.CloseSend())
	require.ErrorIs(t, stream.RecvMsg(&strifev1.PrepareResponse{}), io.EOF)

	require.Len(t, s.log.entries(t, "grpc call"), 2)
	require.NotContains(t, s.log.String(), "hunter2")
}

// A server-streaming call is logged once, when it ends.
func TestAuditStreamLoggedWhenItEnds(t *testing.T) {
	s := startAudited(t, nil)
	ctx, cancel := context.WithCancel(callContext(t))
	defer cancel()
	watch, err := healthpb.NewHealthClient(s.conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	resp, err := watch.Recv()
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
	require.Empty(t, s.log.entries(t, "grpc call"), "logged before the stream ended")

	cancel()
	require.Eventually(t, func() bool {
		return strings.Contains(s.log.String(), "grpc call")
	}, 5*time.Second, 10*time.Millisecond)
	line := s.log.onlyCall(t)
	require.Equal(t, "/grpc.health.v1.Health/Watch", line["method"])
	require.Equal(t, "Canceled", line["code"])
	require.Equal(t, "warn", line["level"])
	require.Equal(t, "gateway-1", line["program"], "the inner layers saw the Call through the stream's context")
	require.NotContains(t, line, "transaction_id")
}

// A stream's request fields are those of its first message.
func TestAuditStreamFirstMessage(t *testing.T) {
	s := startAudited(t, nil)
	stream, err := s.conn.NewStream(callContext(t), &payStreamDesc.Streams[0], payMethod)
	require.NoError(t, err)
	require.NoError(t, stream.SendMsg(&strifev1.PrepareRequest{TransactionId: "T1"}))
	require.NoError(t, stream.SendMsg(&strifev1.PrepareRequest{TransactionId: "T2"}))
	require.NoError(t, stream.CloseSend())
	require.ErrorIs(t, stream.RecvMsg(&strifev1.PrepareResponse{}), io.EOF)

	line := s.log.onlyCall(t)
	require.Equal(t, payMethod, line["method"])
	require.Equal(t, "T1", line["transaction_id"])
	require.Equal(t, "OK", line["code"])
	require.Equal(t, "info", line["level"])
}

func TestRequestFields(t *testing.T) {
	cases := []struct {
		name      string
		msg       proto.Message
		txID      string
		amount    int64
		hasTxID   bool
		hasAmount bool
	}{
		{"leg amount", &strifev1.Leg{Amount: 5}, "", 5, false, true},
		{"zero amount is still there", &strifev1.Leg{}, "", 0, false, true},
		{"transaction id", &strifev1.PrepareRequest{TransactionId: "X"}, "X", 0, true, false},
		{"nested amounts do not count", &strifev1.PrepareRequest{TransactionId: "X", Legs: []*strifev1.Leg{{Amount: 9}}}, "X", 0, true, false},
		{"empty transaction id", &strifev1.CommitRequest{}, "", 0, true, false},
		{"other names do not count", &strifev1.OpenAccountRequest{OpeningBalance: 7}, "", 0, false, false},
		{"token as transaction id", &strifev1.CommitRequest{TransactionId: "Bearer hunter2"}, "[REDACTED]", 0, true, false},
		{"long transaction id", &strifev1.CommitRequest{TransactionId: strings.Repeat("z", 300)}, strings.Repeat("z", 64), 0, true, false},
		{"typed nil", (*strifev1.Leg)(nil), "", 0, false, false},
		{"nil", nil, "", 0, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			txID, amount, hasTxID, hasAmount := rpc.RequestFields(tc.msg)
			require.Equal(t, tc.txID, txID)
			require.Equal(t, tc.amount, amount)
			require.Equal(t, tc.hasTxID, hasTxID)
			require.Equal(t, tc.hasAmount, hasAmount)
		})
	}
}

func TestRedact(t *testing.T) {
	long := strings.Repeat("x", 2000)
	edge := strings.Repeat("a", 495) + " Bearer abcdefgh"
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"nothing secret", "account 1001 not found (v1.2.3)", "account 1001 not found (v1.2.3)"},
		{"bearer", "Bearer abc.def.ghi", "[REDACTED]"},
		{"bearer in a sentence", "authorization: bearer s3cr3t, try again", "authorization: [REDACTED] try again"},
		{"bearer after a tab", "BEARER\tx y", "[REDACTED] y"},
		{"jwt", "token eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl expired", "token [REDACTED] expired"},
		{"jwt in a key=value", "t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.s-_x;", "t=[REDACTED];"},
		{"eyJ alone is not a jwt", "eyJ is fine", "eyJ is fine"},
		{"capped", long, long[:500]},
		{"redacted before the cap", edge, strings.Repeat("a", 495) + " [RED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, rpc.Redact(tc.in))
		})
	}
	t.Run("capped at a rune boundary", func(t *testing.T) {
		got := rpc.Redact(strings.Repeat("€", 700)) // 3 bytes each
		require.True(t, utf8.ValidString(got))
		require.Len(t, got, 498)
	})
}
