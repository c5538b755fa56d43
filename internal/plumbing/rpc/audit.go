package rpc

import (
	"context"
	"math"
	"regexp"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// AuditInterceptors return the interceptors that write one "grpc call" line
// to log for every call when it ends, with these fields and no others:
//
//	method          full method, "/strife.v1.BankService/Prepare"
//	peer            the caller's network address
//	program         CN of the verified client certificate    } when the
//	program_role    role of that certificate                 } authorization
//	user, user_role the user of a valid login token          } layer set them
//	target          the user an admin's call acted on (Call.SetTarget)
//	transaction_id  top-level request field of that name, when the message has one
//	amount          top-level request field of that name, when the message has one
//	retry           true when the handler marked the call as a replay (else absent)
//	items           the number of items of a batch call (Call.SetBatch)      } only for
//	first_transaction_id, last_transaction_id  the range of their IDs         } a batch
//	code            status code, "OK", "NotFound"...
//	error           the status message passed through Redact (absent when OK)
//	duration_ms     wall time in the server, float
//
// Bodies and metadata are never logged, so passwords and tokens in them
// cannot leak. The level is info for OK, warn for the codes that blame the
// caller or its deadline (see levelFor), error for server faults.
//
// They create the call's *Call and put it in the context (WithCall) for the
// inner layers to fill in, so they must be the OUTERMOST interceptors of
// every Strife server. The intended chain is
//
//	audit → recovery → authorization → handler
//
// so that denials and recovered panics are logged with their code, and a
// panic in authorization is recovered too:
//
//	auditU, auditS := rpc.AuditInterceptors(log)
//	recoverU, recoverS := rpc.RecoveryInterceptors(log)
//	grpc.ChainUnaryInterceptor(auditU, recoverU, authorizeU)
//	grpc.ChainStreamInterceptor(auditS, recoverS, authorizeS)
//
// (Several ChainUnaryInterceptor options append in order, so audit and
// recovery must come in the first one.) For a stream, the request fields are
// those of the first message the handler receives.
func AuditInterceptors(log zerolog.Logger) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		start, call := time.Now(), &Call{}
		fields := requestFieldsOf(req)
		resp, err := next(WithCall(ctx, call), req)
		writeAudit(ctx, log, info.FullMethod, call, fields, err, start)
		return resp, err
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		start, call := time.Now(), &Call{}
		as := &auditStream{ServerStream: ss, ctx: WithCall(ss.Context(), call)}
		err := next(srv, as)
		writeAudit(ss.Context(), log, info.FullMethod, call, as.first(), err, start)
		return err
	}
	return unary, stream
}

// auditStream gives the inner layers the context that carries the Call and
// keeps the request fields of the first message received.
type auditStream struct {
	grpc.ServerStream
	ctx context.Context

	mu       sync.Mutex // a handler may receive on another goroutine
	received bool
	fields   requestFields
}

func (s *auditStream) Context() context.Context { return s.ctx }

func (s *auditStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.received {
		s.received, s.fields = true, requestFieldsOf(m)
	}
	return nil
}

func (s *auditStream) first() requestFields {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fields
}

// requestFields are the request fields the audit line reports.
type requestFields struct {
	txID               string
	amount             int64
	hasTxID, hasAmount bool
}

func requestFieldsOf(req any) requestFields {
	msg, ok := req.(proto.Message)
	if !ok {
		return requestFields{}
	}
	var f requestFields
	f.txID, f.amount, f.hasTxID, f.hasAmount = RequestFields(msg)
	return f
}

// maxTxIDLen caps the logged transaction_id. Strife's are 26-character
// ULIDs; anything much longer is not one, and is client-chosen text.
const maxTxIDLen = 64

// RequestFields reads the top-level fields named exactly "transaction_id"
// (a string) and "amount" (an integer) of msg, reporting which it has. A
// field of another type, a repeated field, or an unset field with explicit
// presence does not count. Nested messages are not searched: a
// PrepareRequest's amounts are on its legs.
func RequestFields(msg proto.Message) (txID string, amount int64, hasTxID, hasAmount bool) {
	if msg == nil {
		return "", 0, false, false
	}
	m := msg.ProtoReflect()
	if !m.IsValid() {
		return "", 0, false, false
	}
	if fd, v, ok := scalarField(m, "transaction_id"); ok && fd.Kind() == protoreflect.StringKind {
		txID, hasTxID = truncate(Redact(v.String()), maxTxIDLen), true
	}
	if fd, v, ok := scalarField(m, "amount"); ok {
		amount, hasAmount = intValue(fd.Kind(), v)
	}
	return txID, amount, hasTxID, hasAmount
}

