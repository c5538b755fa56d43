package bench_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/bench"
	"github.com/strife-pay/strife/internal/tools/cli"
)

// daemonEnv makes this test binary, run again by the benchmark with it set,
// act as the bank or gateway daemon its arguments name.
const daemonEnv = "STRIFE_BENCH_TEST_DAEMON"

func TestMain(m *testing.M) {
	if os.Getenv(daemonEnv) != "" {
		root := &cobra.Command{Use: "daemon", SilenceUsage: true}
		root.AddCommand(cli.DaemonCommands()...)
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
// for a test to assert. The processes write their profiles into a
// directory that did not exist, and serve their metrics. In this process, the deployment is kept
// (Options.Keep): its data files are left for strife-inspect stats.
func TestBenchRunsPaymentsThroughTheWholePath(t *testing.T) {
	for _, processes := range []bool{false, true} {
		t.Run(fmt.Sprintf("processes=%v", processes), func(t *testing.T) {
			opts := bench.Options{Payers: []int{1, 4}, Duration: 300 * time.Millisecond}
			if processes {
				t.Setenv(daemonEnv, "1")
				opts.Executable = os.Args[0]
				opts.ProfileDir = filepath.Join(t.TempDir(), "profiles", "new")
				opts.Metrics = true // the daemons start with their metrics listeners
			} else {
				opts.Keep = filepath.Join(t.TempDir(), "kept", "new")
			}
			requireEveryLevelCommits(t, bench.Run, opts)
			if !processes {
				for _, pattern := range []string{"gateway/*.db", "BankA/*.db", "BankB/*.db"} {
					kept, err := filepath.Glob(filepath.Join(opts.Keep, "*", pattern))
					require.NoError(t, err)
					require.Len(t, kept, 1, "%s kept", pattern)
				}
			}
			if processes {
				for _, name := range []string{"BankA", "BankB", "gateway-1"} {
					info, err := os.Stat(filepath.Join(opts.ProfileDir, name+".pprof"))
					require.NoError(t, err)
					require.Positive(t, info.Size())
				}
			}
		})
	}
}

// --profile-dir profiles the processes strife-bench starts: there are none
// with --in-process or --gateway.
func TestProfileDirNeedsProcesses(t *testing.T) {
	for _, flags := range [][]string{{"--in-process"}, {"--gateway=127.0.0.1:7000"}} {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			cmd := bench.Command()
			cmd.SetArgs(append(flags, "--profile-dir", t.TempDir(), "--payers", "1", "--duration", "50ms"))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			require.ErrorContains(t, cmd.Execute(), "--profile-dir profiles the daemon processes strife-bench starts")
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
