package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/internal/rpc"
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