// scalarField returns the value of m's singular, non-message field name.
func scalarField(m protoreflect.Message, name protoreflect.Name) (protoreflect.FieldDescriptor, protoreflect.Value, bool) {
	fd := m.Descriptor().Fields().ByName(name)
	if fd == nil || fd.IsList() || fd.IsMap() || fd.Message() != nil {
		return nil, protoreflect.Value{}, false
	}
	if fd.HasPresence() && !m.Has(fd) {
		return nil, protoreflect.Value{}, false
	}
	return fd, m.Get(fd), true
}

// intValue is v as an int64, for any integer kind whose value fits.
func intValue(k protoreflect.Kind, v protoreflect.Value) (int64, bool) {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int(), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		u := v.Uint()
		return int64(u), u <= math.MaxInt64
	}
	return 0, false
}

// writeAudit writes the audit line of a call that started at start and
// ended with err.
func writeAudit(ctx context.Context, log zerolog.Logger, method string, call *Call, f requestFields, err error, start time.Time) {
	st := statusOf(err)
	info := call.Info()
	e := log.WithLevel(levelFor(st.Code())).Str("method", method)
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		e = e.Str("peer", p.Addr.String())
	}
	e = optionalStr(e, "program", info.Program)
	e = optionalStr(e, "program_role", string(info.ProgramRole))
	e = optionalStr(e, "user", info.User)
	e = optionalStr(e, "user_role", info.UserRole)
	e = optionalStr(e, "target", info.Target)
	if f.hasTxID {
		e = e.Str("transaction_id", f.txID)
	}
	if f.hasAmount {
		e = e.Int64("amount", f.amount)
	}
	if info.Retry {
		e = e.Bool("retry", true)
	}
	if b := info.Batch; b.Items > 0 {
		e = e.Int("items", b.Items)
		e = optionalStr(e, "first_transaction_id", b.First)
		e = optionalStr(e, "last_transaction_id", b.Last)
	}
	e = e.Str("code", st.Code().String())
	if st.Code() != codes.OK {
		e = e.Str("error", Redact(st.Message()))
	}
	e.Float64("duration_ms", float64(time.Since(start))/float64(time.Millisecond)).Msg("grpc call")
}

func optionalStr(e *zerolog.Event, key, value string) *zerolog.Event {
	if value == "" {
		return e
	}
	return e.Str(key, value)
}

// statusOf is the status the client receives for a handler's err, converted
// the way grpc-go converts it.
func statusOf(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	return status.FromContextError(err)
}

// levelFor is warn for the codes that say the caller (or its deadline) is at
// fault, error for the codes that say the server is, info for OK.
func levelFor(c codes.Code) zerolog.Level {
	switch c {
	case codes.OK:
		return zerolog.InfoLevel
	case codes.Canceled, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists,
		codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition,
		codes.OutOfRange, codes.ResourceExhausted, codes.DeadlineExceeded:
		return zerolog.WarnLevel
	}
	return zerolog.ErrorLevel
}

// maxRedactedLen is the most bytes Redact returns.
const maxRedactedLen = 500

var (
	bearerToken = regexp.MustCompile(`(?i)\bbearer\s+\S+`)
	jwtLike     = regexp.MustCompile(`eyJ[A-Za-z0-9_\-+/=]*\.[A-Za-z0-9_\-+/=]+\.[A-Za-z0-9_\-+/=]*`)
)

// Redact makes free text fit for a log: it replaces bearer tokens ("Bearer"
// and the word after it, in any case) and anything shaped like a JWT (three
// base64url segments joined by dots, the first starting "eyJ") with
// "[REDACTED]", then cuts the result to maxRedactedLen bytes at a rune
// boundary. Redaction comes first so that the cut cannot leave half a token
// that no longer matches.
func Redact(s string) string {
	s = bearerToken.ReplaceAllLiteralString(s, "[REDACTED]")
	s = jwtLike.ReplaceAllLiteralString(s, "[REDACTED]")
	return truncate(s, maxRedactedLen)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
