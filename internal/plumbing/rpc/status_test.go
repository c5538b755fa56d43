package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
)

func TestStatus(t *testing.T) {
	errMissing := errors.New("missing")
	rules := []rpc.StatusRule{{Err: errMissing, Code: codes.NotFound}}
	cases := []struct {
		name    string
		err     error
		code    codes.Code
		message string
	}{
		{"nil", nil, codes.OK, ""},
		{"wrapped sentinel", fmt.Errorf("account 7: %w", errMissing), codes.NotFound, "account 7: missing"},
		{"already a status", status.Error(codes.PermissionDenied, "no"), codes.PermissionDenied, "no"},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), codes.Canceled, "x: context canceled"},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded, "context deadline exceeded"},
		{"anything else hides its text", errors.New("open /var/lib/strife/secret.db: disk on fire"), codes.Internal, "internal error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := rpc.Status(tc.err, rules)
			require.Equal(t, tc.code, s.Code())
			require.Equal(t, tc.message, s.Message())
		})
	}
}

// Reply sends what Status gives and logs, redacted, only the errors whose
// text the caller does not see.
func TestReply(t *testing.T) {
	errMissing := errors.New("missing")
	rules := []rpc.StatusRule{{Err: errMissing, Code: codes.NotFound}}
	var log banktest.LogBuffer
	lg := zerolog.New(&log)

	require.NoError(t, rpc.Reply(lg, "GetAccount", nil, rules))
	err := rpc.Reply(lg, "GetAccount", fmt.Errorf("account 7: %w", errMissing), rules)
	require.Equal(t, codes.NotFound, status.Code(err))
	require.Equal(t, "account 7: missing", status.Convert(err).Message())
	require.Empty(t, log.String(), "the caller sees these; nothing to log")

	err = rpc.Reply(lg, "GetAccount", errors.New("open secret.db: disk on fire, Bearer hunter2"), rules)
	require.Equal(t, codes.Internal, status.Code(err))
	require.Equal(t, "internal error", status.Convert(err).Message())
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(log.String()), &line), log.String())
	require.Equal(t, map[string]any{
		"level": "error", "message": "internal error", "method": "GetAccount",
		"error": "open secret.db: disk on fire, [REDACTED]",
	}, line)
}
