package gatewayd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/plumbing/auth"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// Limits on request fields (the memo's is freetext.MaxMemoLen). A client
// that leaves page_size 0 gets DefaultPageSize payments: strife history
// does.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// statusRules is the one mapping from the gateway's errors (and those of
// the packages it calls) to gRPC codes.
var statusRules = []rpc.StatusRule{
	{Err: ErrInvalid, Code: codes.InvalidArgument},
	{Err: auth.ErrWeakPassword, Code: codes.InvalidArgument},
	{Err: auth.ErrPasswordText, Code: codes.InvalidArgument},
	{Err: coordinator.ErrInvalid, Code: codes.InvalidArgument},
	{Err: ErrUserExists, Code: codes.AlreadyExists},
	{Err: ErrAccountTaken, Code: codes.AlreadyExists},
	{Err: coordinator.ErrConflict, Code: codes.AlreadyExists},
	{Err: ErrNoUser, Code: codes.NotFound},
	{Err: ErrNoAccount, Code: codes.NotFound},
	{Err: coordinator.ErrNotFound, Code: codes.NotFound},
	{Err: ErrDenied, Code: codes.PermissionDenied},
	{Err: ErrLocked, Code: codes.PermissionDenied},
	{Err: ErrTokenEnded, Code: codes.Unauthenticated},
	{Err: ErrBadLogin, Code: codes.Unauthenticated},
	{Err: ErrWrongPassword, Code: codes.Unauthenticated},
	{Err: ErrBankUnavailable, Code: codes.Unavailable},
	{Err: ErrWatchBehind, Code: codes.Unavailable},
	{Err: ErrShuttingDown, Code: codes.Unavailable},
	{Err: wal.ErrClosed, Code: codes.Unavailable},
	// A full disk or a failed write: nothing was decided, or what was is
	// answered truly to a retry (see coordinator's Failures).
	{Err: wal.ErrWriteFailed, Code: codes.Unavailable},
	// A bank never known is refused before anything is held or written.
	{Err: ErrUnknownBank, Code: codes.NotFound},
	{Err: ErrBanksNotRead, Code: codes.Unavailable},
}

// errNoCaller means a call reached a handler without passing the policy
// interceptor: a wiring bug, so INTERNAL.
var errNoCaller = errors.New("gatewayd: call not authorized by the policy interceptor")

// service serves GatewayService. Every handler validates its request at the
// edge, then works with the user store, the banks and the coordinator;
// errors become statuses once, in reply.
type service struct {
	strifev1.UnimplementedGatewayServiceServer
	users    *users.Store
	coord    *coordinator.Coordinator
	banks    bankSet
	known    *knownBanks // the banks that exist, for checkAccount
	logins   *logins
	signer   *auth.Signer
	revoked  *auth.Revocations // what the token cache checks; kept by users
	log      zerolog.Logger
	now      func() time.Time
	stopping <-chan struct{} // closed when the gateway starts to stop
	metrics  *gatewayMetrics // nil: none
}

// reply converts an error for the wire, logging the ones whose text the
// caller does not get to see. A throttled or busy refusal carries its
// retry time (retryStatus). The text is for people (forPeople).
func (s *service) reply(method string, err error) error {
	if st := retryStatus(err); st != nil {
		return st.Err()
	}
	st := rpc.ReplyStatus(s.log, method, err, statusRules)
	if msg := forPeople(st.Message()); msg != st.Message() {
		st = status.New(st.Code(), msg)
	}
	return st.Err()
}

// packagePrefixes are the prefixes that the sentinel errors of the
// packages the gateway calls carry for their logs (`coordinator: no such
// payment`), and its banks' answers too.
var packagePrefixes = []string{"coordinator: ", "auth: ", "wal: ", "participant: ", "ledger: ", "bankd: ", "gatewayd: "}

// forPeople takes the package prefixes off a message the caller reads:
// the user of `strife` sees "no such payment", not "coordinator: no such
// payment". A prefix is taken off where an error's text begins: at the
// start, or after ": " where one error wraps another.
func forPeople(msg string) string {
	for _, p := range packagePrefixes {
		msg = strings.ReplaceAll(strings.TrimPrefix(msg, p), ": "+p, ": ")
	}
	return msg
}

// caller returns the logged-in user the policy interceptor authorized.
func caller(ctx context.Context) (rpc.Principal, error) {
	p, ok := rpc.PrincipalFrom(ctx)
	if !ok || p.User == "" {
		return p, errNoCaller
	}
	return p, nil
}

// subject is the user a request is about: name, or the caller if name is
// empty. Only an admin may name someone else.
func subject(p rpc.Principal, name string) (string, error) {
	switch {
	case name == "" || name == p.User:
		return p.User, nil
	case p.UserRole != auth.RoleAdmin:
		return "", fmt.Errorf("%w: a customer may act only on their own behalf", ErrDenied)
	}
	return name, users.ValidUsername(name)
}
