package bankd_test

import (
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// A bank that crashed while in doubt asks the coordinator after its
// restart, retries while the coordinator cannot answer, and applies each
// answer.
func TestInDoubtAttemptsAreResolvedThroughGetDecisionAfterACrash(t *testing.T) {
	pki := banktest.NewPKI(t)
	dataDir := banktest.DataDir(t)
	txA, txB, txC := ulid.Make(), ulid.Make(), ulid.Make()
	a, b, c := attemptKey{txA.String(), 1}, attemptKey{txB.String(), 2}, attemptKey{txC.String(), 3}
	gateway := startCoordinator(t, pki,
		map[attemptKey]strifev1.Decision{a: strifev1.Decision_DECISION_COMMIT, b: strifev1.Decision_DECISION_ABORT, c: strifev1.Decision_DECISION_COMMIT},
		map[string]int{txC.String(): 2})
	flags := bankFlags{DataDir: dataDir, Seed: seedPath(t), Coordinator: gateway.Addr, InDoubtTimeout: time.Hour}
	bank := startBank(t, pki, flags)

	// A and B pay out of alice; C moves 400 from alice to bob.
	prepareYes(t, bank.Client(), txA, a.attempt, debit(alice, 100))
	prepareYes(t, bank.Client(), txB, b.attempt, debit(alice, 200))
	prepareYes(t, bank.Client(), txC, c.attempt, debit(alice, 400), credit(bob, 400))
	bank.Kill()
	require.Empty(t, gateway.Calls(), "asked before the in-doubt timeout")

	flags.InDoubtTimeout = 300 * time.Millisecond
	restarted := startBank(t, pki, flags)
	client := restarted.Client()
	require.Equal(t, int64(700), getAccount(t, client, alice).GetHeld(), "holds survive the crash")
	require.Equal(t, int64(400), getAccount(t, client, bob).GetPendingCredits(), "pending credits survive the crash")
	require.Equal(t, 1, restarted.Count("in-doubt attempts reloaded from the log"))

	gateway.open()
	waitFor(t, 10*time.Second, "resolved", func() bool {
		return getAccount(t, client, alice).GetHeld() == 0 && getAccount(t, client, bob).GetPendingCredits() == 0
	})

	aliceEntries, bobEntries := listEntries(t, client, alice), listEntries(t, client, bob)
	requirePosted(t, aliceEntries, txA, a.attempt, -100)
	require.Empty(t, entriesOf(aliceEntries, txB), "B aborted")
	requirePosted(t, aliceEntries, txC, c.attempt, -400)
	requirePosted(t, bobEntries, txC, c.attempt, 400)
	require.Equal(t, int64(aliceOpening-500), getAccount(t, client, alice).GetPostedBalance())
	require.Equal(t, int64(bobOpening+400), getAccount(t, client, bob).GetPostedBalance())

	asked := map[attemptKey]bool{}
	for _, call := range gateway.Calls() {
		require.Equal(t, bankName, call.caller, "caller's certificate name")
		require.Equal(t, certs.RoleBank, call.role, "caller's certificate role")
		asked[call.attemptKey] = true
	}
	require.Equal(t, map[attemptKey]bool{a: true, b: true, c: true}, asked, "attempts asked about")
	require.GreaterOrEqual(t, gateway.count(txC.String()), 3, "C is asked again after each UNAVAILABLE")

	require.Zero(t, restarted.Stop())
	requireVerified(t, dataDir)
}

// requirePosted requires one entry of the attempt among entries.
func requirePosted(t *testing.T, entries []*strifev1.Entry, id ulid.ULID, attempt uint32, amount int64) {
	t.Helper()
	posted := entriesOf(entries, id)
	require.Len(t, posted, 1, "entries of %s", id)
	require.Equal(t, attempt, posted[0].GetAttempt())
	require.Equal(t, amount, posted[0].GetAmount())
}

// A bank with no coordinator to ask keeps an attempt in doubt, with its
// hold, until the coordinator decides it.
func TestInDoubtAttemptWithoutCoordinatorWaitsForTheDecision(t *testing.T) {
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name   string
		decide func(context.Context, strifev1.BankServiceClient, ulid.ULID) error
		posted int64 // alice's balance once decided
	}{
		{"commit", func(ctx context.Context, c strifev1.BankServiceClient, id ulid.ULID) error {
			_, err := c.Commit(ctx, &strifev1.CommitRequest{TransactionId: id.String(), Attempt: 1})
			return err
		}, aliceOpening - 500},
		{"abort", func(ctx context.Context, c strifev1.BankServiceClient, id ulid.ULID) error {
			_, err := c.Abort(ctx, &strifev1.AbortRequest{TransactionId: id.String(), Attempt: 1})
			return err
		}, aliceOpening},
	}
	pki := banktest.NewPKI(t)
	pki.Files(t, certs.RoleBank, bankName) // before the subtests issue it concurrently
	pki.Files(t, certs.RoleGateway, "gateway-1")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dataDir := banktest.DataDir(t)
			bank := startBank(t, pki, bankFlags{DataDir: dataDir, Seed: seedPath(t), InDoubtTimeout: timeout})
			c := bank.Client()
			id := ulid.Make()
			prepareYes(t, c, id, 1, debit(alice, 500))

			time.Sleep(3 * timeout)
			waitFor(t, 5*time.Second, "past the in-doubt timeout", func() bool {
				return bank.Count("no decision within the in-doubt timeout; asking the coordinator", "transaction_id", id.String()) > 0
			})
			account := getAccount(t, c, alice)
			require.Equal(t, int64(500), account.GetHeld(), "still in doubt")
			require.Equal(t, int64(aliceOpening), account.GetPostedBalance())

			require.NoError(t, tc.decide(callContext(t), c, id))
			account = getAccount(t, c, alice)
			require.Zero(t, account.GetHeld())
			require.Equal(t, tc.posted, account.GetPostedBalance())
			require.Equal(t, tc.posted, account.GetAvailableBalance())

			t.Run("and the bank stops asking about it", func(t *testing.T) {
				// One question may have been on its way as the decision came.
				asked := func() int {
					return bank.Count("cannot resolve in-doubt attempt yet", "transaction_id", id.String())
				}
				before := asked()
				for range 30 {
					time.Sleep(100 * time.Millisecond)
					require.LessOrEqual(t, asked(), before+1, "the bank still asks about an attempt it has settled")
				}
			})

			require.Zero(t, bank.Stop())
			requireVerified(t, dataDir)
		})
	}
}
