package bench_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/bench"
)

// The bare pipeline runs as processes of this test binary (see TestMain),
// and every payment commits.
func TestBareRunsPaymentsThroughBareProcesses(t *testing.T) {
	t.Setenv(daemonEnv, "1")
	requireEveryLevelCommits(t, bench.RunBare, bench.Options{Payers: []int{1, 4}, Duration: 300 * time.Millisecond, Executable: os.Args[0]})
}

// The bare pipeline is only ever processes of its own.
func TestBareRefusesWhatItCannotRun(t *testing.T) {
	for name, opts := range map[string]bench.Options{
		"no executable": {Payers: []int{1}},
		"gateway":       {Payers: []int{1}, Executable: os.Args[0], Gateway: "127.0.0.1:7000"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := bench.RunBare(opts)
			require.ErrorIs(t, err, bench.ErrBareNeedsProcesses)
		})
	}
	for _, flag := range []string{"--in-process", "--gateway=127.0.0.1:7000"} {
		t.Run(flag, func(t *testing.T) {
			cmd := bench.Command()
			cmd.SetArgs([]string{"--bare", flag})
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			require.ErrorContains(t, cmd.Execute(), "--bare starts bare processes of its own")
		})
	}
}
