package rpc

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errPanic is what the caller of a call that panicked receives: the panic
// value may name internals, so it goes only to the log.
var errPanic = status.Error(codes.Internal, "internal error")

// RecoveryInterceptors return interceptors that turn a panic in the layers
// below them (inner interceptors and the handler) into INTERNAL "internal
// error", and log it at error level with the method, the panic value passed
// through Redact, and the stack. The server keeps serving. They go just
// inside AuditInterceptors, which then logs the call as INTERNAL.
//
// A panic on a goroutine the handler started is not recovered: it still
// ends the process.
func RecoveryInterceptors(log zerolog.Logger) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	opt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		method, _ := grpc.Method(ctx)
		log.Error().
			Str("method", method).
			Str("panic", Redact(fmt.Sprintf("%v", p))).
			Str("stack", string(debug.Stack())).
			Msg("grpc handler panicked")
		return errPanic
	})
	return recovery.UnaryServerInterceptor(opt), recovery.StreamServerInterceptor(opt)
}
