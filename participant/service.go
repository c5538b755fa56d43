package participant

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strife-pay/strife/internal/plumbing/freetext"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// ErrInvalid marks a malformed request.
var ErrInvalid = errors.New("participant: invalid request")

// Limits on request fields. The memo's, shared with the gateway and the
// client, is freetext.MaxMemoLen. DefaultPageSize is the page of an
// account's entries wherever they are listed (ListEntries, strife-inspect
// entries).
const (
	MaxCounterpartyLen = 100
	MaxLegs            = 2
	DefaultPageSize    = 100
	MaxPageSize        = 1000
)

// statusRules is the one mapping from this package's and the ledger's
// errors to gRPC codes.
var statusRules = []rpc.StatusRule{
	{Err: ErrInvalid, Code: codes.InvalidArgument},
	{Err: ledger.ErrInvalid, Code: codes.InvalidArgument},
	{Err: wal.ErrZeroTxID, Code: codes.InvalidArgument},
	{Err: ledger.ErrBalanceOverflow, Code: codes.InvalidArgument},
	{Err: ledger.ErrAccountNotFound, Code: codes.NotFound},
	{Err: ledger.ErrAccountExists, Code: codes.AlreadyExists},
	{Err: ErrConflict, Code: codes.AlreadyExists},
	{Err: ledger.ErrAccountBusy, Code: codes.FailedPrecondition},
	{Err: ErrNotPrepared, Code: codes.FailedPrecondition},
	{Err: ErrAborted, Code: codes.FailedPrecondition},
	{Err: ErrCommitted, Code: codes.FailedPrecondition},
	{Err: wal.ErrClosed, Code: codes.Unavailable},
	// A full disk or a failed write: nothing was written, and the same
	// call may be made again.
	{Err: wal.ErrWriteFailed, Code: codes.Unavailable},
}

// Service serves BankService for one bank: account management on its
// ledger and the participant's side of two-phase commit.
type Service struct {
	strifev1.UnimplementedBankServiceServer
	bank   string
	ledger *ledger.Ledger
	p      *Participant
	log    zerolog.Logger
}

// NewService returns the BankService of the named bank.
func NewService(bank string, l *ledger.Ledger, p *Participant, log zerolog.Logger) *Service {
	return &Service{bank: bank, ledger: l, p: p, log: log}
}

// reply converts an error for the wire, logging the ones whose text the
// caller does not get to see.
func (s *Service) reply(method string, err error) error {
	return rpc.Reply(s.log, method, err, statusRules)
}

// replyStatus is reply for an error carried inside a response.
func (s *Service) replyStatus(method string, err error) *status.Status {
	return rpc.ReplyStatus(s.log, method, err, statusRules)
}

func (s *Service) OpenAccount(_ context.Context, req *strifev1.OpenAccountRequest) (*strifev1.OpenAccountResponse, error) {
	var resp strifev1.OpenAccountResponse
	err := s.ledger.Update(func(tx *ledger.Tx) error {
		a, created, err := tx.OpenAccount(req.GetNumber(), req.GetOwner(), req.GetOpeningBalance())
		resp.Account, resp.Created = s.account(a), created
		return err
	})
	return &resp, s.reply("OpenAccount", err)
}

func (s *Service) UpdateAccount(_ context.Context, req *strifev1.UpdateAccountRequest) (*strifev1.UpdateAccountResponse, error) {
	if err := ledger.ValidNumber(req.GetNumber()); err != nil {
		return nil, s.reply("UpdateAccount", err)
	}
	var resp strifev1.UpdateAccountResponse
	err := s.ledger.Update(func(tx *ledger.Tx) error {
		a, err := tx.UpdateAccount(req.GetNumber(), req.GetOwner(), req.GetStatus())
		resp.Account = s.account(a)
		return err
	})
	return &resp, s.reply("UpdateAccount", err)
}

func (s *Service) GetAccount(_ context.Context, req *strifev1.GetAccountRequest) (*strifev1.GetAccountResponse, error) {
	if err := ledger.ValidNumber(req.GetNumber()); err != nil {
		return nil, s.reply("GetAccount", err)
	}
	var resp strifev1.GetAccountResponse
	err := s.ledger.View(func(tx *ledger.Tx) error {
		a, err := tx.Account(req.GetNumber())
		resp.Account = s.account(a)
		return err
	})
	return &resp, s.reply("GetAccount", err)
}

