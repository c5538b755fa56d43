package gatewayd

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/plumbing/auth"
	"github.com/strife-pay/strife/internal/plumbing/freetext"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// Pay runs a payment through the coordinator, exactly once per
// transaction ID. Repeats are marked as retries in the audit log.
func (s *service) Pay(ctx context.Context, req *strifev1.PayRequest) (*strifev1.PayResponse, error) {
	start := s.metrics.start()
	p, err := caller(ctx)
	if err != nil {
		return nil, s.reply("Pay", err)
	}
	id, params, err := s.payment(p.User, req)
	if err != nil {
		return nil, s.reply("Pay", err)
	}
	pay, retry, err := s.coord.Pay(ctx, id, params)
	if err != nil {
		return nil, s.reply("Pay", err)
	}
	if retry {
		rpc.CallFrom(ctx).MarkRetry()
	}
	resp := &strifev1.PayResponse{Payment: paymentProto(pay)}
	s.metrics.paid(start)
	return resp, nil
}

// payment validates a Pay request and returns its parameters. A transaction
// ID that is already stored keeps the parameters stored with it, if the
// request asks for the same payment (sameRequest): a retry means the
// payment it repeats even if the payer's default account or the payee's
// account changed in between.
func (s *service) payment(user string, req *strifev1.PayRequest) (ulid.ULID, coordinator.Params, error) {
	id, err := checkPay(req)
	if err != nil {
		return id, coordinator.Params{}, err
	}
	stored, err := s.coord.Get(id)
	switch {
	case err == nil:
		return id, stored.Params, sameRequest(user, req, stored)
	case !errors.Is(err, coordinator.ErrNotFound):
		return id, coordinator.Params{}, err
	}
	params, err := s.resolve(user, req)
	return id, params, err
}

// checkPay checks what a Pay request says on its own.
func checkPay(req *strifev1.PayRequest) (ulid.ULID, error) {
	id, err := wal.ParseTxID(req.GetTransactionId())
	switch {
	case err != nil:
		return id, fmt.Errorf("%w: transaction_id: %v", ErrInvalid, err)
	case req.GetAmount() <= 0:
		return id, fmt.Errorf("%w: amount %d is not positive", ErrInvalid, req.GetAmount())
	case req.GetPayee() == nil:
		return id, fmt.Errorf("%w: to_user or to_account is required", ErrInvalid)
	}
	return id, nil
}

