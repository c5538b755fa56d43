package client

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/internal/plumbing/backoff"
	"github.com/strife-pay/strife/internal/plumbing/freetext"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// Outcome is what a send led to, as the user is told.
type Outcome string

// Outcomes of a send. COMMITTED, FAILED and REJECTED are final.
const (
	OutcomeCommitted Outcome = "COMMITTED"
	OutcomeFailed    Outcome = "FAILED"
	// OutcomeRejected: the gateway refused the request itself
	// (INVALID_ARGUMENT, PERMISSION_DENIED, NOT_FOUND, ALREADY_EXISTS).
	OutcomeRejected Outcome = "REJECTED"
	// OutcomePending: the gateway holds the payment and keeps trying.
	OutcomePending Outcome = "PENDING"
	// OutcomeQueued: the gateway could not be reached; it stays queued.
	OutcomeQueued Outcome = "QUEUED"
)

// QueuedMessage is what the user is told when a payment is kept for later.
const QueuedMessage = "queued: the gateway cannot be reached; it will be sent when it can"

// Final reports whether the outcome ends the payment.
func (o Outcome) Final() bool {
	return o == OutcomeCommitted || o == OutcomeFailed || o == OutcomeRejected
}

// Result is the outcome of one send of one payment.
type Result struct {
	Entry   *Entry
	Outcome Outcome
	// Payment is the gateway's last answer, nil when it gave none.
	Payment *strifev1.Payment
	// Message is a one-line explanation for the user.
	Message string
	// Code is the gRPC code name of a REJECTED payment's refusal
	// ("NOT_FOUND"), "" otherwise.
	Code string
}

// Backoff bounds of the resend loop.
const (
	MinBackoff = 250 * time.Millisecond
	MaxBackoff = 30 * time.Second
)

// Sender sends the payments of a Queue to the gateway, each always with its
// own ULID, so that resending after any failure or crash cannot pay twice.
type Sender struct {
	Queue *Queue
	API   strifev1.GatewayServiceClient
	// Conn, if set, is watched by Run to resend at once when it becomes
	// READY again.
	Conn *grpc.ClientConn
	// Auth adds the login token to an outgoing context.
	Auth func(context.Context) context.Context
	// Timeout bounds each call. Default 10s.
	Timeout time.Duration
	// Lock, if set, is held around each send, so that Senders sharing a
	// Queue (the menu and its resend loop) never send one payment at once.
	Lock sync.Locker
	// MinBackoff and MaxBackoff bound Run's backoff. Defaults: the constants
	// of the same names.
	MinBackoff, MaxBackoff time.Duration
}

// Pay stores req under a new ULID (durably, before anything is sent) and
// sends it once.
//
// A memo the gateway would refuse (package freetext) is refused here, before
// anything is stored: the queue never keeps a payment that could only come
// back REJECTED. Entries queued before the rule are sent as they are, and
// the gateway's answer (REJECTED for a new payment, the payment itself if
// it already had it) is recorded like any other.
func (s *Sender) Pay(ctx context.Context, req *strifev1.PayRequest) (*Result, error) {
	if err := checkMemo(req.GetMemo()); err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	// The entry is stored with its first attempt counted: one fsync, where
	// Add and then send's count would be two.
	e, err := s.Queue.add(req, 1)
	if err != nil {
		return nil, err
	}
	return s.deliver(ctx, e)
}

func (s *Sender) lock() {
	if s.Lock != nil {
		s.Lock.Lock()
	}
}

func (s *Sender) unlock() {
	if s.Lock != nil {
		s.Lock.Unlock()
	}
}

// Send sends one pending payment and records what came of it. The error is
// ErrLoginAgain (the payment stays queued) or a local storage error; an
// unreachable gateway is the result OutcomeQueued, not an error. A payment
// that another Sender finished meanwhile gives a nil Result.
func (s *Sender) Send(ctx context.Context, e *Entry) (*Result, error) {
	s.lock()
	defer s.unlock()
	return s.send(ctx, e)
}

func (s *Sender) send(ctx context.Context, e *Entry) (*Result, error) {
	e, err := s.Queue.Update(e.ID(), func(e *Entry) { e.Attempts++ })
	if errors.Is(err, ErrNotQueued) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.deliver(ctx, e)
}

// deliver sends e, whose attempt is already counted, and records the answer.
func (s *Sender) deliver(ctx context.Context, e *Entry) (*Result, error) {
	p, err := s.call(ctx, e)
	if err != nil {
		return s.failed(e, err)
	}
	switch p.GetStatus() {
	case strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED, strifev1.PaymentStatus_PAYMENT_STATUS_FAILED:
		e, err = s.Queue.Finish(e.ID(), p, "")
		if err != nil {
			return nil, err
		}
		return resultOf(e, p), nil
	default:
		e, err = s.Queue.Update(e.ID(), func(e *Entry) { e.State, e.LastError = StateSent, "" })
		if err != nil {
			return nil, err
		}
		return &Result{Entry: e, Outcome: OutcomePending, Payment: p, Message: "pending: the gateway holds it and keeps trying"}, nil
	}
}

