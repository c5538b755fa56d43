package bench_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/bench"
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
	for _, flags := range [][]string{{"--bare", "--in-process"}, {"--bare", "--gateway=127.0.0.1:7000"}, {"--compare-bare", "--in-process"}} {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			cmd := bench.Command()
			cmd.SetArgs(flags)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			require.ErrorContains(t, cmd.Execute(), "--bare and --compare-bare start processes of their own")
		})
	}
}

// A comparison runs both pipelines, alternately, and prints every level of
// every run and then the ratio per level; with JSON, one object a line.
func TestCompareRunsBothPipelinesAndPrintsTheRatios(t *testing.T) {
	t.Setenv(daemonEnv, "1")
	var out bytes.Buffer
	profiles := t.TempDir()
	opts := bench.Options{Payers: []int{1, 2}, Duration: 300 * time.Millisecond, Executable: os.Args[0], Out: &out, JSON: true, ProfileDir: profiles}
	ratios, err := bench.Compare(opts, 1)
	require.NoError(t, err)
	require.Len(t, ratios, 2)
	var lines []map[string]any
	for line := range strings.Lines(out.String()) {
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &v), line)
		lines = append(lines, v)
	}
	require.Len(t, lines, 6, "two levels of two runs, then two ratios:\n%s", out.String())
	for i, pipeline := range []string{"bare", "bare", "strife", "strife"} {
		require.Equal(t, pipeline, lines[i]["pipeline"])
		require.EqualValues(t, 1, lines[i]["round"])
		for _, key := range []string{"payers", "payments", "payments_per_s", "p50_ms", "p99_ms", "failed"} {
			require.Contains(t, lines[i], key)
		}
		require.Zero(t, lines[i]["failed"])
	}
	for i, r := range ratios {
		require.Equal(t, opts.Payers[i], r.Payers)
		require.InDelta(t, r.Strife[0].PerSecond/r.Bare[0].PerSecond, r.Throughput(), 1e-9)
		require.InDelta(t, r.Throughput(), lines[4+i]["ratio"], 0.01)
		require.Contains(t, lines[4+i], "p50_ratio")
	}
	for _, run := range []string{"1-bare", "1-strife"} {
		for _, name := range []string{"BankA", "BankB", "gateway-1"} {
			info, err := os.Stat(filepath.Join(profiles, run, name+".pprof"))
			require.NoError(t, err)
			require.Positive(t, info.Size())
		}
	}
	_, err = bench.Compare(opts, 0)
	require.ErrorIs(t, err, bench.ErrRounds)
}
