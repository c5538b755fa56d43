package wal_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

func openLog(t *testing.T, path string) *wal.Log {
	t.Helper()
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func newID() ulid.ULID { return ulid.MustNew(ulid.Now(), rand.Reader) }

// appendOne appends a single record and returns its sequence number.
func appendOne(t *testing.T, l *wal.Log, r wal.Record) uint64 {
	t.Helper()
	var seq uint64
	require.NoError(t, l.Append(func(tx *wal.Tx) (err error) {
		seq, err = tx.Append(r)
		return err
	}))
	return seq
}

func scanAll(t *testing.T, l *wal.Log) []wal.Record {
	t.Helper()
	var out []wal.Record
	require.NoError(t, l.View(func(tx *wal.Tx) error {
		return tx.Scan(1, func(r wal.Record) error { out = append(out, r); return nil })
	}))
	return out
}

func TestReplayIsInAppendOrderAndSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)

	var want []wal.Record
	for i := range 50 {
		r := wal.Record{Type: ledger.TypePrepared, TxID: newID(), Attempt: uint32(i), Payload: []byte(fmt.Sprint("p", i))}
		r.Seq = appendOne(t, l, r)
		require.Equal(t, uint64(i+1), r.Seq, "sequence numbers start at 1 without gaps")
		want = append(want, r)
	}
	require.Equal(t, want, scanAll(t, l))
	require.NoError(t, l.Close())

	l = openLog(t, path)
	require.Equal(t, want, scanAll(t, l), "reopened log replays the same records")
	next := appendOne(t, l, wal.Record{Type: ledger.TypeCommitted, TxID: want[0].TxID, Attempt: 0})
	require.Equal(t, uint64(51), next, "numbering continues after reopen")
}

func TestScanFromTheMiddle(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "wal.db"))
	for range 10 {
		appendOne(t, l, wal.Record{Type: ledger.TypeDeposited})
	}
	var seqs []uint64
	require.NoError(t, l.View(func(tx *wal.Tx) error {
		require.Equal(t, uint64(10), tx.LastSeq())
		return tx.Scan(7, func(r wal.Record) error { seqs = append(seqs, r.Seq); return nil })
	}))
	require.Equal(t, []uint64{7, 8, 9, 10}, seqs)
}

func TestLookupFindsOneAttemptInOrder(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "wal.db"))
	a, b := newID(), newID()
	appendOne(t, l, wal.Record{Type: ledger.TypePrepared, TxID: a, Attempt: 1})
	appendOne(t, l, wal.Record{Type: ledger.TypePrepared, TxID: a, Attempt: 2})
	appendOne(t, l, wal.Record{Type: ledger.TypePrepared, TxID: b, Attempt: 1})
	appendOne(t, l, wal.Record{Type: ledger.TypeAborted, TxID: a, Attempt: 1})
	appendOne(t, l, wal.Record{Type: ledger.TypeDeposited}) // zero TxID: not indexed

	lookup := func(id ulid.ULID, attempt uint32) (types []wal.Type) {
		require.NoError(t, l.View(func(tx *wal.Tx) error {
			recs, err := tx.Lookup(id, attempt)
			for _, r := range recs {
				require.Equal(t, id, r.TxID)
				require.Equal(t, attempt, r.Attempt)
				types = append(types, r.Type)
			}
			return err
		}))
		return types
	}
	require.Equal(t, []wal.Type{ledger.TypePrepared, ledger.TypeAborted}, lookup(a, 1))
	require.Equal(t, []wal.Type{ledger.TypePrepared}, lookup(a, 2))
	require.Equal(t, []wal.Type{ledger.TypePrepared}, lookup(b, 1))
	require.Empty(t, lookup(b, 2))
	require.Empty(t, lookup(ulid.ULID{}, 0))
}

func TestConcurrentAppendsAreAllKeptWithoutGaps(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "wal.db"))
	const writers, each = 32, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// Two records per Append: they must stay adjacent.
				id := newID()
				require.NoError(t, l.Append(func(tx *wal.Tx) error {
					for _, typ := range []wal.Type{ledger.TypePrepared, ledger.TypeHoldPlaced} {
						if _, err := tx.Append(wal.Record{Type: typ, TxID: id, Attempt: uint32(w*each + i)}); err != nil {
							return err
						}
					}
					return nil
				}))
			}
		})
	}
	wg.Wait()
	recs := scanAll(t, l)
	require.Len(t, recs, writers*each*2)
	for i := 0; i < len(recs); i += 2 {
		require.Equal(t, uint64(i+1), recs[i].Seq)
		require.Equal(t, recs[i].TxID, recs[i+1].TxID, "records of one Append are adjacent")
	}
}

