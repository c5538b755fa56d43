package top_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/top"
)

var gw0 = gw{
	committed: 100, failed: 10, pending: 50,
	pay:  [4]int{10, 20, 30, 30},
	held: 7, doubtA: 1, doubtB: 0,
	fsync: [3]int{0, 5, 5}, grpcOK: 1000, grpcUnavailable: 2, start: 1.7e9,
}

// gw1 is gw0 two seconds on: 220 payments final (the 450 answered PENDING
// do not count), 200 Pay answers of which 50 in (0, 5ms], 100 in (5, 10ms]
// and 50 in (10, 25ms]; 100 fsyncs in (1, 2ms]; 4 errors.
var gw1 = gw{
	committed: 300, failed: 30, pending: 500,
	pay:  [4]int{60, 170, 230, 230},
	held: 3, doubtA: 1, doubtB: 2,
	fsync: [3]int{0, 105, 105}, grpcOK: 2000, grpcUnavailable: 6, start: 1.7e9,
}

func TestGatewayRatesAndPercentiles(t *testing.T) {
	e := newEndpoint(t, gw0.text())
	clock := newClock()
	m := monitor(clock, e.target("gateway-1"))

	first := poll(t, m).Rows[0]
	require.Equal(t, top.KindGateway, first.Kind)
	require.Equal(t, top.StateStarting, first.State, "one scrape is not an interval")
	require.Equal(t, 7.0, first.Held)
	require.Equal(t, 1.0, first.InDoubt)
	require.True(t, math.IsNaN(first.PaymentsPerSec), "no rate from one scrape")
	require.True(t, math.IsNaN(first.P99))

	e.set(gw1.text())
	clock.advance(2 * time.Second)
	r := poll(t, m).Rows[0]
	require.Equal(t, top.StateUp, r.State)
	require.InDelta(t, 110.0, r.PaymentsPerSec, 1e-9, "(200 committed + 20 failed) / 2s")
	require.InDelta(t, 2.0, r.ErrorsPerSec, 1e-9, "4 Unavailable / 2s; OK is not an error")
	// Rank 100 of 200 falls in (5ms, 10ms], 50 into its 100: 7.5ms.
	require.InDelta(t, 0.0075, r.P50, 1e-12)
	// Rank 198 falls in (10ms, 25ms], 48 into its 50: 10 + 15*48/50 = 24.4ms.
	require.InDelta(t, 0.0244, r.P99, 1e-12)
	// Rank 99 of 100, all in (1ms, 2ms]: 1.99ms.
	require.InDelta(t, 0.00199, r.FsyncP99, 1e-12)
	require.Equal(t, 3.0, r.Held)
	require.Equal(t, 3.0, r.InDoubt, "in doubt is summed over the banks")
}

func TestRatesUseTheRealElapsedTime(t *testing.T) {
	e := newEndpoint(t, gw0.text())
	clock := newClock()
	m := monitor(clock, e.target("gateway-1"))
	poll(t, m)
	e.set(gw1.text())
	clock.advance(4 * time.Second) // a late refresh: the same increase over twice the time
	r := poll(t, m).Rows[0]
	require.InDelta(t, 55.0, r.PaymentsPerSec, 1e-9)
	require.InDelta(t, 1.0, r.ErrorsPerSec, 1e-9)
}

func TestPercentilesCoverOnlyTheLastInterval(t *testing.T) {
	e := newEndpoint(t, gw1.text())
	clock := newClock()
	m := monitor(clock, e.target("gateway-1"))
	poll(t, m)
	// Nothing observed since: the percentiles are unknown, not the
	// process's whole history.
	clock.advance(time.Second)
	r := poll(t, m).Rows[0]
	require.Equal(t, top.StateUp, r.State)
	require.True(t, math.IsNaN(r.P50), "no Pay answered in the interval: %v", r.P50)
	require.True(t, math.IsNaN(r.FsyncP99))
	require.Equal(t, 0.0, r.PaymentsPerSec)

	// Ten answers, all slower than the highest finite bound: the estimate
	// is that bound, as histogram_quantile answers.
	slow := gw1
	slow.pay = [4]int{60, 170, 230, 240}
	e.set(slow.text())
	clock.advance(time.Second)
	r = poll(t, m).Rows[0]
	require.Equal(t, 0.025, r.P50)
	require.Equal(t, 0.025, r.P99)
}

func TestBankFigures(t *testing.T) {
	e := newEndpoint(t, bk{committed: 40, aborted: 5, prepare: [3]int{10, 10, 10},
		watch: [3]int{0, 0, 1}, holds: 4, inDoubt: 2}.text())
	clock := newClock()
	m := monitor(clock, e.target("BankA"))
	poll(t, m)
	// Two seconds on: 20 more committed, 95 more aborted; 100 unary calls,
	// all in (1ms, 10ms]; 50 stream ends, all over 10ms, which must not
	// count.
	e.set(bk{committed: 60, aborted: 100, prepare: [3]int{10, 60, 60}, commit: [3]int{0, 50, 50},
		watch: [3]int{0, 0, 51}, holds: 1, inDoubt: 0}.text())
	clock.advance(2 * time.Second)
	r := poll(t, m).Rows[0]
	require.Equal(t, top.KindBank, r.Kind)
	require.Equal(t, top.StateUp, r.State)
	require.InDelta(t, 10.0, r.PaymentsPerSec, 1e-9, "committed outcomes only")
	require.InDelta(t, 0.0055, r.P50, 1e-12, "1 + 9*50/100 ms, streams left out")
	require.InDelta(t, 0.00991, r.P99, 1e-12)
	require.Equal(t, 1.0, r.Held)
	require.Equal(t, 0.0, r.InDoubt)
	require.True(t, math.IsNaN(r.FsyncP99), "this bank serves no WAL histogram: blank, not zero")
	require.Equal(t, 0.0, r.ErrorsPerSec, "no gRPC handled counter: none yet")
}

