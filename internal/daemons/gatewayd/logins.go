package gatewayd

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/strife-pay/strife/internal/plumbing/auth"
)

// busyRetry is the retry time given to a login refused because every
// hashing slot and the queue were taken: about the time a queue drains.
const busyRetry = time.Second

// logins guards the gateway's password checks: a throttle per username and
// one per client certificate (checked before any work, and again once a
// hashing slot is held, so that attempts that waited in the queue see the
// failures of those before them), and the gate bounding the hashings.
// It holds the gateway's only bcrypt hasher, so that no hashing can go
// around the gate. Its state is in memory only: see the package
// documentation.
type logins struct {
	users, certs *auth.Throttle
	gate         *auth.HashGate
	hasher       *auth.Hasher
}

func newLogins(cfg Config) (*logins, error) {
	hasher, err := auth.NewHasher(cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	users, err := auth.NewThrottle(cfg.UserThrottle)
	if err != nil {
		return nil, err
	}
	certs, err := auth.NewThrottle(cfg.CertThrottle)
	if err != nil {
		return nil, err
	}
	return &logins{users: users, certs: certs, gate: auth.NewHashGate(cfg.HashSlots, cfg.HashQueue), hasher: hasher}, nil
}

// allow returns nil if an attempt for user (as given) over cert may be
// checked now, else the *auth.ThrottledError of the longer wait.
func (l *logins) allow(user string, cert *x509.Certificate) error {
	errUser, errCert := l.users.Allow(auth.UserKey(user)), l.certs.Allow(auth.CertKey(cert))
	var u, c *auth.ThrottledError
	if !errors.As(errUser, &u) {
		return errCert
	}
	if errors.As(errCert, &c) && c.RetryAt.After(u.RetryAt) {
		return errCert
	}
	return errUser
}

// check checks password against hash (nil: an unknown user) for user over
// cert, within the throttles and the gate. It returns nil if the password
// is right, wrong if it is not, or the throttle's, the gate's or ctx's
// error without checking it. A wrong password counts against the user and
// the certificate; a right one forgets the user's failures (not the
// certificate's: an attacker's own good password must not reset the count
// of the names they spray).
func (l *logins) check(ctx context.Context, user string, cert *x509.Certificate, hash []byte, password string, wrong error) error {
	if err := l.allow(user, cert); err != nil {
		return err
	}
	var ok bool
	var refused error
	err := l.gate.Do(ctx, func() {
		if refused = l.allow(user, cert); refused == nil {
			ok = l.hasher.Check(hash, password)
		}
	})
	switch {
	case err != nil:
		return err
	case refused != nil:
		return refused
	case !ok:
		l.users.Failed(auth.UserKey(user))
		l.certs.Failed(auth.CertKey(cert))
		return wrong
	}
	l.users.Forget(auth.UserKey(user))
	return nil
}

// hash hashes a new password within the gate.
func (l *logins) hash(ctx context.Context, password string) ([]byte, error) {
	var hash []byte
	var hashErr error
	if err := l.gate.Do(ctx, func() { hash, hashErr = l.hasher.Hash(password) }); err != nil {
		return nil, err
	}
	return hash, hashErr
}

// retryStatus is the RESOURCE_EXHAUSTED status of a throttled or busy
// refusal, with the retry time in the message and as a google.rpc.RetryInfo
// detail; nil for any other error.
func retryStatus(err error) *status.Status {
	var wait time.Duration
	var throttled *auth.ThrottledError
	switch {
	case errors.As(err, &throttled):
		wait = throttled.Wait
	case errors.Is(err, auth.ErrBusy):
		wait = busyRetry
		err = fmt.Errorf("%w: try again in %v", auth.ErrBusy, busyRetry)
	default:
		return nil
	}
	st := status.New(codes.ResourceExhausted, err.Error())
	if detailed, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); derr == nil {
		return detailed
	}
	return st
}
