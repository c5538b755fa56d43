package coordinator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	_ "github.com/strife-pay/strife/users" // registers the users' record types, which the old gateway file holds
	"github.com/strife-pay/strife/wal"
)

// openKeys returns the IDs the open index of the (stopped) coordinator's
// log file names, in order, and whether the file has the index at all.
func openKeys(t *testing.T, path string) ([]ulid.ULID, bool) {
	log, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	defer log.Close()
	var ids []ulid.ULID
	var exists bool
	require.NoError(t, log.View(func(tx *wal.Tx) error {
		b := tx.ExistingBucket(coordinator.OpenBucket)
		if exists = b != nil; !exists {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			var id ulid.ULID
			copy(id[:], k)
			ids = append(ids, id)
			return nil
		})
	}))
	return ids, exists
}

// recovered returns the number of payments the coordinator's start said it
// resumed, from its log lines ("recovered open payments from the log"); 0
// if it said nothing.
func recovered(t *testing.T, logged string) int {
	for _, line := range strings.Split(logged, "\n") {
		var fields struct {
			Message  string
			Payments int
		}
		if json.Unmarshal([]byte(line), &fields) == nil && fields.Message == "recovered open payments from the log" {
			return fields.Payments
		}
	}
	return 0
}

func sortedIDs(ids ...ulid.ULID) []ulid.ULID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b ulid.ULID) int { return a.Compare(b) })
	return ids
}

