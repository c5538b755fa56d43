package wal_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

// openLingering opens a log whose AppendLaters wait linger for company.
func openLingering(t *testing.T, path string, opts wal.Options) *wal.Log {
	t.Helper()
	l, err := wal.Open(path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// reports collects what AppendLater reports.
func reports() (report func(error), reported chan error) {
	reported = make(chan error, 16)
	return func(err error) { reported <- err }, reported
}

// txOf returns the ID of the bbolt transaction tx is part of.
func txOf(t *testing.T, tx *wal.Tx) int {
	b, err := tx.Bucket("probe")
	require.NoError(t, err)
	return b.Tx().ID()
}

// An AppendLater makes no commit of its own while an Append comes within
// the linger: it rides in that Append's transaction, ahead of it.
func TestAppendLaterRidesWithTheNextAppend(t *testing.T) {
	l := openLingering(t, filepath.Join(t.TempDir(), "wal.db"), wal.Options{Linger: time.Hour})
	report, reported := reports()
	var laterTx, appendTx int
	l.AppendLater(func(tx *wal.Tx) error {
		laterTx = txOf(t, tx)
		return deposit(tx)
	}, report)
	require.Never(t, func() bool { return len(reported) > 0 }, 50*time.Millisecond, time.Millisecond,
		"an AppendLater alone waits for the linger")

	require.NoError(t, l.Append(func(tx *wal.Tx) error {
		appendTx = txOf(t, tx)
		_, err := tx.Append(wal.Record{Type: ledger.TypeDeposited})
		return err
	}))
	require.NoError(t, recv(t, reported))
	require.Equal(t, laterTx, appendTx, "one transaction for both")
	recs := scanAll(t, l)
	require.Len(t, recs, 2)
	require.Equal(t, ledger.TypeDeposited, recs[0].Type, "the AppendLater first: it was queued first")
}

// Alone, an AppendLater is committed once the linger has passed.
func TestAppendLaterAloneIsCommittedAfterTheLinger(t *testing.T) {
	const linger = 20 * time.Millisecond
	l := openLingering(t, filepath.Join(t.TempDir(), "wal.db"), wal.Options{Linger: linger})
	report, reported := reports()
	queued := time.Now()
	l.AppendLater(deposit, report)
	require.NoError(t, recv(t, reported))
	require.GreaterOrEqual(t, time.Since(queued), linger)
	require.Len(t, scanAll(t, l), 1)
}

// An Append behind more AppendLaters than a batch holds commits them all,
// in batches of MaxBatch, before its own.
func TestAppendCommitsTheAppendLatersQueuedBeforeIt(t *testing.T) {
	l := openLingering(t, filepath.Join(t.TempDir(), "wal.db"), wal.Options{MaxBatch: 2, Linger: time.Hour})
	report, reported := reports()
	txs := make([]int, 3)
	for i := range txs {
		l.AppendLater(func(tx *wal.Tx) error {
			txs[i] = txOf(t, tx)
			return deposit(tx)
		}, report)
	}
	var own int
	require.NoError(t, l.Append(func(tx *wal.Tx) error {
		own = txOf(t, tx)
		_, err := tx.Append(wal.Record{Type: ledger.TypeDeposited})
		return err
	}))
	for range txs {
		require.NoError(t, recv(t, reported))
	}
	require.Equal(t, []int{txs[0], txs[0], own}, txs, "batches of two: the first two, then the third with the Append")
	require.NotEqual(t, txs[0], own)
	recs := scanAll(t, l)
	require.Len(t, recs, 4)
	require.Equal(t, ledger.TypeDeposited, recs[3].Type, "the Append's record last")
}

// A failing AppendLater is told so, and spoils nothing else of its batch.
func TestAppendLaterFailureIsReported(t *testing.T) {
	l := openLingering(t, filepath.Join(t.TempDir(), "wal.db"), wal.Options{Linger: time.Hour})
	report, reported := reports()
	boom := errors.New("boom")
	l.AppendLater(func(tx *wal.Tx) error {
		if err := deposit(tx); err != nil {
			return err
		}
		return boom
	}, report)
	require.NoError(t, l.Append(deposit))
	require.ErrorIs(t, recv(t, reported), boom)
	require.Len(t, scanAll(t, l), 1, "only the Append's record")
}

// Close commits the AppendLaters still queued; after Close they are
// refused.
func TestCloseCommitsTheAppendLatersQueued(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	l, err := wal.Open(path, wal.Options{Linger: time.Hour})
	require.NoError(t, err)
	report, reported := reports()
	l.AppendLater(deposit, report)
	l.AppendLater(deposit, report)
	require.NoError(t, l.Close())
	require.NoError(t, recv(t, reported))
	require.NoError(t, recv(t, reported))
	l.AppendLater(deposit, report)
	require.ErrorIs(t, recv(t, reported), wal.ErrClosed)
	require.Len(t, scanAll(t, openLog(t, path)), 2)
}

// The lead passes over AppendLaters to the first Append that waits for it.
func TestTheLeadPassesOverAppendLaters(t *testing.T) {
	l := openLingering(t, filepath.Join(t.TempDir(), "wal.db"), wal.Options{Linger: time.Hour})
	report, reported := reports()
	release, held := holdCommitter(t, l)
	l.AppendLater(deposit, report)
	appended := make(chan error, 1)
	go func() { appended <- l.Append(deposit) }()
	require.Eventually(t, func() bool { return l.QueuedAppends() == 2 }, waitFor, time.Millisecond)
	release()
	require.NoError(t, recv(t, held))
	require.NoError(t, recv(t, appended))
	require.NoError(t, recv(t, reported))
	require.Len(t, scanAll(t, l), 3)
}

// Each AppendWithin has its own linger; the earliest one queued commits
// them all, and one with a long linger alone waits for it.
func TestAppendWithinLingersAsLongAsItSays(t *testing.T) {
	l := openLingering(t, filepath.Join(t.TempDir(), "wal.db"), wal.Options{Linger: time.Hour})
	report, reported := reports()
	var txs [2]int
	within := func(i int, d time.Duration) {
		l.AppendWithin(func(tx *wal.Tx) error {
			txs[i] = txOf(t, tx)
			return deposit(tx)
		}, d, report)
	}
	within(0, time.Hour)
	require.Never(t, func() bool { return len(reported) > 0 }, 50*time.Millisecond, time.Millisecond,
		"a long linger alone waits")

	start := time.Now()
	within(1, 20*time.Millisecond)
	require.NoError(t, recv(t, reported))
	require.NoError(t, recv(t, reported))
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	require.Equal(t, txs[0], txs[1], "both, in one commit")
	require.Len(t, scanAll(t, l), 2)
}

// Committing the AppendLaters of one deadline ends its timer: a record
// queued afterwards waits for its own linger, not for the deadline of a
// record already committed.
func TestACommittedLingerDoesNotCommitLaterAppendLaters(t *testing.T) {
	l := openLingering(t, filepath.Join(t.TempDir(), "wal.db"), wal.Options{Linger: time.Hour})
	report, reported := reports()
	l.AppendWithin(deposit, 100*time.Millisecond, report)
	l.AppendWithin(deposit, time.Millisecond, report)
	require.NoError(t, recv(t, reported))
	require.NoError(t, recv(t, reported))

	l.AppendLater(deposit, report)
	require.Never(t, func() bool { return len(reported) > 0 }, 500*time.Millisecond, time.Millisecond,
		"the 100ms deadline went with its record: this one lingers an hour")
	require.Len(t, scanAll(t, l), 2)
}
