package coordinator_test

import (
	"errors"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/wal"
)

// The crash points of a payment of 100 from BankA/1001 to BankB/2001. Each
// test stops the coordinator at one point with kill (only what its log
// holds at that instant survives), starts it again from the log, and checks
// with requireAllOrNothing that the payment is committed on both banks or
// on neither, that its stored status says which, and that a client's retry
// gets that status.

var crashConfig = coordinator.Config{PrepareTimeout: 5 * time.Second, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond}

func TestCrashAfterAccepting(t *testing.T) {
	w := newWorld(t, crashConfig)
	w.dir.setDown("BankB", true)
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
	p, _ := w.payID(t, id, params)
	require.Equal(t, coordinator.Pending, p.Status)
	require.Zero(t, p.Attempt, "no attempt while BankB is down")

	w.kill(t)
	require.Equal(t, []wal.Type{wal.TypePaymentAccepted}, w.records(t, id, 0))
	w.start(t)
	p, retry := w.payID(t, id, params)
	require.True(t, retry)
	require.Equal(t, coordinator.Pending, p.Status, "still held after the restart")

	w.dir.setDown("BankB", false)
	p = w.requireAllOrNothing(t, id, params)
	require.Equal(t, coordinator.Committed, p.Status)
}

func TestCrashAfterAYesVote(t *testing.T) {
	cases := []struct {
		name  string
		bankB mode
	}{
		{"BankB's Prepare on its way", holdBefore},
		{"BankB's YES on its way", holdAfter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, crashConfig)
			bankA, bankB := w.gate("BankA"), w.gate("BankB")
			bankB.set(coordinator.KindPrepare, 1, tc.bankB)
			id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
			paid := w.payInBackground(t, id, params)
			bankB.await(t, coordinator.KindPrepare, 1)
			require.Eventually(t, func() bool { return bankA.acked(coordinator.KindPrepare, 1) == 1 }, 10*time.Second, 5*time.Millisecond)
			require.Equal(t, int64(100), w.account(t, "BankA/1001").GetHeld(), "BankA voted YES")

			w.kill(t)
			<-paid
			require.Equal(t, []wal.Type{wal.TypeAttemptBegun}, w.records(t, id, 1), "attempt 1 undecided")
			bankB.open()
			w.start(t)

			p := w.requireAllOrNothing(t, id, params)
			require.Equal(t, coordinator.Committed, p.Status)
			require.Equal(t, uint32(2), p.Attempt, "the undecided attempt 1 was aborted; attempt 2 committed")
			require.Equal(t, 1, bankA.acked(coordinator.KindAbort, 1), "BankA's hold of attempt 1 released")
			require.Equal(t, 1, bankB.acked(coordinator.KindAbort, 1))
		})
	}
}

func TestCrashAfterTheCommitDecision(t *testing.T) {
	w := newWorld(t, crashConfig)
	bankA, bankB := w.gate("BankA"), w.gate("BankB")
	bankA.set(coordinator.KindCommit, 1, holdBefore)
	bankB.set(coordinator.KindCommit, 1, holdBefore)
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
	paid := w.payInBackground(t, id, params)
	bankA.await(t, coordinator.KindCommit, 1)
	bankB.await(t, coordinator.KindCommit, 1)
	p, err := w.c.Get(id)
	require.NoError(t, err)
	require.Equal(t, coordinator.DecisionCommit, p.Decision, "the decision is durable before any Commit is sent")
	require.Equal(t, int64(1000), w.account(t, "BankA/1001").GetPostedBalance(), "no Commit delivered")
	require.Equal(t, int64(500), w.account(t, "BankB/2001").GetPostedBalance(), "no Commit delivered")

	w.kill(t)
	require.Equal(t, coordinator.Committed, (<-paid).Status)
	require.Equal(t, []wal.Type{wal.TypeAttemptBegun, wal.TypeDecisionCommit}, w.records(t, id, 1), "decided, not ended")
	bankA.open()
	bankB.open()
	w.start(t)

	p = w.requireAllOrNothing(t, id, params)
	require.Equal(t, coordinator.Committed, p.Status)
	require.Equal(t, 1, bankA.acked(coordinator.KindCommit, 1), "resent after the restart")
	require.Equal(t, 1, bankB.acked(coordinator.KindCommit, 1), "resent after the restart")
}

func TestCrashAfterOneCommitIsAcknowledged(t *testing.T) {
	w := newWorld(t, crashConfig)
	bankA, bankB := w.gate("BankA"), w.gate("BankB")
	bankB.set(coordinator.KindCommit, 1, holdBefore)
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
	paid := w.payInBackground(t, id, params)
	bankB.await(t, coordinator.KindCommit, 1)
	require.Eventually(t, func() bool { return bankA.acked(coordinator.KindCommit, 1) == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(900), w.account(t, "BankA/1001").GetPostedBalance(), "BankA committed")
	require.Equal(t, int64(500), w.account(t, "BankB/2001").GetPostedBalance(), "BankB did not")

	w.kill(t)
	require.Equal(t, coordinator.Committed, (<-paid).Status)
	require.Equal(t, []wal.Type{wal.TypeAttemptBegun, wal.TypeDecisionCommit}, w.records(t, id, 1), "decided, not ended")
	bankB.open()
	w.start(t)

	p := w.requireAllOrNothing(t, id, params)
	require.Equal(t, coordinator.Committed, p.Status)
	require.Equal(t, 2, bankA.acked(coordinator.KindCommit, 1), "BankA's repeated Commit is acknowledged")
	require.Equal(t, 1, bankB.acked(coordinator.KindCommit, 1))
}

// Replay rebuilds the projection from the log alone as the coordinator
// keeps it live: each payment, with the times its records tell, and the
// payer's and payee's listings.
func TestReplayRebuildsTheLiveProjection(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	var ids []ulid.ULID
	for _, amount := range []int64{100, 5000} { // committed; failed for want of funds
		id := ulid.Make()
		w.payID(t, id, pay("BankA/1001", "BankB/2001", amount))
		require.Eventually(t, func() bool {
			p, err := w.c.Get(id)
			return err == nil && p.Ended
		}, 5*time.Second, 10*time.Millisecond)
		ids = append(ids, id)
	}
	live := w.projection(t, ids)
	w.stop(t)

	log, err := wal.Open(w.logPath, wal.Options{})
	require.NoError(t, err)
	require.NoError(t, log.Append(func(tx *wal.Tx) error {
		return errors.Join(tx.DeleteBucket("payments"), tx.DeleteBucket("user_payments"))
	}))
	require.NoError(t, coordinator.Replay(log))
	require.NoError(t, log.Close())
	w.start(t)
	require.Equal(t, live, w.projection(t, ids))
}

// projection is what the coordinator tells of the payments ids and of
// their payer's and payee's listings.
func (w *world) projection(t *testing.T, ids []ulid.ULID) (got []any) {
	for _, id := range ids {
		p, err := w.c.Get(id)
		require.NoError(t, err)
		got = append(got, p)
	}
	for _, user := range []string{"alice", "bob"} {
		list, _, err := w.c.List(user, nil, 10)
		require.NoError(t, err)
		got = append(got, list)
	}
	return got
}