func TestFailedAppendLeavesNoTraceAndSparesItsBatch(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "wal.db"))
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 64)
	for i := range errs {
		wg.Go(func() {
			errs[i] = l.Append(func(tx *wal.Tx) error {
				if _, err := tx.Append(wal.Record{Type: ledger.TypeDeposited, Attempt: uint32(i)}); err != nil {
					return err
				}
				bucket, err := tx.Bucket("scratch")
				if err != nil {
					return err
				}
				if err := bucket.Put(fmt.Appendf(nil, "%d", i), nil); err != nil {
					return err
				}
				switch i % 8 {
				case 3:
					return boom
				case 5:
					panic("handler bug")
				}
				return nil
			})
		})
	}
	wg.Wait()

	var kept []uint32
	for _, r := range scanAll(t, l) {
		kept = append(kept, r.Attempt)
	}
	var keys int
	require.NoError(t, l.View(func(tx *wal.Tx) error {
		b, err := tx.Bucket("scratch")
		keys = b.Stats().KeyN
		return err
	}))
	for i, err := range errs {
		switch i % 8 {
		case 3:
			require.ErrorIs(t, err, boom)
			require.NotContains(t, kept, uint32(i))
		case 5:
			require.ErrorContains(t, err, "panicked: handler bug")
			require.NotContains(t, kept, uint32(i))
		default:
			require.NoError(t, err)
			require.Contains(t, kept, uint32(i))
		}
	}
	require.Len(t, kept, 48)
	require.Equal(t, 48, keys, "the caller's bucket writes of failed appends are rolled back too")
}

// waitFor bounds every wait of these tests.
const waitFor = 5 * time.Second

// recv returns the next value from ch, failing the test if none comes.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		require.FailNow(t, "timed out")
		panic("unreachable")
	}
}

func deposit(tx *wal.Tx) error {
	_, err := tx.Append(wal.Record{Type: ledger.TypeDeposited})
	return err
}

// holdCommitter starts an Append whose fn appends a record, then waits for
// release; it returns once that Append leads a commit and is inside its fn.
// The Append's result comes on the channel.
func holdCommitter(t *testing.T, l *wal.Log) (release func(), result <-chan error) {
	t.Helper()
	inside, released := make(chan struct{}), make(chan struct{})
	release = sync.OnceFunc(func() { close(released) })
	t.Cleanup(release)
	done := make(chan error, 1)
	go func() {
		done <- l.Append(func(tx *wal.Tx) error {
			close(inside)
			<-released
			return deposit(tx)
		})
	}()
	recv(t, inside)
	return release, done
}

// probe is what one Append's fn saw: the bbolt transaction it ran in and the
// sequence number of the record it appended.
type probe struct {
	txID int
	seq  uint64
}

// queueProbes queues n Appends behind a held commit, one at a time, so that
// their queue order is their index. Once the commit is released, wait
// returns what each saw.
func queueProbes(t *testing.T, l *wal.Log, n int) (wait func() []probe) {
	t.Helper()
	probes := make([]probe, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- l.Append(func(tx *wal.Tx) error {
				b, err := tx.Bucket("probe")
				if err != nil {
					return err
				}
				probes[i].txID = b.Tx().ID()
				probes[i].seq, err = tx.Append(wal.Record{Type: ledger.TypeDeposited, Attempt: uint32(i)})
				return err
			})
		}()
		require.Eventually(t, func() bool { return l.QueuedAppends() == i+1 }, waitFor, time.Millisecond)
	}
	return func() []probe {
		for range n {
			require.NoError(t, recv(t, errs))
		}
		return probes
	}
}

// The appends queued while a commit is in progress all run, in queue order,
// in the next transaction: one commit for all of them.
func TestGroupCommitRunsQueuedAppendsInOneTransaction(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "wal.db"))
	release, held := holdCommitter(t, l)
	wait := queueProbes(t, l, 10)
	release()
	require.NoError(t, recv(t, held))
	probes := wait()
	for i, p := range probes {
		require.Equal(t, probes[0].txID, p.txID, "append %d shares the first one's transaction", i)
		// The held append wrote seq 1; each saw the writes of those before it.
		require.Equal(t, uint64(i+2), p.seq, "append %d runs in queue order", i)
	}
	require.Len(t, scanAll(t, l), 11)
}

