package coordinator_test

import (
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/testkit/logtest"
	"github.com/strife-pay/strife/participant"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
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
	require.Equal(t, []wal.Type{coordinator.TypePaymentAccepted}, w.records(t, id, 0))
	w.start(t)
	p, retry := w.payID(t, id, params)
	require.True(t, retry)
	require.Equal(t, coordinator.Pending, p.Status, "still held after the restart")

	w.dir.setDown("BankB", false)
	p = w.requireAllOrNothing(t, id, params)
	require.Equal(t, coordinator.Committed, p.Status)
}

// The first attempt of a payment is staged (ATTEMPT_STAGED) in the
// acceptance's transaction while its Prepares are out. A crash after that
// record is durable, before the votes are in, leaves an attempt that may
// have committed for all the log says: after the restart each bank is
// asked (status resolution). BankA holds a YES; BankB holds one only if its
// Prepare got there. The outcome follows what the banks hold.
func TestCrashAfterTheStagingRecordBeforeTheVotes(t *testing.T) {
	cases := []struct {
		name      string
		bankB     mode
		committed string // by which attempt
	}{
		{"BankB's Prepare on its way", holdBefore, "a new attempt, after the resolution aborted the first"},
		{"BankB's YES on its way", holdAfter, "the first attempt, resolved"},
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
			require.Equal(t, coordinator.Pending, (<-paid).Status, "no answer but PENDING before the votes")
			require.Equal(t, []wal.Type{coordinator.TypePaymentAccepted}, w.records(t, id, 1), "attempt 1 staged (by PAYMENT_ACCEPTED, which stages the first attempt), undecided")
			bankB.open()
			w.start(t)

			p := w.requireAllOrNothing(t, id, params)
			require.Equal(t, coordinator.Committed, p.Status)
			require.Equal(t, 1, bankA.acked(coordinator.KindResolve, 1), "BankA asked")
			require.Equal(t, 1, bankB.acked(coordinator.KindResolve, 1), "BankB asked")
			if tc.bankB == holdBefore {
				require.Equal(t, uint32(2), p.Attempts, tc.committed)
				require.Equal(t, uint32(1<<coordinator.EpochBits+1), p.Attempt, "numbered in the restart's epoch")
				require.Equal(t, 1, bankA.acked(coordinator.KindAbort, 1), "BankA's hold of attempt 1 released")
				requireResolved(t, w, id, 1, coordinator.TypeDecisionAbort)
				return
			}
			require.Equal(t, uint32(1), p.Attempt, tc.committed)
			require.Zero(t, bankA.acked(coordinator.KindAbort, 1))
			requireResolved(t, w, id, 1, coordinator.TypeDecisionCommit)
		})
	}
}

// requireResolved requires that the stopped-or-running coordinator's log
// decided attempt of id by status resolution, with typ.
func requireResolved(t *testing.T, w *world, id ulid.ULID, attempt uint32, typ wal.Type) {
	t.Helper()
	w.stop(t)
	defer w.start(t)
	log, err := wal.Open(w.logPath, wal.Options{})
	require.NoError(t, err)
	defer log.Close()
	require.NoError(t, log.View(func(tx *wal.Tx) error {
		recs, err := logtest.Records(tx, id, attempt)
		require.NoError(t, err)
		for _, r := range recs {
			if r.Type == coordinator.TypeDecisionCommit || r.Type == coordinator.TypeDecisionAbort {
				require.Equal(t, typ, r.Type)
				rec, _, err := coordinator.DecodeRecord(r)
				require.NoError(t, err)
				require.True(t, rec.Payload.(*storagev1.Decided).GetResolved(), "decided by resolution")
				return nil
			}
		}
		t.Fatalf("attempt %d of %s has no decision", attempt, id)
		return nil
	}))
}

// Every vote is in and YES, so the payment is COMMITTED and answered so,
// but its DECISION_COMMIT is persisted lazily and the crash comes before
// the log's next commit. The attempt committed all the same: after the
// restart, resolution finds both YES votes and records COMMIT.
func TestCrashAfterTheImplicitCommitBeforeItsRecord(t *testing.T) {
	w := newWorld(t, crashConfig)
	w.stop(t)
	w.cfg.DecisionLinger = time.Hour // only another commit would carry the decision
	w.start(t)
	bankA, bankB := w.gate("BankA"), w.gate("BankB")
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)

	p, _ := w.payID(t, id, params)
	require.Equal(t, coordinator.Committed, p.Status, "answered at the implicit commit")
	require.True(t, p.Settled.IsZero(), "not settled: no Commit leaves before the decision is durable")
	attempt := p.Attempt // of the restart's epoch
	w.kill(t)
	require.Equal(t, []wal.Type{coordinator.TypePaymentAccepted}, w.records(t, id, attempt), "the decision was lost")
	require.Zero(t, bankA.acked(coordinator.KindCommit, 0)+bankB.acked(coordinator.KindCommit, 0), "no Commit was sent")

	w.cfg.DecisionLinger = 0
	w.start(t)
	p = w.requireAllOrNothing(t, id, params)
	require.Equal(t, coordinator.Committed, p.Status)
	require.Equal(t, attempt, p.Attempt)
	requireResolved(t, w, id, attempt, coordinator.TypeDecisionCommit)
}