func TestEtcdIsUpOrDown(t *testing.T) {
	e := newEndpoint(t, etcdText)
	clock := newClock()
	m := monitor(clock, e.target("etcd"))
	poll(t, m)
	clock.advance(time.Second)
	r := poll(t, m).Rows[0]
	require.Equal(t, top.KindEtcd, r.Kind)
	require.Equal(t, top.StateUp, r.State)
	require.True(t, math.IsNaN(r.PaymentsPerSec))
	require.True(t, math.IsNaN(r.Held))
}

func TestRestartIsShownNotANegativeRate(t *testing.T) {
	e := newEndpoint(t, gw1.text())
	clock := newClock()
	m := monitor(clock, e.target("gateway-1"))
	poll(t, m)

	// The process restarted: its counters start again from zero.
	after := gw{committed: 5, pay: [4]int{5, 5, 5, 5}, fsync: [3]int{0, 1, 1}, start: gw1.start + 30}
	e.set(after.text())
	clock.advance(time.Second)
	r := poll(t, m).Rows[0]
	require.Equal(t, top.StateRestarted, r.State)
	require.True(t, math.IsNaN(r.PaymentsPerSec), "unknown, not %v", r.PaymentsPerSec)
	require.True(t, math.IsNaN(r.ErrorsPerSec))
	require.True(t, math.IsNaN(r.P99))

	// The next interval is an ordinary one again.
	later := after
	later.committed = 15
	e.set(later.text())
	clock.advance(time.Second)
	r = poll(t, m).Rows[0]
	require.Equal(t, top.StateUp, r.State)
	require.InDelta(t, 10.0, r.PaymentsPerSec, 1e-9)
}

func TestRestartSeenFromCountersAlone(t *testing.T) {
	// Without process_start_time_seconds (or with the same value), a
	// counter that went down is enough.
	e := newEndpoint(t, gw1.text())
	clock := newClock()
	m := monitor(clock, e.target("gateway-1"))
	poll(t, m)
	back := gw1
	back.grpcUnavailable = 0
	e.set(back.text())
	clock.advance(time.Second)
	r := poll(t, m).Rows[0]
	require.Equal(t, top.StateRestarted, r.State)
	require.True(t, math.IsNaN(r.ErrorsPerSec))
}

func TestDownAndBack(t *testing.T) {
	bank := newEndpoint(t, bk{committed: 40}.text())
	gwEnd := newEndpoint(t, gw0.text())
	clock := newClock()
	m := monitor(clock, gwEnd.target("gateway-1"), bank.target("BankB"))
	poll(t, m)

	bank.stop()
	clock.advance(time.Second)
	f := poll(t, m)
	require.Equal(t, top.StateDown, f.Rows[1].State)
	require.Equal(t, "connection refused", f.Rows[1].Reason)
	require.Equal(t, top.KindBank, f.Rows[1].Kind, "the kind it had when last seen")
	require.NotEqual(t, top.StateDown, f.Rows[0].State, "one DOWN process does not take the others")

	// It comes back having committed 60 more over the 3 s since it was
	// last seen.
	bank.set(bk{committed: 100}.text())
	bank.restart()
	clock.advance(2 * time.Second)
	f = poll(t, m)
	require.Equal(t, top.StateUp, f.Rows[1].State)
	require.InDelta(t, 20.0, f.Rows[1].PaymentsPerSec, 1e-9)
}

func TestDownReasons(t *testing.T) {
	cases := map[string]struct {
		prepare func(e *endpoint)
		reason  string
	}{
		"slow":         {func(e *endpoint) { e.delay = 5 * time.Second }, "no answer in time"},
		"HTTP error":   {func(e *endpoint) { e.status = http.StatusInternalServerError }, "HTTP 500 Internal Server Error"},
		"not metrics":  {func(e *endpoint) { e.text = "<html>hello</html>\n" }, "bad exposition"},
		"wrong format": {func(e *endpoint) { e.text = "# TYPE x counter\nx{a=\"1\"} not-a-number\n" }, "bad exposition"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEndpoint(t, "")
			c.prepare(e)
			r := pollWithin(t, monitor(newClock(), e.target("BankC")), 300*time.Millisecond).Rows[0]
			require.Equal(t, top.StateDown, r.State)
			require.Contains(t, r.Reason, c.reason)
			require.LessOrEqual(t, len([]rune(r.Reason)), 48)
		})
	}
}
