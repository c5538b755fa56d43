package coordinator_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/coordinator"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

func TestBankThatNeverAnswersPrepareAbortsTheAttemptOnBothEnds(t *testing.T) {
	w := newWorld(t, coordinator.Config{PrepareTimeout: 300 * time.Millisecond})
	bankB := w.gate("BankB")
	bankB.set(coordinator.KindPrepare, 0, holdBefore) // never released
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)

	start := time.Now()
	p, _ := w.payID(t, id, params)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "the coordinator waited for the vote")
	require.Equal(t, coordinator.Failed, p.Status)
	require.Equal(t, strifev1.Reason_REASON_PREPARE_TIMEOUT, p.Reason)

	require.Eventually(t, func() bool { return bankB.acked(coordinator.KindAbort, 1) > 0 }, 10*time.Second, 10*time.Millisecond, "BankB told to abort attempt 1")
	w.requireAllOrNothing(t, id, params) // BankA's hold is released

	// The Prepare that never arrived cannot make the payment go through at
	// BankB either: when it does arrive, BankB votes NO.
	resp, err := w.clients["BankB"].Prepare(context.Background(), &strifev1.PrepareRequest{
		TransactionId: id.String(), Attempt: 1,
		Legs: []*strifev1.Leg{{Account: "2001", Direction: strifev1.Direction_DIRECTION_CREDIT, Amount: 100, Counterparty: "BankA/1001"}},
	})
	require.NoError(t, err)
	require.Equal(t, strifev1.Vote_VOTE_NO, resp.GetVote())
}

