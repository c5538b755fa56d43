package participant

import (
	"context"
	"fmt"

	"github.com/oklog/ulid/v2"
	"google.golang.org/grpc"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// Decision is a coordinator's verdict on an attempt. It is numbered as
// the wire's strifev1.Decision and the gateway's coordinator.Decision (which
// is persisted), so that a decision has one numbering everywhere; the zero
// Decision is none.
type Decision int32

const (
	DecisionCommit = Decision(strifev1.Decision_DECISION_COMMIT)
	DecisionAbort  = Decision(strifev1.Decision_DECISION_ABORT)
)

func (d Decision) String() string {
	switch d {
	case DecisionAbort:
		return "ABORT"
	case DecisionCommit:
		return "COMMIT"
	}
	return fmt.Sprintf("Decision(%d)", int32(d))
}

// Coordinator is whom an in-doubt participant asks for a decision. name is
// the coordinator recorded in the attempt's PREPARED record (the identity of
// the gateway that sent the Prepare). An error means "ask again later".
type Coordinator interface {
	GetDecision(ctx context.Context, name string, id ulid.ULID, attempt uint32) (Decision, error)
}

// GRPCCoordinator asks a CoordinatorService over one connection, whatever the
// name: the connection is to the gateway already chosen, by name through etcd
// (internal/plumbing/discovery.Coordinators dials one per gateway) or given by
// address (a static setup, a test).
type GRPCCoordinator struct {
	Client strifev1.CoordinatorServiceClient
}

// NewGRPCCoordinator returns a Coordinator calling CoordinatorService on
// conn.
func NewGRPCCoordinator(conn grpc.ClientConnInterface) *GRPCCoordinator {
	return &GRPCCoordinator{Client: strifev1.NewCoordinatorServiceClient(conn)}
}

func (c *GRPCCoordinator) GetDecision(ctx context.Context, _ string, id ulid.ULID, attempt uint32) (Decision, error) {
	resp, err := c.Client.GetDecision(ctx, &strifev1.GetDecisionRequest{TransactionId: id.String(), Attempt: attempt})
	if err != nil {
		return 0, err
	}
	switch resp.GetDecision() {
	case strifev1.Decision_DECISION_COMMIT:
		return DecisionCommit, nil
	case strifev1.Decision_DECISION_ABORT:
		return DecisionAbort, nil
	}
	return 0, fmt.Errorf("participant: coordinator answered %v", resp.GetDecision())
}
