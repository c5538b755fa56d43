package rpc

import (
	"context"
	"errors"

	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// StatusRule maps every error that errors.Is Err to Code.
type StatusRule struct {
	Err  error
	Code codes.Code
}

// Status converts err for the wire, with the code of the first rule that
// matches. Errors that already carry a status keep it; context errors become
// CANCELED or DEADLINE_EXCEEDED. Anything else is INTERNAL, and its text is
// not sent: it may name files or internals the caller has no business
// seeing, so the caller should log it. Status(nil) is OK.
func Status(err error, rules []StatusRule) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	if s, ok := status.FromError(err); ok {
		return s
	}
	for _, r := range rules {
		if errors.Is(err, r.Err) {
			return status.New(r.Code, err.Error())
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, err.Error())
	}
	return status.New(codes.Internal, "internal error")
}

// Reply converts a handler's err for the wire with Status and rules. When
// the result is INTERNAL, whose text the caller does not get to see, it logs
// err (passed through Redact) at error level with method, the handler's
// name ("GetBalance"). Reply(log, method, nil, rules) is nil.
func Reply(log zerolog.Logger, method string, err error, rules []StatusRule) error {
	return ReplyStatus(log, method, err, rules).Err()
}

// ReplyStatus is Reply's status, for an error that travels inside a
// response rather than as the call's (the items of a batch).
func ReplyStatus(log zerolog.Logger, method string, err error, rules []StatusRule) *status.Status {
	st := Status(err, rules)
	if st.Code() == codes.Internal {
		log.Error().Str("error", Redact(err.Error())).Str("method", method).Msg("internal error")
	}
	return st
}