func (s *Service) ListEntries(_ context.Context, req *strifev1.ListEntriesRequest) (*strifev1.ListEntriesResponse, error) {
	before, size, err := validList(req)
	if err != nil {
		return nil, s.reply("ListEntries", err)
	}
	var resp strifev1.ListEntriesResponse
	err = s.ledger.View(func(tx *ledger.Tx) error {
		entries, err := tx.Entries(req.GetNumber(), before, size+1) // one more: is there a next page?
		for i, e := range entries {
			if i == size {
				resp.NextPageToken = strconv.FormatUint(entries[i-1].Seq, 10)
				break
			}
			resp.Entries = append(resp.Entries, s.entry(e))
		}
		return err
	})
	return &resp, s.reply("ListEntries", err)
}

func validList(req *strifev1.ListEntriesRequest) (before uint64, size int, err error) {
	if err := ledger.ValidNumber(req.GetNumber()); err != nil {
		return 0, 0, err
	}
	size = int(req.GetPageSize())
	switch {
	case size < 0 || size > MaxPageSize:
		return 0, 0, fmt.Errorf("%w: page_size %d is not in 0-%d", ErrInvalid, size, MaxPageSize)
	case size == 0:
		size = DefaultPageSize
	}
	if t := req.GetPageToken(); t != "" {
		if before, err = strconv.ParseUint(t, 10, 64); err != nil || before == 0 {
			return 0, 0, fmt.Errorf("%w: bad page_token", ErrInvalid)
		}
	}
	return before, size, nil
}

func (s *Service) Prepare(ctx context.Context, req *strifev1.PrepareRequest) (*strifev1.PrepareResponse, error) {
	r, err := prepareRequest(req)
	if err != nil {
		return nil, s.reply("Prepare", err)
	}
	if r.Coordinator, _, err = rpc.Peer(ctx); err != nil {
		return nil, s.reply("Prepare", err)
	}
	vote, err := s.p.Prepare(r)
	if err != nil {
		return nil, s.reply("Prepare", err)
	}
	return prepareResponse(vote), nil
}

func (s *Service) Commit(_ context.Context, req *strifev1.CommitRequest) (*strifev1.CommitResponse, error) {
	k, err := attemptOf(req)
	if err == nil {
		err = s.p.Commit(k.TxID, k.Attempt)
	}
	return &strifev1.CommitResponse{}, s.reply("Commit", err)
}

func (s *Service) Abort(_ context.Context, req *strifev1.AbortRequest) (*strifev1.AbortResponse, error) {
	k, err := attemptOf(req)
	if err == nil {
		err = s.p.Abort(k.TxID, k.Attempt)
	}
	return &strifev1.AbortResponse{}, s.reply("Abort", err)
}

func (s *Service) ResolveAttempt(_ context.Context, req *strifev1.ResolveAttemptRequest) (*strifev1.ResolveAttemptResponse, error) {
	k, err := attemptOf(req)
	var vote Vote
	if err == nil {
		vote, err = s.p.Resolve(k.TxID, k.Attempt)
	}
	if err != nil {
		return nil, s.reply("ResolveAttempt", err)
	}
	return resolveResponse(vote), nil
}

func prepareResponse(v Vote) *strifev1.PrepareResponse {
	return &strifev1.PrepareResponse{Vote: wireVote(v), Reason: v.Reason}
}

func resolveResponse(v Vote) *strifev1.ResolveAttemptResponse {
	return &strifev1.ResolveAttemptResponse{Vote: wireVote(v), Reason: v.Reason}
}

// wireVote is a Vote's yes or no as the responses carry it; the reason
// travels beside it.
func wireVote(v Vote) strifev1.Vote {
	if v.Yes {
		return strifev1.Vote_VOTE_YES
	}
	return strifev1.Vote_VOTE_NO
}

// attemptMessage is any request that names one attempt.
type attemptMessage interface {
	GetTransactionId() string
	GetAttempt() uint32
}