// A gateway with many finished payments and a few open ones (three held
// PENDING while BankB is down, one committed whose Commit never reached
// BankB: an undelivered decision) keeps exactly the open ones in its open
// index, and a restart resumes exactly those, and settles them.
func TestRestartResumesExactlyTheOpenPayments(t *testing.T) {
	cfg := crashConfig
	cfg.EndLinger = time.Millisecond
	w := newWorld(t, cfg)
	var finished []ulid.ULID
	for range 12 {
		p := w.pay(t, pay("BankA/1001", "BankA/1002", 1))
		finished = append(finished, p.ID)
	}
	finished = append(finished, w.pay(t, pay("BankA/1001", "BankB/2001", 1_000_000)).ID) // FAILED: insufficient funds
	require.Eventually(t, func() bool {
		for _, id := range finished {
			if p, err := w.c.Get(id); err != nil || !p.Final() || !(p.Ended || p.Attempt == 0) {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "the finished payments ended")
	// An END is answered before it is durable: a clean stop writes those
	// still lingering, so that the finished payments are finished on disk.
	w.stop(t)
	w.start(t)

	// An undelivered decision: committed, its Commit to BankB held.
	g := w.gate("BankB")
	g.set(coordinator.KindCommit, 0, holdBefore)
	undelivered := w.pay(t, pay("BankA/1001", "BankB/2001", 10))
	require.Equal(t, coordinator.Committed, undelivered.Status)
	g.await(t, coordinator.KindCommit, undelivered.Attempt) // sent once its decision is durable

	w.dir.setDown("BankB", true)
	var held []ulid.ULID
	for range 3 {
		p := w.pay(t, pay("BankA/1001", "BankB/2001", 20))
		require.Equal(t, coordinator.Pending, p.Status)
		held = append(held, p.ID)
	}
	w.kill(t)
	g.open()

	ids, exists := openKeys(t, w.logPath)
	require.True(t, exists)
	require.Equal(t, sortedIDs(append(held, undelivered.ID)...), ids, "the open index names the open payments, only")
	require.NoError(t, verifyFile(t, w.logPath))

	logged := &banktest.LogBuffer{}
	w.logged = logged
	w.start(t)
	require.Equal(t, 4, recovered(t, logged.String()), "a restart resumes the open payments:\n%s", logged.String())
	require.NotContains(t, logged.String(), "built the index of open payments", "a file with the index is not migrated")

	w.dir.setDown("BankB", false)
	require.Eventually(t, func() bool {
		for _, id := range append(held, undelivered.ID) {
			if p, err := w.c.Get(id); err != nil || p.Status != coordinator.Committed || !p.Ended {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "the open payments settle")
	w.settled(t)
	w.stop(t)
	ids, _ = openKeys(t, w.logPath)
	require.Empty(t, ids, "nothing is open once everything settled")
	require.NoError(t, verifyFile(t, w.logPath))
	w.start(t)
}

// verifyFile runs coordinator.Verify on a stopped coordinator's log file.
func verifyFile(t *testing.T, path string) error {
	log, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	defer log.Close()
	return coordinator.Verify(log)
}

// A gateway file written before the open index existed
// (testdata/before-issue-16, with one payment held PENDING: decided ABORT,
// not ended) has no index; the coordinator's first start builds it, once,
// from the payments, and resumes exactly the pending payment (which may
// expire now: its banks are away, so its ABORT stays undelivered and it
// stays open); the file
// verifies before and after; the next start builds nothing.
func TestAGatewayFileFromBeforeTheOpenIndexIsMigratedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.db")
	old, err := os.ReadFile("../testdata/before-issue-16/gateway.db")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, old, 0o600))
	pending := ulid.MustParseStrict("01KBJ0A0PEND1NG00000000000")

	_, exists := openKeys(t, path)
	require.False(t, exists, "the fixture predates the open index")
	require.NoError(t, verifyFile(t, path), "a file without the index verifies")

	dir := &switchboard{parts: map[string]coordinator.Participant{}, down: map[string]bool{}, changes: make(chan struct{}, 1)} // no bank is up
	start := func() string {
		logged := &banktest.LogBuffer{}
		log, err := wal.Open(path, wal.Options{})
		require.NoError(t, err)
		c, err := coordinator.New(log, dir, coordinator.Config{Log: zerolog.New(io.MultiWriter(logged, zerolog.NewTestWriter(t)))})
		require.NoError(t, err)
		_, err = c.Get(pending)
		require.NoError(t, err)
		c.Close()
		require.NoError(t, log.Close())
		return logged.String()
	}

	first := start()
	require.Contains(t, first, `"open":1`, "the migration found the pending payment:\n%s", first)
	require.Contains(t, first, "built the index of open payments")
	require.Equal(t, 1, recovered(t, first), "exactly the pending payment resumed")
	ids, exists := openKeys(t, path)
	require.True(t, exists)
	require.Equal(t, []ulid.ULID{pending}, ids, "its decision cannot reach its banks: still open")
	require.NoError(t, verifyFile(t, path))

	second := start()
	require.NotContains(t, second, "built the index of open payments", "the index is built once")
	require.Equal(t, 1, recovered(t, second))
}

// Verify reports a payment stored in the wrong bucket: an open one among
// the finished (a restart would not resume it), a finished one among the
// open, and one in both, each named; Replay puts them back.
func TestVerifyChecksTheOpenIndex(t *testing.T) {
	w := newWorld(t, heldConfig)
	done := w.pay(t, pay("BankA/1001", "BankB/2001", 100))
	require.Equal(t, coordinator.Committed, done.Status)
	require.Eventually(t, func() bool { // its ATTEMPT_ENDED is written lazily
		var finished bool
		err := w.log.View(func(tx *wal.Tx) error {
			b := tx.ExistingBucket(coordinator.PaymentsBucket)
			finished = b != nil && b.Get(done.ID[:]) != nil
			return nil
		})
		return err == nil && finished
	}, 5*time.Second, 10*time.Millisecond)
	w.dir.setDown("BankB", true)
	held := w.pay(t, pay("BankA/1001", "BankB/2001", 100))
	require.Equal(t, coordinator.Pending, held.Status)
	require.NoError(t, coordinator.Verify(w.log))

	move := func(id ulid.ULID, from, to string, keep bool) {
		require.NoError(t, w.log.Append(func(tx *wal.Tx) error {
			v := bytes.Clone(tx.ExistingBucket(from).Get(id[:]))
			require.NotNil(t, v)
			if !keep {
				if err := tx.ExistingBucket(from).Delete(id[:]); err != nil {
					return err
				}
			}
			return tx.ExistingBucket(to).Put(id[:], v)
		}))
	}
	move(held.ID, coordinator.OpenBucket, coordinator.PaymentsBucket, false)
	move(done.ID, coordinator.PaymentsBucket, coordinator.OpenBucket, false)
	err := coordinator.Verify(w.log)
	require.ErrorIs(t, err, coordinator.ErrInconsistent)
	require.ErrorContains(t, err, "payment "+held.ID.String()+" is open but not stored as open")
	require.ErrorContains(t, err, "payment "+done.ID.String()+" is finished but stored as open")

	require.NoError(t, coordinator.Replay(w.log), "Replay rebuilds both")
	require.NoError(t, coordinator.Verify(w.log))
	move(held.ID, coordinator.OpenBucket, coordinator.PaymentsBucket, true)
	require.ErrorContains(t, coordinator.Verify(w.log), "payment "+held.ID.String()+" is stored both open and finished")
	require.NoError(t, coordinator.Replay(w.log))
	require.NoError(t, coordinator.Verify(w.log))
}

// A file from before the zero ID was refused (testdata/zero-id) holds an
// unfinished payment under it: the migration indexes it, as the scan found
// it before, the start leaves it alone as before (logged, not resumed), and
// the file verifies.
func TestTheZeroIDPaymentIsIndexedAndLeftAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.db")
	old, err := os.ReadFile("../testdata/zero-id/gateway.db")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, old, 0o600))

	logged := &banktest.LogBuffer{}
	log, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	dir := &switchboard{parts: map[string]coordinator.Participant{}, down: map[string]bool{}, changes: make(chan struct{}, 1)}
	c, err := coordinator.New(log, dir, coordinator.Config{Log: zerolog.New(io.MultiWriter(logged, zerolog.NewTestWriter(t)))})
	require.NoError(t, err)
	c.Close()
	require.NoError(t, log.Close())

	require.Contains(t, logged.String(), "built the index of open payments")
	require.Contains(t, logged.String(), "cannot be settled; left as it stands")
	require.Zero(t, recovered(t, logged.String()), "nothing else to resume")
	ids, _ := openKeys(t, path)
	require.Equal(t, []ulid.ULID{{}}, ids)
	require.NoError(t, verifyFile(t, path))
}