// No transaction takes more than MaxBatch appends, yet a full batch is taken
// whenever that many are waiting.
func TestGroupCommitBatchesAreBoundedByMaxBatch(t *testing.T) {
	l, err := wal.Open(filepath.Join(t.TempDir(), "wal.db"), wal.Options{MaxBatch: 4})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	release, held := holdCommitter(t, l)
	wait := queueProbes(t, l, 10)
	release()
	require.NoError(t, recv(t, held))
	probes := wait()
	batches := map[int]int{} // appends per transaction
	for _, p := range probes {
		batches[p.txID]++
	}
	for _, size := range batches {
		require.LessOrEqual(t, size, 4)
	}
	require.Len(t, batches, 3, "10 appends waiting, at most 4 per transaction")
	require.Equal(t, 4, batches[probes[0].txID], "the first batch is full")
	require.Len(t, scanAll(t, l), 11)
}

func TestAppendAfterCloseFails(t *testing.T) {
	l, err := wal.Open(filepath.Join(t.TempDir(), "wal.db"), wal.Options{})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	require.ErrorIs(t, l.Append(func(*wal.Tx) error { return nil }), wal.ErrClosed)
	require.ErrorIs(t, l.View(func(*wal.Tx) error { return nil }), wal.ErrClosed)
}

// Close waits for the appends in flight, which are answered and durable,
// and holds off those that come after it has begun, which get ErrClosed:
// none runs on a closed file.
func TestCloseWaitsForAppendsInFlightAndRefusesLaterOnes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	// MaxBatch 1: one append per commit, so some of the racing appends
	// below are still queued when Close begins.
	l, err := wal.Open(path, wal.Options{MaxBatch: 1})
	require.NoError(t, err)
	release, held := holdCommitter(t, l)
	queued := make(chan error, 1)
	go func() { queued <- l.Append(deposit) }()
	require.Eventually(t, func() bool { return l.QueuedAppends() == 1 }, waitFor, time.Millisecond)

	// Appends racing with Close: each is either in before it, or refused.
	racing := make(chan error, 8)
	for range cap(racing) {
		go func() { racing <- l.Append(deposit) }()
	}
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	require.Eventually(t, l.Closing, waitFor, time.Millisecond, "Close holds off new appends")
	require.Never(t, func() bool { return len(closed) > 0 }, 50*time.Millisecond, time.Millisecond,
		"Close waits for the appends in flight")
	late := make(chan error, 1)
	go func() { late <- l.Append(deposit) }()

	release()
	require.NoError(t, recv(t, held))
	require.NoError(t, recv(t, queued))
	require.NoError(t, recv(t, closed))
	require.ErrorIs(t, recv(t, late), wal.ErrClosed, "an append after Close has begun is refused")
	kept := 2
	for range cap(racing) {
		if err := recv(t, racing); err == nil {
			kept++
		} else {
			require.ErrorIs(t, err, wal.ErrClosed)
		}
	}
	require.Len(t, scanAll(t, openLog(t, path)), kept, "every append answered nil is on disk")
}

func TestViewCannotAppend(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "wal.db"))
	require.NoError(t, l.View(func(tx *wal.Tx) error {
		_, err := tx.Append(wal.Record{Type: ledger.TypeDeposited})
		require.ErrorIs(t, err, wal.ErrReadOnly)
		b, err := tx.Bucket("absent")
		require.Nil(t, b)
		return err
	}))
}

func TestAppendRejectsUnknownTypeAndHugePayload(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "wal.db"))
	err := l.Append(func(tx *wal.Tx) error {
		_, err := tx.Append(wal.Record{Type: 99})
		return err
	})
	require.ErrorIs(t, err, wal.ErrUnknownType)
	err = l.Append(func(tx *wal.Tx) error {
		_, err := tx.Append(wal.Record{Type: ledger.TypeDeposited, Payload: make([]byte, wal.MaxPayload+1)})
		return err
	})
	require.ErrorContains(t, err, "exceeds")
	require.Empty(t, scanAll(t, l))
}

func TestSecondOpenOfALockedFileTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	openLog(t, path)
	_, err := wal.Open(path, wal.Options{LockTimeout: 50 * time.Millisecond})
	require.ErrorIs(t, err, berrors.ErrTimeout)
}

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, wal.Options{}.Validate())
	require.Error(t, wal.Options{MaxBatch: -1}.Validate())
	require.Error(t, wal.Options{LockTimeout: -1}.Validate())
}

func TestScanReportsProgressEvery65536Records(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "wal.db"))
	require.NoError(t, l.Append(func(tx *wal.Tx) error {
		for range 70_000 {
			if _, err := tx.Append(wal.Record{Type: ledger.TypeDeposited}); err != nil {
				return err
			}
		}
		return nil
	}))
	var calls [][2]uint64
	l.OnScanProgress(func(seq, last uint64) { calls = append(calls, [2]uint64{seq, last}) })
	require.NoError(t, l.View(func(tx *wal.Tx) error { return tx.Scan(1, func(wal.Record) error { return nil }) }))
	require.Equal(t, [][2]uint64{{65536, 70000}}, calls)
}