func TestGetDecision(t *testing.T) {
	w := newWorld(t, coordinator.Config{PrepareTimeout: 5 * time.Second, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	decisions := strifev1.NewCoordinatorServiceClient(w.pki.Dial(t, w.serveDecisions(t, "127.0.0.1:0"), certs.RoleBank, "BankA"))
	ask := func(id ulid.ULID, attempt uint32) strifev1.Decision {
		t.Helper()
		resp, err := decisions.GetDecision(context.Background(), &strifev1.GetDecisionRequest{TransactionId: id.String(), Attempt: attempt})
		require.NoError(t, err)
		return resp.GetDecision()
	}

	t.Run("committed", func(t *testing.T) {
		id := ulid.Make()
		p, _ := w.payID(t, id, pay("BankA/1001", "BankB/2001", 100))
		require.Equal(t, coordinator.Committed, p.Status)
		require.Equal(t, strifev1.Decision_DECISION_COMMIT, ask(id, 1))
		require.Equal(t, strifev1.Decision_DECISION_ABORT, ask(id, 2), "an attempt never begun")
	})
	t.Run("a bank that is not a participant", func(t *testing.T) {
		outsider := strifev1.NewCoordinatorServiceClient(w.pki.Dial(t, w.serveDecisions(t, "127.0.0.1:0"), certs.RoleBank, "BankC"))
		bankB := w.gate("BankB")
		bankB.set(coordinator.KindPrepare, 1, holdAfter) // the attempt is still collecting votes
		id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
		paid := w.payInBackground(t, id, params)
		vote := bankB.await(t, coordinator.KindPrepare, 1)

		_, err := outsider.GetDecision(context.Background(), &strifev1.GetDecisionRequest{TransactionId: id.String(), Attempt: 1})
		require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)

		vote.let()
		p := <-paid
		require.Equal(t, coordinator.Committed, p.Status, "the outsider's question aborted nothing")
		require.Equal(t, uint32(1), p.Attempt)
		bankB.open()
	})
	t.Run("unknown payment", func(t *testing.T) {
		require.Equal(t, strifev1.Decision_DECISION_ABORT, ask(ulid.Make(), 1))
	})
	t.Run("malformed", func(t *testing.T) {
		for _, req := range []*strifev1.GetDecisionRequest{
			{TransactionId: "not-a-ulid", Attempt: 1},
			{TransactionId: ulid.Make().String(), Attempt: 0},
		} {
			_, err := decisions.GetDecision(context.Background(), req)
			require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", req)
		}
	})
	t.Run("still collecting votes", func(t *testing.T) {
		bankB := w.gate("BankB")
		bankB.set(coordinator.KindPrepare, 1, holdAfter) // BankB votes YES; the vote is held
		id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
		paid := w.payInBackground(t, id, params)
		vote := bankB.await(t, coordinator.KindPrepare, 1)

		require.Equal(t, strifev1.Decision_DECISION_ABORT, ask(id, 1))
		p, err := w.c.Get(id)
		require.NoError(t, err)
		require.Equal(t, coordinator.Pending, p.Status)
		require.Equal(t, coordinator.DecisionAbort, p.Decision, "ABORT is recorded before the answer")

		vote.let() // the YES arrives too late
		require.Equal(t, coordinator.Pending, (<-paid).Status)
		require.Equal(t, strifev1.Decision_DECISION_ABORT, ask(id, 1))

		p = w.requireAllOrNothingAmong(t, id, params)
		require.Equal(t, coordinator.Committed, p.Status)
		require.Equal(t, uint32(2), p.Attempt, "committed by a new attempt")
		require.Equal(t, 1, bankB.acked(coordinator.KindAbort, 1), "BankB's YES for attempt 1 was aborted")
		require.Equal(t, strifev1.Decision_DECISION_COMMIT, ask(id, 2))
	})
}

// requireAllOrNothingAmong is requireAllOrNothing for a world that made
// other payments before: it checks entries, holds and the retry, not the
// balances.
func (w *world) requireAllOrNothingAmong(t *testing.T, id ulid.ULID, params coordinator.Params) coordinator.Payment {
	t.Helper()
	var p coordinator.Payment
	require.Eventually(t, func() bool {
		var err error
		p, err = w.c.Get(id)
		return err == nil && p.Final() && p.Ended
	}, 10*time.Second, 20*time.Millisecond, "payment final and its decision acknowledged")
	w.settled(t)
	for account, amount := range map[string]int64{params.From: -params.Amount, params.To: params.Amount} {
		entries := w.entries(t, account, id)
		if p.Status == coordinator.Failed {
			require.Empty(t, entries, account)
			continue
		}
		require.Len(t, entries, 1, account)
		require.Equal(t, amount, entries[0].GetAmount(), account)
		require.Equal(t, p.Attempt, entries[0].GetAttempt(), account)
	}
	again, retry := w.payID(t, id, params)
	require.True(t, retry)
	require.Equal(t, asStored(p), asStored(again))
	return p
}

// The acknowledgement of an older attempt's Abort, arriving while a newer
// attempt's Commits are being acknowledged, must not make the coordinator
// forget the acks it has: the newer attempt still ends.
func TestLateAckOfAnAbortedAttemptDoesNotKeepTheNextFromEnding(t *testing.T) {
	w := newWorld(t, coordinator.Config{PrepareTimeout: 5 * time.Second, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	bankA, bankB := w.gate("BankA"), w.gate("BankB")
	bankB.set(coordinator.KindPrepare, 1, fail)      // attempt 1 cannot reach BankB…
	bankB.set(coordinator.KindAbort, 1, holdBefore)  // …nor, for a while, its Abort
	bankB.set(coordinator.KindCommit, 2, holdBefore) // attempt 2 commits; BankB's Commit waits
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)

	p, _ := w.payID(t, id, params)
	require.Equal(t, coordinator.Pending, p.Status)
	abort1 := bankB.await(t, coordinator.KindAbort, 1)
	commit2 := bankB.await(t, coordinator.KindCommit, 2)
	require.Eventually(t, func() bool { return bankA.acked(coordinator.KindCommit, 2) == 1 }, 10*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // the coordinator takes BankA's ack

	abort1.let()
	require.Eventually(t, func() bool { return bankB.acked(coordinator.KindAbort, 1) == 1 }, 10*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // the coordinator takes BankB's late ack of attempt 1
	commit2.let()

	require.Eventually(t, func() bool {
		p, err := w.c.Get(id)
		return err == nil && p.Attempt == 2 && p.Ended
	}, 5*time.Second, 20*time.Millisecond, "both banks acknowledged attempt 2's Commit, so it ends (END is written)")
	w.requireAllOrNothing(t, id, params)
}

// Pay answers COMMITTED at the implicit commit: once the staged attempt is
// durable and every bank has voted YES. It waits neither for the decision's
// record nor for any Commit: until the banks apply them, the money shows as
// held at the payer's bank and as a pending credit at the payee's, and the
// payment is not settled.
func TestTheAnswerIsTheImplicitCommit(t *testing.T) {
	w := newWorld(t, coordinator.Config{PrepareTimeout: 30 * time.Second})
	bankA, bankB := w.gate("BankA"), w.gate("BankB")
	bankA.set(coordinator.KindCommit, 0, holdBefore)
	bankB.set(coordinator.KindCommit, 0, holdBefore)
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
	paid := w.payInBackground(t, id, params)

	select {
	case p := <-paid:
		require.Equal(t, coordinator.Committed, p.Status)
		require.True(t, p.Settled.IsZero(), "not settled")
	case <-time.After(5 * time.Second): // before payInBackground's 10s, when Pay answers anyway
		require.Fail(t, "the answer waited for the Commits")
	}
	commitA, commitB := bankA.await(t, coordinator.KindCommit, 1), bankB.await(t, coordinator.KindCommit, 1)
	payer, payee := w.account(t, "BankA/1001"), w.account(t, "BankB/2001")
	require.Equal(t, []int64{1000, 100, 900}, []int64{payer.GetPostedBalance(), payer.GetHeld(), payer.GetAvailableBalance()}, "held at the payer's bank")
	require.Equal(t, []int64{500, 100}, []int64{payee.GetPostedBalance(), payee.GetPendingCredits()}, "pending at the payee's")

	commitA.let()
	commitB.let()
	p := w.requireAllOrNothing(t, id, params)
	require.False(t, p.Settled.IsZero(), "settled once both banks applied it")
	require.False(t, p.Settled.Before(p.Updated))
}

// A payment costs the gateway one commit of its own: the acceptance, with
// its first attempt staged. Its decision and its END are persisted lazily:
// they ride with the log's next commit (here, the next payment's
// acceptance) or its Close, and the Commits wait for the decision's.
func TestAPaymentCostsTheGatewayOneCommitOfItsOwn(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	w.payID(t, ulid.Make(), pay("BankA/1001", "BankB/2001", 1)) // the payments bucket exists
	w.stop(t)
	w.cfg.DecisionLinger, w.cfg.EndLinger = time.Hour, time.Hour // only another commit, or Close, carries them
	w.start(t)
	before := w.lastCommit(t)
	first := ulid.Make()
	p, _ := w.payID(t, first, pay("BankA/1001", "BankB/2001", 250))
	require.Equal(t, coordinator.Committed, p.Status)
	require.Equal(t, before+1, w.lastCommit(t), "one commit: the acceptance with the staged attempt")
	require.Empty(t, w.entries(t, "BankA/1001", first), "no Commit before the decision is durable")

	p, _ = w.payID(t, ulid.Make(), pay("BankA/1001", "BankB/2001", 50))
	require.Equal(t, coordinator.Committed, p.Status)
	require.Eventually(t, func() bool {
		return len(w.entries(t, "BankA/1001", first)) == 1 && len(w.entries(t, "BankB/2001", first)) == 1
	}, 10*time.Second, 10*time.Millisecond, "the second acceptance carried the first decision, and the Commits went")
	require.Equal(t, before+2, w.lastCommit(t), "one commit each")
	// The banks' entries show they applied the Commits, not that their
	// answers are back: Close cancels the calls still in flight, and an
	// answer it cancels is never heard (a restart sends the Commit again).
	// Once both are heard, the attempt has ended, its END queued.
	require.Eventually(t, func() bool {
		got, err := w.c.Get(first)
		return err == nil && got.Ended
	}, 10*time.Second, 10*time.Millisecond, "both Commits acknowledged")
	require.Equal(t, before+2, w.lastCommit(t), "the END waits in the queue")

	w.c.Close()
	require.NoError(t, w.log.Close()) // commits what is queued: the first END, the second decision
	w.start(t)
	stored, err := w.c.Get(first)
	require.NoError(t, err)
	require.True(t, stored.Ended, "the log's Close committed END")
	require.False(t, stored.Settled.IsZero())
}

// A bank that refuses the request itself (here: a credit that would
// overflow the payee's balance) fails the payment with REJECTED, and the
// other bank's hold is released.
func TestCreditThatWouldOverflowIsRejected(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	_, err := w.clients["BankA"].OpenAccount(context.Background(), &strifev1.OpenAccountRequest{Number: "1003", Owner: "owner-1003", OpeningBalance: math.MaxInt64})
	require.NoError(t, err)
	id, params := ulid.Make(), pay("BankA/1003", "BankB/2001", math.MaxInt64)

	p, _ := w.payID(t, id, params)
	require.Equal(t, coordinator.Failed, p.Status)
	require.Equal(t, strifev1.Reason_REASON_REJECTED, p.Reason)
	w.requireAllOrNothingAmong(t, id, params)
	acct := w.account(t, "BankA/1003")
	require.Equal(t, int64(math.MaxInt64), acct.GetPostedBalance())
	require.Zero(t, acct.GetHeld(), "BankA's hold released")
}
