package coordinator_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// A payment's decision is persisted as a number (PaymentState.decision: 0
// none, 1 commit, 2 abort), so the numbers can never change; they are the
// wire's, which participant.Decision shares.
func TestDecisionNumbersArePersisted(t *testing.T) {
	for d, n := range map[coordinator.Decision]int32{coordinator.DecisionNone: 0, coordinator.DecisionCommit: 1, coordinator.DecisionAbort: 2} {
		require.Equal(t, n, coordinator.Payment{Decision: d}.State().GetDecision(), "%v", d)
	}
	require.Equal(t, coordinator.DecisionNone, coordinator.Decision(strifev1.Decision_DECISION_UNSPECIFIED))
	require.Equal(t, coordinator.DecisionCommit, coordinator.Decision(strifev1.Decision_DECISION_COMMIT))
	require.Equal(t, coordinator.DecisionAbort, coordinator.Decision(strifev1.Decision_DECISION_ABORT))
}

// The String methods of the enums never panic, whatever the value: a
// decision is decoded from disk, where it can be anything.
func TestEnumStringOutOfRange(t *testing.T) {
	for d, want := range map[coordinator.Decision]string{
		coordinator.DecisionNone: "NONE", coordinator.DecisionCommit: "COMMIT", coordinator.DecisionAbort: "ABORT",
		-1: "Decision(-1)", 3: "Decision(3)", 1 << 30: "Decision(1073741824)",
	} {
		require.Equal(t, want, d.String())
	}
	for k, want := range map[coordinator.Kind]string{
		coordinator.KindPrepare: "Prepare", coordinator.KindCommit: "Commit", coordinator.KindAbort: "Abort", coordinator.KindResolve: "Resolve",
		-1: "Kind(-1)", 4: "Kind(4)",
	} {
		require.Equal(t, want, k.String())
	}
}
