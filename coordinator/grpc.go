package coordinator

import (
	"context"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// GRPCParticipant is a bank reached over BankService. Its Prepare, Commit,
// Abort and Resolve messages, from however many payments, share Batch
// calls (see batcher): one call in flight at a time, and everything queued
// meanwhile in the next. A message's answer, or the error of the call that carried
// it, is what the single call would have returned.
type GRPCParticipant struct {
	Client strifev1.BankServiceClient
	batch  *batcher
}

// NewGRPCParticipant returns the participant at the other end of conn,
// batching with the default BatchConfig.
func NewGRPCParticipant(conn grpc.ClientConnInterface) *GRPCParticipant {
	return NewBatchingParticipant(conn, BatchConfig{})
}

// NewBatchingParticipant returns the participant at the other end of conn,
// batching as cfg says.
func NewBatchingParticipant(conn grpc.ClientConnInterface, cfg BatchConfig) *GRPCParticipant {
	client := strifev1.NewBankServiceClient(conn)
	send := func(ctx context.Context, items []*strifev1.BatchItem) ([]*strifev1.BatchResult, error) {
		resp, err := client.Batch(ctx, &strifev1.BatchRequest{Items: items})
		return resp.GetResults(), err
	}
	return &GRPCParticipant{Client: client, batch: newBatcher(send, cfg)}
}

// call sends one message and returns its result, or the error the single
// call would have returned. Commits and Aborts ride (see batcher): no
// client waits for them.
func (g *GRPCParticipant) call(ctx context.Context, item *strifev1.BatchItem) (*strifev1.BatchResult, error) {
	rider := item.GetCommit() != nil || item.GetAbort() != nil
	res, err := g.batch.do(ctx, item, rider)
	if err == nil {
		err = errorOf(res)
	}
	return res, err
}

func (g *GRPCParticipant) Prepare(ctx context.Context, id ulid.ULID, attempt uint32, legs []*strifev1.Leg, memo string) (Vote, error) {
	req := &strifev1.PrepareRequest{TransactionId: id.String(), Attempt: attempt, Legs: legs, Memo: memo}
	res, err := g.call(ctx, &strifev1.BatchItem{Message: &strifev1.BatchItem_Prepare{Prepare: req}})
	if err != nil {
		return Vote{}, err
	}
	if res.GetPrepare() == nil {
		return Vote{}, unexpected(res, "Prepare")
	}
	return voteOf(res.GetPrepare().GetVote(), res.GetPrepare().GetReason())
}

func (g *GRPCParticipant) Resolve(ctx context.Context, id ulid.ULID, attempt uint32) (Vote, error) {
	req := &strifev1.ResolveAttemptRequest{TransactionId: id.String(), Attempt: attempt}
	res, err := g.call(ctx, &strifev1.BatchItem{Message: &strifev1.BatchItem_Resolve{Resolve: req}})
	if err != nil {
		return Vote{}, err
	}
	if res.GetResolve() == nil {
		return Vote{}, unexpected(res, "Resolve")
	}
	return voteOf(res.GetResolve().GetVote(), res.GetResolve().GetReason())
}

// voteOf is a bank's answer to Prepare or Resolve as the core takes it.
func voteOf(v strifev1.Vote, reason strifev1.Reason) (Vote, error) {
	switch v {
	case strifev1.Vote_VOTE_YES:
		return Vote{Yes: true}, nil
	case strifev1.Vote_VOTE_NO:
		return Vote{Reason: reason}, nil
	}
	return Vote{}, status.Errorf(codes.InvalidArgument, "bank answered vote %v", v)
}

func (g *GRPCParticipant) Commit(ctx context.Context, id ulid.ULID, attempt uint32) error {
	req := &strifev1.CommitRequest{TransactionId: id.String(), Attempt: attempt}
	res, err := g.call(ctx, &strifev1.BatchItem{Message: &strifev1.BatchItem_Commit{Commit: req}})
	if err == nil && res.GetCommit() == nil {
		err = unexpected(res, "Commit")
	}
	return err
}

func (g *GRPCParticipant) Abort(ctx context.Context, id ulid.ULID, attempt uint32) error {
	req := &strifev1.AbortRequest{TransactionId: id.String(), Attempt: attempt}
	res, err := g.call(ctx, &strifev1.BatchItem{Message: &strifev1.BatchItem_Abort{Abort: req}})
	if err == nil && res.GetAbort() == nil {
		err = unexpected(res, "Abort")
	}
	return err
}

// StaticDirectory is a fixed set of banks by name.
type StaticDirectory map[string]Participant

func (d StaticDirectory) Participant(bank string) (Participant, bool) {
	p, ok := d[bank]
	return p, ok
}

// decisionRules map GetDecision's errors to gRPC codes.
var decisionRules = []rpc.StatusRule{
	{Err: ErrNotParticipant, Code: codes.PermissionDenied},
	{Err: ErrResolving, Code: codes.Unavailable},
	{Err: wal.ErrWriteFailed, Code: codes.Unavailable},
}

// DecisionService serves CoordinatorService: in-doubt banks ask it for the
// decision on an attempt.
type DecisionService struct {
	strifev1.UnimplementedCoordinatorServiceServer
	c   *Coordinator
	log zerolog.Logger
}

// NewDecisionService returns the CoordinatorService of c.
func NewDecisionService(c *Coordinator, log zerolog.Logger) *DecisionService {
	return &DecisionService{c: c, log: log}
}

// GetDecision answers the bank named by the caller's certificate. An
// attempt still being settled is UNAVAILABLE: the bank asks again.
func (s *DecisionService) GetDecision(ctx context.Context, req *strifev1.GetDecisionRequest) (*strifev1.GetDecisionResponse, error) {
	id, err := wal.ParseTxID(req.GetTransactionId())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "transaction_id: "+err.Error())
	}
	if req.GetAttempt() == 0 {
		return nil, status.Error(codes.InvalidArgument, "attempt must be 1 or more")
	}
	bank, _, err := rpc.Peer(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	d, err := s.c.GetDecision(bank, id, req.GetAttempt())
	if err != nil {
		return nil, rpc.Reply(s.log, "GetDecision", err, decisionRules)
	}
	resp := &strifev1.GetDecisionResponse{Decision: strifev1.Decision_DECISION_ABORT}
	if d == DecisionCommit {
		resp.Decision = strifev1.Decision_DECISION_COMMIT
	}
	return resp, nil
}

// errorOf is the error an item's result carries, as the single call would
// have returned it; nil if the result is not an error.
func errorOf(res *strifev1.BatchResult) error {
	if e := res.GetError(); e != nil {
		return status.Error(codes.Code(e.GetCode()), e.GetMessage())
	}
	return nil
}

// unexpected is the error for a result of the wrong kind.
func unexpected(res *strifev1.BatchResult, want string) error {
	return status.Errorf(codes.Internal, "bank answered a %s with %T", want, res.GetResult())
}