// A crash while the Resolves are out: the next restart resolves again, and
// the answers, which the banks keep, are the same.
func TestCrashDuringStatusResolution(t *testing.T) {
	w := newWorld(t, crashConfig)
	w.stop(t)
	w.cfg.DecisionLinger = time.Hour
	w.start(t)
	bankB := w.gate("BankB")
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
	p, _ := w.payID(t, id, params)
	require.Equal(t, coordinator.Committed, p.Status)
	attempt := p.Attempt
	w.kill(t)

	bankB.set(coordinator.KindResolve, attempt, holdBefore)
	w.start(t)
	bankB.await(t, coordinator.KindResolve, attempt)
	w.kill(t)
	require.Equal(t, []wal.Type{coordinator.TypePaymentAccepted}, w.records(t, id, attempt), "still undecided")

	bankB.open()
	w.cfg.DecisionLinger = 0
	w.start(t)
	p = w.requireAllOrNothing(t, id, params)
	require.Equal(t, coordinator.Committed, p.Status)
	requireResolved(t, w, id, attempt, coordinator.TypeDecisionCommit)
}

// The Prepares leave while the acceptance and its staged attempt commit. A
// crash before that commit leaves banks holding YES votes for an attempt
// the gateway never recorded: they learn ABORT when they ask (presumed
// abort: it was never staged, so it cannot have committed), and the
// client's retry, accepted afresh, takes an attempt number of the restart's
// epoch, which no bank has seen.
func TestCrashWithTheVotesBeforeTheStagingRecord(t *testing.T) {
	w := newWorld(t, crashConfig)
	gatewayAddr := freeAddr(t)
	cfg := w.pki.Config(t, "BankC", banktest.DataDir(t))
	cfg.CoordinatorAddr = gatewayAddr
	cfg.Participant = participant.Config{InDoubtTimeout: 100 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond}
	w.startBank(t, cfg, map[string]int64{"3001": 300})
	bankB, bankC := w.gate("BankB"), w.gate("BankC")
	id, params := ulid.Make(), pay("BankC/3001", "BankB/2001", 100)

	// Hold the log: the staging commit waits while the Prepares go.
	release, held := holdLog(t, w.log)
	paid := w.payInBackground(t, id, params)
	require.Eventually(t, func() bool {
		return bankB.acked(coordinator.KindPrepare, 1) == 1 && bankC.acked(coordinator.KindPrepare, 1) == 1
	}, 10*time.Second, 5*time.Millisecond, "both banks voted")
	image, err := os.ReadFile(w.logPath) // what is durable: nothing of the payment
	require.NoError(t, err)
	release()
	require.NoError(t, <-held)
	<-paid
	w.stop(t)
	require.NoError(t, os.WriteFile(w.logPath, image, 0o600))
	require.Equal(t, int64(100), w.account(t, "BankC/3001").GetHeld(), "BankC holds its YES")

	w.start(t)
	w.serveDecisions(t, gatewayAddr)
	_, err = w.c.Get(id)
	require.ErrorIs(t, err, coordinator.ErrNotFound, "the gateway never recorded the payment")
	require.Eventually(t, func() bool { return w.account(t, "BankC/3001").GetHeld() == 0 }, 10*time.Second, 20*time.Millisecond,
		"BankC asked and aborted the orphan attempt")

	p, retry := w.payID(t, id, params)
	require.False(t, retry, "accepted afresh")
	require.Equal(t, coordinator.Committed, p.Status)
	require.Equal(t, uint32(1<<coordinator.EpochBits+1), p.Attempt, "a number no bank has seen")
	require.Eventually(t, func() bool {
		p, err := w.c.Get(id)
		return err == nil && p.Ended
	}, 10*time.Second, 20*time.Millisecond)
	require.Len(t, w.entries(t, "BankC/3001", id), 1, "committed once")
	require.Len(t, w.entries(t, "BankB/2001", id), 1, "committed once")
	require.Equal(t, int64(200), w.account(t, "BankC/3001").GetPostedBalance())
	require.Zero(t, w.account(t, "BankC/3001").GetHeld())
}

// holdLog starts an Append that holds the log until release: every commit
// after it waits. The Append's result comes on held.
func holdLog(t *testing.T, log *wal.Log) (release func(), held <-chan error) {
	inside, released := make(chan struct{}), make(chan struct{})
	release = sync.OnceFunc(func() { close(released) })
	t.Cleanup(release)
	done := make(chan error, 1)
	go func() {
		done <- log.Append(func(*wal.Tx) error {
			close(inside)
			<-released
			return nil
		})
	}()
	<-inside
	return release, done
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
	require.Equal(t, coordinator.DecisionCommit, p.Decision)
	require.Equal(t, int64(1000), w.account(t, "BankA/1001").GetPostedBalance(), "no Commit delivered")
	require.Equal(t, int64(500), w.account(t, "BankB/2001").GetPostedBalance(), "no Commit delivered")

	w.kill(t)
	require.Equal(t, coordinator.Committed, (<-paid).Status)
	require.Equal(t, []wal.Type{coordinator.TypePaymentAccepted, coordinator.TypeDecisionCommit}, w.records(t, id, 1), "the decision is durable before any Commit is sent")
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
	require.Equal(t, []wal.Type{coordinator.TypePaymentAccepted, coordinator.TypeDecisionCommit}, w.records(t, id, 1), "decided, not ended")
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
		p.Round = coordinator.Round{} // the coordinator's memory, not the projection
		got = append(got, p)
	}
	for _, user := range []string{"alice", "bob"} {
		list, _, err := w.c.List(user, nil, 10)
		require.NoError(t, err)
		for i := range list {
			list[i].Round = coordinator.Round{}
		}
		got = append(got, list)
	}
	return got
}