// attemptOf validates the attempt a request names. The transaction ID
// follows the log's rule (wal.ParseTxID): a ULID other than the zero one,
// which the log cannot look up.
func attemptOf(m attemptMessage) (AttemptID, error) {
	id, err := wal.ParseTxID(m.GetTransactionId())
	if err != nil {
		return AttemptID{}, fmt.Errorf("%w: transaction_id: %v", ErrInvalid, err)
	}
	if m.GetAttempt() == 0 {
		return AttemptID{}, fmt.Errorf("%w: attempt must be 1 or more", ErrInvalid)
	}
	return AttemptID{id, m.GetAttempt()}, nil
}

// prepareRequest validates a Prepare. Two legs must be one debit and one
// credit of the same amount on different accounts: a bank never lets a
// payment inside it create or destroy money.
func prepareRequest(req *strifev1.PrepareRequest) (Request, error) {
	k, err := attemptOf(req)
	if err != nil {
		return Request{}, err
	}
	if err := validText("memo", req.GetMemo(), freetext.MaxMemoLen); err != nil {
		return Request{}, err
	}
	legs := req.GetLegs()
	if len(legs) == 0 || len(legs) > MaxLegs {
		return Request{}, fmt.Errorf("%w: %d legs, want 1 or 2", ErrInvalid, len(legs))
	}
	r := Request{TxID: k.TxID, Attempt: k.Attempt, Memo: req.GetMemo()}
	for _, l := range legs {
		leg, err := StoredLeg(l)
		if err != nil {
			return Request{}, err
		}
		r.Legs = append(r.Legs, leg)
	}
	if len(legs) == 2 && (legs[0].Direction == legs[1].Direction || legs[0].Amount != legs[1].Amount || legs[0].Account == legs[1].Account) {
		return Request{}, fmt.Errorf("%w: two legs must debit one account and credit another by the same amount", ErrInvalid)
	}
	return r, nil
}

// StoredLeg is a Prepare's leg as the bank checks it (an account number, a
// direction, a positive amount, a counterparty within the free-text rule)
// and stores it in its PREPARED record.
func StoredLeg(l *strifev1.Leg) (*storagev1.Leg, error) {
	if err := ledger.ValidNumber(l.GetAccount()); err != nil {
		return nil, err
	}
	if l.GetDirection() != ledger.Debit && l.GetDirection() != ledger.Credit {
		return nil, fmt.Errorf("%w: leg direction %v", ErrInvalid, l.GetDirection())
	}
	if l.GetAmount() <= 0 {
		return nil, fmt.Errorf("%w: amount %d is not positive", ErrInvalid, l.GetAmount())
	}
	if err := validText("counterparty", l.GetCounterparty(), MaxCounterpartyLen); err != nil {
		return nil, err
	}
	return &storagev1.Leg{Number: l.GetAccount(), Direction: l.GetDirection(), Amount: l.GetAmount(), Counterparty: l.GetCounterparty()}, nil
}

// validText checks a free-text field by the rule the gateway checks it by
// (package freetext): a gateway with another rule, or another caller with a
// gateway certificate, cannot store control characters in a bank's log.
func validText(field, v string, limit int) error {
	if err := freetext.Check(field, v, limit); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func (s *Service) account(a ledger.Account) *strifev1.Account {
	if a.Number == "" {
		return nil
	}
	return &strifev1.Account{
		Bank: s.bank, Number: a.Number, Owner: a.Owner, Status: a.Status,
		PostedBalance: a.Balance, Held: a.Held, AvailableBalance: a.Available(),
		PendingCredits: a.Pending, OpenedAt: timestamppb.New(a.OpenedAt),
	}
}

func (s *Service) entry(e ledger.Entry) *strifev1.Entry {
	out := &strifev1.Entry{
		Seq: e.Seq, Account: e.Number, Kind: e.Kind, Amount: e.Amount, BalanceAfter: e.BalanceAfter,
		Attempt: e.Attempt, Memo: e.Memo, Counterparty: e.Counterparty, Time: timestamppb.New(e.Time),
	}
	if e.TxID != (ulid.ULID{}) {
		out.TransactionId = e.TxID.String()
	}
	return out
}