// checkMemo checks the memo of a new payment by the free-text rule (package
// freetext). Only a new payment's: a retry of a payment stored under an
// older rule gets the stored payment, as any retry does, and not a refusal
// that would tell its client the payment did not happen.
func checkMemo(memo string) error {
	if err := freetext.Check("memo", memo, freetext.MaxMemoLen); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// sameRequest accepts a request for a stored payment if it asks for the
// same thing: the same payer, amount and memo; the same from_account if it
// names one (empty meant the default); the same payee user or account.
// Anything else is a reuse of the ID, ALREADY_EXISTS.
func sameRequest(user string, req *strifev1.PayRequest, stored coordinator.Payment) error {
	params := stored.Params
	same := params.Payer == user && params.Amount == req.GetAmount() && params.Memo == req.GetMemo() &&
		(req.GetFromAccount() == "" || req.GetFromAccount() == params.From)
	switch to := req.GetPayee().(type) {
	case *strifev1.PayRequest_ToUser:
		same = same && to.ToUser == params.Payee
	case *strifev1.PayRequest_ToAccount:
		same = same && to.ToAccount == params.To
	}
	if !same {
		return fmt.Errorf("%w: %s", coordinator.ErrConflict, stored.ID)
	}
	return nil
}

// resolve turns a new Pay request into the payment's parameters: the
// payer's default account if none is named, which the payer must own (an
// admin too: an admin is not a superuser over other people's money), and
// the payee's account and user.
func (s *service) resolve(user string, req *strifev1.PayRequest) (coordinator.Params, error) {
	if err := checkMemo(req.GetMemo()); err != nil {
		return coordinator.Params{}, err
	}
	payer, err := s.users.Get(user)
	if err != nil {
		return coordinator.Params{}, err
	}
	from := req.GetFromAccount()
	if from == "" {
		from = payer.GetDefaultAccount()
	}
	if from == "" {
		return coordinator.Params{}, fmt.Errorf("%w: you have no account to pay from", ErrInvalid)
	}
	if _, _, err := s.checkAccount(from); err != nil {
		return coordinator.Params{}, err
	}
	if !slices.Contains(payer.GetAccounts(), from) {
		return coordinator.Params{}, fmt.Errorf("%w: account %s is not yours", ErrDenied, from)
	}
	payee, to, err := s.payee(req)
	if err != nil {
		return coordinator.Params{}, err
	}
	if from == to {
		return coordinator.Params{}, fmt.Errorf("%w: payer and payee are the same account", ErrInvalid)
	}
	return coordinator.Params{Payer: user, From: from, Payee: payee, To: to, Amount: req.GetAmount(), Memo: req.GetMemo()}, nil
}

// payee returns the user paid (empty if no user owns the account) and the
// account paid into: a user's default account, or the account named.
func (s *service) payee(req *strifev1.PayRequest) (user, account string, err error) {
	switch to := req.GetPayee().(type) {
	case *strifev1.PayRequest_ToUser:
		if err := users.ValidUsername(to.ToUser); err != nil {
			return "", "", err
		}
		u, err := s.users.Get(to.ToUser)
		if err == nil && u.GetDefaultAccount() == "" {
			err = fmt.Errorf("%w: user %q has no account to pay into", ErrNoAccount, to.ToUser)
		}
		return to.ToUser, u.GetDefaultAccount(), err
	case *strifev1.PayRequest_ToAccount:
		if _, _, err := s.checkAccount(to.ToAccount); err != nil {
			return "", "", err
		}
		owner, err := s.users.Owner(to.ToAccount)
		return owner, to.ToAccount, err
	}
	return "", "", fmt.Errorf("%w: to_user or to_account is required", ErrInvalid)
}

// GetPayment returns a payment to its payer or payee, or to an admin.
func (s *service) GetPayment(ctx context.Context, req *strifev1.GetPaymentRequest) (*strifev1.GetPaymentResponse, error) {
	pay, err := s.getPayment(ctx, req.GetTransactionId())
	if err != nil {
		return nil, s.reply("GetPayment", err)
	}
	return &strifev1.GetPaymentResponse{Payment: paymentProto(pay)}, nil
}

func (s *service) getPayment(ctx context.Context, txID string) (coordinator.Payment, error) {
	p, err := caller(ctx)
	if err != nil {
		return coordinator.Payment{}, err
	}
	id, err := wal.ParseTxID(txID)
	if err != nil {
		return coordinator.Payment{}, fmt.Errorf("%w: transaction_id: %v", ErrInvalid, err)
	}
	pay, err := s.coord.Get(id)
	if err != nil {
		return coordinator.Payment{}, err
	}
	if p.UserRole != auth.RoleAdmin && pay.Params.Payer != p.User && pay.Params.Payee != p.User {
		return coordinator.Payment{}, fmt.Errorf("%w: payment %s is not yours", ErrDenied, id)
	}
	return pay, nil
}

// ListPayments returns a user's payments (made or received), newest first.
// The page token is the coordinator's, in base64url.
func (s *service) ListPayments(ctx context.Context, req *strifev1.ListPaymentsRequest) (*strifev1.ListPaymentsResponse, error) {
	resp, err := s.listPayments(ctx, req)
	if err != nil {
		return nil, s.reply("ListPayments", err)
	}
	return resp, nil
}

func (s *service) listPayments(ctx context.Context, req *strifev1.ListPaymentsRequest) (*strifev1.ListPaymentsResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	user, err := subject(p, req.GetUsername())
	if err != nil {
		return nil, err
	}
	size, token, err := checkList(req)
	if err != nil {
		return nil, err
	}
	if _, err := s.users.Get(user); err != nil {
		return nil, err
	}
	pays, next, err := s.coord.List(user, token, size)
	if err != nil {
		return nil, err
	}
	resp := &strifev1.ListPaymentsResponse{NextPageToken: base64.RawURLEncoding.EncodeToString(next)}
	for _, pay := range pays {
		resp.Payments = append(resp.Payments, paymentProto(pay))
	}
	return resp, nil
}

// checkList returns the page size and the coordinator's page token of a
// ListPayments request. The token needs no further check: the coordinator
// lists only the user's own key range, wherever a token points.
func checkList(req *strifev1.ListPaymentsRequest) (int, []byte, error) {
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > MaxPageSize:
		return 0, nil, fmt.Errorf("%w: page_size %d is not in 0-%d", ErrInvalid, size, MaxPageSize)
	case size == 0:
		size = DefaultPageSize
	}
	token, err := base64.RawURLEncoding.DecodeString(req.GetPageToken())
	if err != nil {
		return 0, nil, fmt.Errorf("%w: bad page_token", ErrInvalid)
	}
	return size, token, nil
}

// WatchPayments streams the status changes of the caller's payments. The
// response headers are sent once the watch is registered: a client that
// waits for them misses no change made after. The stream ends with
// UNAVAILABLE if it falls behind (ErrWatchBehind) or the gateway stops, and
// with UNAUTHENTICATED (ErrTokenEnded) when the token it was opened with
// expires or is revoked: a stream follows its credentials as a call does.
func (s *service) WatchPayments(_ *strifev1.WatchPaymentsRequest, stream grpc.ServerStreamingServer[strifev1.PaymentEvent]) error {
	ctx := stream.Context()
	p, err := caller(ctx)
	if err != nil {
		return s.reply("WatchPayments", err)
	}
	changes := s.coord.Watch(ctx, p.User)
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	expired := time.NewTimer(p.Token.Expires.Sub(s.now()))
	defer expired.Stop()
	for {
		revoked := s.revoked.Changed()
		if s.revoked.Check(p.Token) != nil {
			return s.reply("WatchPayments", ErrTokenEnded)
		}
		select {
		case <-expired.C:
			return s.reply("WatchPayments", ErrTokenEnded)
		case <-revoked:
		case pay, ok := <-changes:
			if !ok {
				return s.reply("WatchPayments", watchEnded(ctx))
			}
			if err := stream.Send(&strifev1.PaymentEvent{Payment: paymentProto(pay)}); err != nil {
				return err
			}
		case <-s.stopping:
			return s.reply("WatchPayments", ErrShuttingDown)
		}
	}
}

// watchEnded explains why a watch channel closed: the client left, or the
// watcher was dropped for falling behind.
func watchEnded(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrWatchBehind
}

func paymentProto(p coordinator.Payment) *strifev1.Payment {
	out := &strifev1.Payment{
		TransactionId: p.ID.String(), Payer: p.Params.Payer, FromAccount: p.Params.From,
		Payee: p.Params.Payee, ToAccount: p.Params.To, Amount: p.Params.Amount, Memo: p.Params.Memo,
		Status: p.Status, Reason: p.Reason, Attempts: p.Attempts,
		CreatedAt: timestamppb.New(p.Created), UpdatedAt: timestamppb.New(p.Updated),
	}
	if !p.Settled.IsZero() {
		out.SettledAt = timestamppb.New(p.Settled)
	}
	return out
}
