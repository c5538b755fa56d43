package coordinator

import (
	"context"
	"fmt"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/internal/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// GRPCParticipant is a bank reached over BankService.
type GRPCParticipant struct {
	Client strifev1.BankServiceClient
}

// NewGRPCParticipant returns the participant at the other end of conn.
func NewGRPCParticipant(conn grpc.ClientConnInterface) *GRPCParticipant {
	return &GRPCParticipant{Client: strifev1.NewBankServiceClient(conn)}
}

func (g *GRPCParticipant) Prepare(ctx context.Context, id ulid.ULID, attempt uint32, legs []*strifev1.Leg, memo string) (Vote, error) {
	resp, err := g.Client.Prepare(ctx, &strifev1.PrepareRequest{TransactionId: id.String(), Attempt: attempt, Legs: legs, Memo: memo})
	if err != nil {
		return Vote{}, err
	}
	switch resp.GetVote() {
	case strifev1.Vote_VOTE_YES:
		return Vote{Yes: true}, nil
	case strifev1.Vote_VOTE_NO:
		return Vote{Reason: resp.GetReason()}, nil
	}
	return Vote{}, status.Errorf(codes.InvalidArgument, "bank answered vote %v", resp.GetVote())
}

func (g *GRPCParticipant) Commit(ctx context.Context, id ulid.ULID, attempt uint32) error {
	_, err := g.Client.Commit(ctx, &strifev1.CommitRequest{TransactionId: id.String(), Attempt: attempt})
	return err
}

func (g *GRPCParticipant) Abort(ctx context.Context, id ulid.ULID, attempt uint32) error {
	_, err := g.Client.Abort(ctx, &strifev1.AbortRequest{TransactionId: id.String(), Attempt: attempt})
	return err
}

// StaticDirectory is a fixed set of banks by name.
type StaticDirectory map[string]Participant

func (d StaticDirectory) Participant(bank string) (Participant, bool) {
	p, ok := d[bank]
	return p, ok
}

// decisionRules map GetDecision's errors to gRPC codes.
var decisionRules = []rpc.StatusRule{{Err: ErrNotParticipant, Code: codes.PermissionDenied}}

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

// GetDecision answers the bank named by the caller's certificate.
func (s *DecisionService) GetDecision(ctx context.Context, req *strifev1.GetDecisionRequest) (*strifev1.GetDecisionResponse, error) {
	id, err := ulid.ParseStrict(req.GetTransactionId())
	if err != nil || req.GetAttempt() == 0 {
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("transaction_id %q and attempt %d must be a ULID and 1 or more", req.GetTransactionId(), req.GetAttempt()))
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
