package gatewayd_test

import (
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/strife-pay/strife/internal/plumbing/metrics/metricstest"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// TestMetricsMoveWithPayments scrapes the real /metrics of a gateway and
// two banks while payments commit, fail and are held, and checks that each
// metric moved by what they caused, and that the expositions lint clean.
func TestMetricsMoveWithPayments(t *testing.T) {
	e := newEnvWith(t, "", true)
	gw, bankA, bankB := e.gw.MetricsAddr(), e.banks["BankA"].MetricsAddr(), e.banks["BankB"].MetricsAddr()
	require.NotEmpty(t, gw)
	alice, carol := e.login(t, "alice", alicePassword), e.login(t, "carol", carolPassword)
	g0, a0, b0 := metricstest.Get(t, gw), metricstest.Get(t, bankA), metricstest.Get(t, bankB)

	// Three payments commit (two at BankA alone, one across both banks), one
	// fails for insufficient funds.
	for _, req := range []*strifev1.PayRequest{toUser(ulid.Make(), "carol", 100), toUser(ulid.Make(), "carol", 200), toUser(ulid.Make(), "bob", 300)} {
		require.Equal(t, strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED, alice.pay(t, req).GetStatus())
	}
	failed := carol.pay(t, toUser(ulid.Make(), "alice", 1_000_000))
	require.Equal(t, strifev1.Reason_REASON_INSUFFICIENT_FUNDS, failed.GetReason())
	e.settled(t)

	// Refusals: a bad token, no token, a wrong password, no such user.
	bad := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer not-a-token")
	_, err := alice.Pay(bad, toUser(ulid.Make(), "carol", 1))
	requireCode(t, codes.Unauthenticated, err)
	_, err = alice.Pay(t.Context(), toUser(ulid.Make(), "carol", 1))
	requireCode(t, codes.Unauthenticated, err)
	for _, user := range []string{"alice", "nobody"} {
		_, err = alice.Login(t.Context(), &strifev1.LoginRequest{Username: user, Password: "wrong password"})
		requireCode(t, codes.Unauthenticated, err)
	}

	delta := func(before metricstest.Scrape, addr, name string, labels ...string) float64 {
		return metricstest.Get(t, addr).Value(name, labels...) - before.Value(name, labels...)
	}
	eventually := func(want float64, before metricstest.Scrape, addr, name string, labels ...string) {
		t.Helper()
		require.Eventually(t, func() bool { return delta(before, addr, name, labels...) == want }, 10*time.Second, 10*time.Millisecond,
			"%s%v at %s moved by %v, want %v", name, labels, addr, delta(before, addr, name, labels...), want)
	}
	eventually(3, g0, gw, "strife_payments_total", "status", "committed", "reason", "")
	eventually(1, g0, gw, "strife_payments_total", "status", "failed", "reason", "insufficient_funds")
	eventually(0, g0, gw, "strife_payments_total", "status", "pending", "reason", "")
	eventually(4, g0, gw, "strife_pay_duration_seconds")
	eventually(4, g0, gw, "grpc_server_handled_total", "grpc_service", "strife.v1.GatewayService", "grpc_method", "Pay", "grpc_type", "unary", "grpc_code", "OK")
	// The histogram has no code: the two refused Pays are in it.
	eventually(6, g0, gw, "grpc_server_handling_seconds", "grpc_service", "strife.v1.GatewayService", "grpc_method", "Pay", "grpc_type", "unary")
	for _, phase := range []string{"prepare", "decide"} {
		eventually(4, g0, gw, "strife_phase_duration_seconds", "phase", phase)
	}
	eventually(3, g0, gw, "strife_phase_duration_seconds", "phase", "commit")
	eventually(1, g0, gw, "strife_phase_duration_seconds", "phase", "abort")
	eventually(1, g0, gw, "strife_auth_refusals_total", "reason", "bad_token")
	eventually(1, g0, gw, "strife_auth_refusals_total", "reason", "no_token")
	eventually(1, g0, gw, "strife_login_refusals_total", "reason", "bad_password")
	eventually(1, g0, gw, "strife_login_refusals_total", "reason", "no_user")
	eventually(3, a0, bankA, "strife_bank_votes_total", "vote", "yes")
	eventually(1, a0, bankA, "strife_bank_votes_total", "vote", "no")
	eventually(3, a0, bankA, "strife_bank_outcomes_total", "outcome", "committed")
	eventually(1, b0, bankB, "strife_bank_votes_total", "vote", "yes")
	eventually(1, b0, bankB, "strife_bank_outcomes_total", "outcome", "committed")

	g1 := metricstest.Get(t, gw)
	for _, s := range []metricstest.Scrape{g1, metricstest.Get(t, bankA)} {
		for _, name := range []string{"strife_wal_commit_duration_seconds", "strife_wal_fsync_duration_seconds", "strife_wal_appends_per_commit", "strife_wal_commit_bytes"} {
			require.Positive(t, s.Value(name), name)
		}
		require.Zero(t, s.Value("strife_wal_write_failures_total"))
		require.Zero(t, s.Value("strife_etcd_registered"), "no etcd here")
		require.Contains(t, s, "strife_etcd_registered")
	}
	// Every payment's records and the banks' votes were appended: at least
	// one append per payment at the gateway, one per vote at the banks.
	require.GreaterOrEqual(t, g1.Value("strife_wal_appends_per_commit"), 4.0)
	require.Zero(t, g1.Value("strife_payments_held"))
	require.Zero(t, g1.Value("strife_decisions_undelivered"))
	require.Zero(t, metricstest.Get(t, bankA).Value("strife_bank_holds"))
	require.Zero(t, metricstest.Get(t, bankA).Value("strife_bank_in_doubt"))

	// BankB goes down: a payment to bob is held PENDING; BankA's YES is
	// aborted, and BankB owes the gateway an acknowledgement.
	require.NoError(t, e.banks["BankB"].Stop())
	held := alice.pay(t, toUser(ulid.Make(), "bob", 400))
	require.Equal(t, strifev1.PaymentStatus_PAYMENT_STATUS_PENDING, held.GetStatus())
	eventually(1, g1, gw, "strife_payments_total", "status", "pending", "reason", "")
	eventually(1, g1, gw, "strife_payments_held")
	eventually(1, g1, gw, "strife_attempts_in_doubt", "bank", "BankB")
	eventually(1, g1, gw, "strife_decisions_undelivered")
	eventually(0, g1, gw, "strife_attempts_in_doubt", "bank", "BankA") // BankA acknowledged the abort
	// The held payment is tried again with backoff: each attempt's YES at
	// BankA is aborted.
	require.Eventually(t, func() bool { return delta(a0, bankA, "strife_bank_outcomes_total", "outcome", "aborted") >= 1 }, 10*time.Second, 10*time.Millisecond)

	for _, addr := range []string{gw, bankA} {
		metricstest.Lint(t, addr)
	}
}
