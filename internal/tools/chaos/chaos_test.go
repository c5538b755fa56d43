package chaos_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/tools/chaos"
)

// strife is the strife binary whose hidden commands run the daemons.
var strife string

func TestMain(m *testing.M) {
	os.Exit(banktest.RunWithBinary(m, "github.com/strife-pay/strife/cmd/strife", &strife))
}

// ciSeed is the seed of the round every change runs: a failure replays
// with `strife-chaos --seed 1313 --duration 60s`.
const ciSeed = 1313

// A minute of faults on a real deployment under payments, and every
// invariant must hold: CI's short chaos round. strife-chaos --duration 10m
// is the long one.
func TestChaosRound(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of chaos")
	}
	s, err := chaos.Run(chaos.Config{Seed: ciSeed, Duration: 60 * time.Second, Settle: 45 * time.Second,
		Dir: t.TempDir(), Executable: strife, Out: t.Output()})
	require.NoError(t, err)
	require.Positive(t, s.Kills(), "processes killed")
	require.Positive(t, s.Payments[chaos.Committed], "payments committed")
	require.Positive(t, s.Payments[chaos.Failed], "payments failed (payers without funds)")
	require.True(t, s.OK(), "every invariant holds (the summary above says which does not)")
}
