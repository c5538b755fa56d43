package coordinator

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Validate checks a payment's parameters: both accounts are
// "<bank>/<number>", they differ, the amount is positive. The gateway has
// checked the details (lengths, who owns what) before.
func (p Params) Validate() error {
	switch {
	case Bank(p.From) == "" || number(p.From) == "":
		return fmt.Errorf("%w: from account %q is not <bank>/<number>", ErrInvalid, p.From)
	case Bank(p.To) == "" || number(p.To) == "":
		return fmt.Errorf("%w: to account %q is not <bank>/<number>", ErrInvalid, p.To)
	case p.From == p.To:
		return fmt.Errorf("%w: payer and payee are the same account", ErrInvalid)
	case p.Amount <= 0:
		return fmt.Errorf("%w: amount %d is not positive", ErrInvalid, p.Amount)
	}
	return nil
}

// classify turns a failed Prepare into a Failure. A missed deadline is a
// Timeout; a bank that refused the request itself (bad arguments, a
// protocol error, its policy) Rejected it; anything else (no connection, a
// bank shutting down, an internal error) is Unavailable and worth another
// attempt later.
func classify(ctx context.Context, err error) Failure {
	if errors.Is(err, context.DeadlineExceeded) || (ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded)) {
		return Timeout
	}
	switch status.Code(err) {
	case codes.DeadlineExceeded:
		return Timeout
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound,
		codes.PermissionDenied, codes.Unauthenticated, codes.OutOfRange, codes.Unimplemented:
		return Rejected
	}
	return Unavailable
}
