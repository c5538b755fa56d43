package rpc_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// A panic becomes INTERNAL "internal error" for the caller, an error line
// with the panic and its stack in the log, and the audit line of a failed
// call; the server keeps serving on the same connection.
func TestRecovery(t *testing.T) {
	panicInCommit := func(context.Context, *strifev1.CommitRequest) (*strifev1.CommitResponse, error) {
		panic(fmt.Errorf("ledger exploded, token Bearer hunter2"))
	}
	panicInInterceptor := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if info.FullMethod == "/strife.v1.BankService/Commit" {
			panic("authorization blew up")
		}
		return next(ctx, req)
	}
	commit := func(t *testing.T, s *auditedServer) error {
		_, err := s.bank.Commit(callContext(t), &strifev1.CommitRequest{TransactionId: "01J9"})
		return err
	}
	stream := func(t *testing.T, s *auditedServer) error {
		cs, err := s.conn.NewStream(callContext(t), &payStreamDesc.Streams[0], payMethod)
		require.NoError(t, err)
		require.NoError(t, cs.SendMsg(&strifev1.PrepareRequest{TransactionId: "panic"}))
		return cs.RecvMsg(&strifev1.PrepareResponse{})
	}
	cases := []struct {
		name      string
		start     func(t *testing.T) *auditedServer
		call      func(t *testing.T, s *auditedServer) error
		method    string
		wantPanic string
		panicAt   string // a file on the stack
	}{
		{
			name:      "handler",
			start:     func(t *testing.T) *auditedServer { return startAudited(t, panicInCommit) },
			call:      commit,
			method:    "/strife.v1.BankService/Commit",
			wantPanic: "ledger exploded, token [REDACTED]",
			panicAt:   "recovery_test.go",
		},
		{
			name:      "inner interceptor",
			start:     func(t *testing.T) *auditedServer { return startAudited(t, nil, panicInInterceptor) },
			call:      commit,
			method:    "/strife.v1.BankService/Commit",
			wantPanic: "authorization blew up",
			panicAt:   "recovery_test.go",
		},
		{
			name:      "stream handler",
			start:     func(t *testing.T) *auditedServer { return startAudited(t, nil) },
			call:      stream,
			method:    payMethod,
			wantPanic: "stream handler blew up",
			panicAt:   "audit_test.go",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.start(t)
			err := tc.call(t, s)
			require.Equal(t, codes.Internal, status.Code(err), "%v", err)
			require.Equal(t, "internal error", status.Convert(err).Message())

			panics := s.log.entries(t, "grpc handler panicked")
			require.Len(t, panics, 1, "log:\n%s", s.log.String())
			require.Equal(t, "error", panics[0]["level"])
			require.Equal(t, tc.method, panics[0]["method"])
			require.Equal(t, tc.wantPanic, panics[0]["panic"])
			require.Contains(t, panics[0]["stack"], tc.panicAt)
			require.NotContains(t, s.log.String(), "hunter2")

			line := s.log.onlyCall(t)
			require.Equal(t, "error", line["level"])
			require.Equal(t, "Internal", line["code"])
			require.Equal(t, "internal error", line["error"])

			_, err = s.bank.Prepare(callContext(t), &strifev1.PrepareRequest{TransactionId: "after"})
			require.NoError(t, err, "the server survived the panic")
			require.Len(t, s.log.entries(t, "grpc call"), 2)
		})
	}
}
