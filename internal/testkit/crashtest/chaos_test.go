package crashtest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/chaos"
)

// chaosRound runs strife-chaos's workload for 20 seconds on strife, with
// env added to the daemons' environment, and faults on the gateway alone,
// two a second on average (about 15 kills).
func chaosRound(t *testing.T, env ...string) *chaos.Summary {
	s, err := chaos.Run(chaos.Config{Seed: 4242, Duration: 20 * time.Second, Only: []string{"gateway"},
		FaultEvery: 500 * time.Millisecond, MaxDown: 500 * time.Millisecond, Settle: 20 * time.Second,
		Payers: 8, Dir: t.TempDir(), Executable: strife, Env: env, Out: t.Output()})
	require.NoError(t, err)
	require.Positive(t, s.Faults["gateway"]["kills"], "gateway killed")
	return s
}

// A gateway that forgets its implicit commits when it restarts (the
// coordinator's forgetImplicitCommits failpoint: a staged attempt whose
// decision was not yet written is failed, where it should be resolved by
// asking the banks) must make strife-chaos fail: a gateway killed in the
// few milliseconds between answering COMMITTED and writing the decision
// breaks its word. Nothing else is wrong with it, so only the kills expose
// it, and each has a fair chance to (a payment answered in the window is
// forgotten). The same binary and seed with the failpoint off passes.
func TestChaosCatchesAGatewayThatForgetsADecision(t *testing.T) {
	t.Run("broken", func(t *testing.T) {
		s := chaosRound(t, "GOFAIL_FAILPOINTS=forgetImplicitCommits=return")
		require.False(t, s.OK(), "the checks catch the broken gateway")
		require.False(t, s.Invariants[0].OK(), "payments answered COMMITTED that never moved")
	})
	t.Run("failpoint off", func(t *testing.T) {
		s := chaosRound(t)
		require.True(t, s.OK(), "every invariant holds")
	})
}
