package bench_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/bench"
	"github.com/strife-pay/strife/internal/deploy"
)

// daemonEnv makes this test binary, run again by the benchmark with it set,
// act as the bank or gateway daemon its arguments name.
const daemonEnv = "STRIFE_BENCH_TEST_DAEMON"

func TestMain(m *testing.M) {
	if os.Getenv(daemonEnv) != "" {
		root := &cobra.Command{Use: "daemon", SilenceUsage: true}
		root.AddCommand(deploy.DaemonCommands()...)
		root.AddCommand(bench.BareCommands()...)
		root.SetArgs(os.Args[1:])
		if err := root.Execute(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The benchmark's deployments work, in this process and as processes, and
// their payments commit. Only that: the figures are for people to read, not
// for a test to assert.
func TestBenchRunsPaymentsThroughTheWholePath(t *testing.T) {
	for _, processes := range []bool{false, true} {
		t.Run(fmt.Sprintf("processes=%v", processes), func(t *testing.T) {
			opts := bench.Options{Payers: []int{1, 4}, Duration: 300 * time.Millisecond}
			if processes {
				t.Setenv(daemonEnv, "1")
				opts.Executable = os.Args[0]
			}
			requireEveryLevelCommits(t, bench.Run, opts)
		})
	}
}

// requireEveryLevelCommits runs the levels of opts and requires payments
// at each, all COMMITTED, and the report printed.
func requireEveryLevelCommits(t *testing.T, run func(bench.Options) ([]bench.Result, error), opts bench.Options) {
	t.Helper()
	var out bytes.Buffer
	opts.Out = &out
	results, err := run(opts)
	require.NoError(t, err)
	require.Len(t, results, len(opts.Payers))
	for _, r := range results {
		require.Positive(t, r.Payments, "%v", r)
		require.Zero(t, r.Failed, "%v", r)
	}
	require.Contains(t, out.String(), "payments/s")
}
