package participant_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/participant"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// A decision has one numbering: the wire's, which the gateway persists
// (coordinator.Decision) too.
func TestDecisionIsNumberedAsTheWire(t *testing.T) {
	require.Equal(t, participant.DecisionCommit, participant.Decision(strifev1.Decision_DECISION_COMMIT))
	require.Equal(t, participant.DecisionAbort, participant.Decision(strifev1.Decision_DECISION_ABORT))
}

// String never panics, whatever the value: one read from a peer or a file
// can be anything.
func TestDecisionStringOutOfRange(t *testing.T) {
	for d, want := range map[participant.Decision]string{
		participant.DecisionCommit: "COMMIT", participant.DecisionAbort: "ABORT",
		0: "Decision(0)", -1: "Decision(-1)", 3: "Decision(3)", 1 << 30: "Decision(1073741824)",
	} {
		require.Equal(t, want, d.String())
	}
}
