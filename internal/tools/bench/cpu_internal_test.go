package bench

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		bad        bool
	}{
		{name: "utime and stime", stat: "4242 (strife) S 1 2 3 4 5 6 7 8 9 10 150 30 0 0 20 0\n", want: 1800 * time.Millisecond},
		{name: "a command with spaces and parentheses", stat: "4242 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 1 2 0 0", want: 30 * time.Millisecond},
		{name: "too few fields", stat: "4242 (strife) S 1 2 3 4 5 6 7 8 9 10 150", bad: true},
		{name: "not a number", stat: "4242 (strife) S 1 2 3 4 5 6 7 8 9 10 x 30 0 0", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat(tc.stat)
			if tc.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// procCPU reads this very process, once it has used a few clock ticks.
func TestProcCPU(t *testing.T) {
	deadline := time.Now().Add(5 * time.Second)
	var used time.Duration
	for x := 1.0; used == 0 && time.Now().Before(deadline); {
		for range 1_000_000 {
			x = x*1.000001 + 1
		}
		var err error
		used, err = procCPU(os.Getpid())
		require.NoError(t, err)
	}
	require.Positive(t, used)
	_, err := procCPU(-1)
	require.Error(t, err)
}

func TestPerPayment(t *testing.T) {
	before := map[string]time.Duration{"bench": 10 * time.Millisecond, "BankA": 5 * time.Millisecond, "gone": time.Second}
	after := map[string]time.Duration{"bench": 30 * time.Millisecond, "BankA": 5 * time.Millisecond, "new": time.Second}
	for _, tc := range []struct {
		name     string
		payments int
		want     map[string]time.Duration
	}{
		{"divided among the payments, for the processes read twice", 4, map[string]time.Duration{"bench": 5 * time.Millisecond, "BankA": 0}},
		{"no payments", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, perPayment(before, after, tc.payments))
		})
	}
}

func TestCPUInTheReport(t *testing.T) {
	r := Result{Payers: 1, Payments: 10, PerSecond: 1234.56, CPU: map[string]time.Duration{"gateway-1": 300 * time.Microsecond, "bench": 60 * time.Microsecond}}
	require.Contains(t, r.String(), ", CPU/payment 360µs (bench 60µs, gateway-1 300µs)")
	require.Empty(t, cpuString(nil))

	var got map[string]any
	line, err := json.Marshal(r)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(line, &got))
	require.Equal(t, map[string]any{"bench": 60.0, "gateway-1": 300.0}, got["cpu_us_per_payment"])
	require.Equal(t, 1234.6, got["payments_per_s"])

	r.CPU = nil
	line, err = json.Marshal(r)
	require.NoError(t, err)
	require.NotContains(t, string(line), "cpu_us_per_payment")
}
