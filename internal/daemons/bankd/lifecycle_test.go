package bankd_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/ledger"
)

func TestSIGTERMDrainsAndExitsCleanly(t *testing.T) {
	pki := banktest.NewPKI(t)
	dataDir := banktest.DataDir(t)
	bank := startBank(t, pki, bankFlags{DataDir: dataDir, Seed: seedPath(t), InDoubtTimeout: 100 * time.Millisecond})
	c := bank.Client()

	// An attempt in doubt whose resolver keeps retrying, since there is no
	// coordinator to ask: stopping must not wait for it.
	inDoubt := ulid.Make()
	prepareYes(t, c, inDoubt, 1, debit(bob, 700))
	waitFor(t, 5*time.Second, "asking about the attempt in doubt", func() bool {
		return bank.Count("cannot resolve in-doubt attempt yet", "transaction_id", inDoubt.String()) > 0
	})

	// Payments keep coming while the bank drains: each call completes or is
	// refused as UNAVAILABLE.
	load := startPayLoad(t, c, 2)
	load.waitAcked(t, 20)
	require.Zero(t, bank.Stop(), "exit code")
	load.wait(t)
	require.Equal(t, 1, bank.Count("draining"))
	require.Equal(t, 1, bank.Count("bank stopped"))

	l := openLedger(t, dataDir)
	require.NoError(t, l.Verify())
	posted := load.outcome(t, ledgerEntries(t, l, alice))
	require.Equal(t, aliceOpening-int64(len(posted)), ledgerAccount(t, l, alice).Balance)
	require.Equal(t, int64(700), ledgerAccount(t, l, bob).Held, "the attempt in doubt keeps its hold")
}

func TestSIGKILLLosesNothingAcknowledged(t *testing.T) {
	pki := banktest.NewPKI(t)
	dataDir := banktest.DataDir(t)
	bank := startBank(t, pki, bankFlags{DataDir: dataDir, Seed: seedPath(t)})

	load := startPayLoad(t, bank.Client(), 8)
	load.waitAcked(t, 300)
	t.Logf("SIGKILL with %d payments in flight", load.inFlight.Load())
	bank.Kill()
	load.wait(t)
	acked := load.acked.Load()

	restarted := startBank(t, pki, bankFlags{DataDir: dataDir})
	c := restarted.Client()
	posted := load.outcome(t, listEntries(t, c, alice))
	account := getAccount(t, c, alice)
	require.Equal(t, aliceOpening-int64(len(posted)), account.GetPostedBalance())
	require.LessOrEqual(t, account.GetPostedBalance(), aliceOpening-acked)
	mustHold, mayHold := load.undecided(posted)
	require.GreaterOrEqual(t, account.GetHeld(), int64(len(mustHold)), "every YES vote without a commit keeps its hold")
	require.LessOrEqual(t, account.GetHeld(), int64(len(mayHold)))
	t.Logf("%d acknowledged, %d posted, %d held", acked, len(posted), account.GetHeld())
	require.Zero(t, restarted.Stop())

	l := openLedger(t, dataDir)
	require.NoError(t, l.Verify())
	holds := ledgerHolds(t, l)
	require.Len(t, holds, int(account.GetHeld()), "one hold of 1 per attempt in doubt")
	held := map[ulid.ULID]bool{}
	for _, h := range holds {
		require.True(t, mayHold[h.TxID], "hold of %s, which was posted or never sent", h.TxID)
		require.Equal(t, ledger.Hold{TxID: h.TxID, Attempt: 1, Number: alice, Direction: ledger.Debit, Amount: 1}, h)
		held[h.TxID] = true
	}
	for id := range mustHold {
		require.True(t, held[id], "attempt %s voted YES and has no hold", id)
	}
}

func TestSecondBankOnTheSameDataDirIsRefused(t *testing.T) {
	pki := banktest.NewPKI(t)
	dataDir := banktest.DataDir(t)
	first := startBank(t, pki, bankFlags{DataDir: dataDir, Seed: seedPath(t)})

	second := launchBank(t, pki, bankFlags{DataDir: dataDir})
	require.NotZero(t, second.Wait(), "exit code")
	stderr := second.Logs()
	require.NotContains(t, stderr, "panic:", "a locked file is an error, not a crash")
	require.Contains(t, stderr, filepath.Join(dataDir, bankName+".db"), "the error names the file")
	require.Zero(t, second.Count("bank serving"))

	require.Equal(t, int64(aliceOpening), getAccount(t, first.Client(), alice).GetPostedBalance(), "the first bank still serves")
	require.Zero(t, first.Stop())
}