// call asks for a sent payment's status, and sends one never acknowledged.
func (s *Sender) call(ctx context.Context, e *Entry) (*strifev1.Payment, error) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(s.Timeout, 10*time.Second))
	defer cancel()
	if s.Auth != nil {
		ctx = s.Auth(ctx)
	}
	if e.State == StateSent {
		resp, err := s.API.GetPayment(ctx, &strifev1.GetPaymentRequest{TransactionId: e.ID()})
		if status.Code(err) != codes.NotFound {
			return resp.GetPayment(), err
		}
	}
	resp, err := s.API.Pay(ctx, e.Request)
	return resp.GetPayment(), err
}

// failed records an RPC error: unreachable and login errors keep the
// payment queued; any other refusal is final.
func (s *Sender) failed(e *Entry, err error) (*Result, error) {
	switch code := status.Code(err); {
	case Unreachable(err):
		e, uerr := s.Queue.Update(e.ID(), func(e *Entry) { e.LastError = "unreachable: " + status.Convert(err).Message() })
		if uerr != nil {
			return nil, uerr
		}
		return &Result{Entry: e, Outcome: OutcomeQueued, Message: QueuedMessage}, nil
	case code == codes.Unauthenticated:
		_, _ = s.Queue.Update(e.ID(), func(e *Entry) { e.LastError = "unauthenticated" })
		return nil, ErrLoginAgain
	default:
		// The message is the gateway's, for a person; the code stays in
		// the stored entry for whoever reads the queue file.
		msg := gatewayMessage(err)
		e, ferr := s.Queue.Finish(e.ID(), nil, CodeName(code)+": "+msg)
		if ferr != nil {
			return nil, ferr
		}
		return &Result{Entry: e, Outcome: OutcomeRejected, Code: CodeName(code), Message: "refused by the gateway: " + msg}, nil
	}
}

// checkMemo checks a new payment's memo by the gateway's rule, so that it is
// refused with the reason before it is queued.
func checkMemo(memo string) error {
	return freetext.Check("memo", memo, freetext.MaxMemoLen)
}

// Unreachable reports whether err means the gateway could not be reached,
// did not answer in time, or could not decide (UNAVAILABLE: e.g. its disk
// is full), so that the payment should be resent. INTERNAL and UNKNOWN
// count too: they say the gateway failed, not that it refused, and the
// payment may have gone through, so calling it refused could be a lie; a
// resend under the same ID is always safe and gets the true answer.
func Unreachable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

func resultOf(e *Entry, p *strifev1.Payment) *Result {
	if p.GetStatus() == strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED {
		return &Result{Entry: e, Outcome: OutcomeCommitted, Payment: p, Message: "committed"}
	}
	return &Result{Entry: e, Outcome: OutcomeFailed, Payment: p, Message: "failed: " + ReasonText(p.GetReason())}
}

// ReasonText is a reason without its enum prefix: "INSUFFICIENT_FUNDS".
func ReasonText(r strifev1.Reason) string {
	return strings.TrimPrefix(r.String(), "REASON_")
}

// Flush sends every pending payment once, in creation order, and stops at
// the first that finds the gateway unreachable (the rest would too).
func (s *Sender) Flush(ctx context.Context) ([]*Result, error) {
	pending, err := s.Queue.Pending()
	if err != nil {
		return nil, err
	}
	var out []*Result
	for _, e := range pending {
		r, err := s.Send(ctx, e)
		if err != nil {
			return out, err
		}
		if r == nil {
			continue
		}
		out = append(out, r)
		if r.Outcome == OutcomeQueued {
			break
		}
	}
	return out, nil
}

// Run resends pending payments until ctx ends or the login is refused
// (ErrLoginAgain), calling notify with every final result. Between rounds
// it waits with exponential backoff and jitter, capped near MaxBackoff; an
// unreachable gateway is retried at once when Conn becomes READY.
func (s *Sender) Run(ctx context.Context, notify func(*Result)) error {
	minBackoff, maxBackoff := cmp.Or(s.MinBackoff, MinBackoff), cmp.Or(s.MaxBackoff, MaxBackoff)
	delay := minBackoff
	for {
		results, err := s.Flush(ctx)
		if err != nil {
			return err
		}
		unreachable := false
		for _, r := range results {
			unreachable = unreachable || r.Outcome == OutcomeQueued
			if r.Outcome.Final() && notify != nil {
				notify(r)
			}
		}
		n, err := s.Queue.Len()
		if err != nil {
			return err
		}
		if n == 0 {
			delay = minBackoff
		}
		s.wait(ctx, backoff.Jitter(delay), unreachable)
		if ctx.Err() != nil {
			return nil
		}
		delay = min(2*delay, maxBackoff)
	}
}

// wait sleeps for d, or less when the gateway was unreachable and the
// connection becomes READY.
func (s *Sender) wait(ctx context.Context, d time.Duration, unreachable bool) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if !unreachable || s.Conn == nil {
		<-ctx.Done()
		return
	}
	s.Conn.Connect()
	for st := s.Conn.GetState(); st != connectivity.Ready; st = s.Conn.GetState() {
		if !s.Conn.WaitForStateChange(ctx, st) {
			return
		}
	}
}
