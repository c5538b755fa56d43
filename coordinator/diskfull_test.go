package coordinator_test

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/tools/recovery"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// diskFull is a wal.Options.FailWrites: every commit fails with ENOSPC
// while it is set.
type diskFull struct{ full atomic.Bool }

func (d *diskFull) fail() error {
	if d.full.Load() {
		return syscall.ENOSPC
	}
	return nil
}

// withFailingDisk restarts w's coordinator over a log whose writes fail
// while the returned disk is full.
func (w *world) withFailingDisk(t *testing.T) *diskFull {
	d := &diskFull{}
	w.stop(t)
	w.logOpts.FailWrites = d.fail
	w.start(t)
	return d
}

// A Pay whose acceptance cannot be written is ErrWriteFailed (UNAVAILABLE
// at the gateway): nothing was decided. Its Prepares had left with the
// staging record; the banks are told to abort at once, so nothing stays
// held, and the client's retry, once the disk has room, pays exactly once
// under a new attempt number (the old one was aborted at the banks).
func TestPayWhileTheGatewayCannotWriteFailsRetryablyAndHoldsNothing(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	disk := w.withFailingDisk(t)
	params := pay("BankA/1001", "BankB/2001", 100)
	id := ulid.Make()

	// Both banks apply the Prepare; their votes, and the Aborts, are held
	// until the test has seen the money held.
	first := uint32(1<<coordinator.EpochBits + 1) // epoch 1: withFailingDisk restarted
	gates := []*gate{w.gate("BankA"), w.gate("BankB")}
	for _, g := range gates {
		g.set(coordinator.KindPrepare, first, holdAfter)
		g.set(coordinator.KindAbort, first, holdBefore)
	}
	disk.full.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := w.c.Pay(ctx, id, params)
	require.ErrorIs(t, err, wal.ErrWriteFailed)
	require.ErrorIs(t, err, syscall.ENOSPC)
	for _, g := range gates {
		g.await(t, coordinator.KindPrepare, first)
	}
	_, held := w.total(t)
	require.Positive(t, held, "the banks voted YES and hold the money")
	for _, g := range gates {
		g.open() // the votes and the Aborts
	}
	w.settled(t) // the banks' in-doubt timeout is an hour: only the Aborts release them

	_, _, err = w.c.Pay(ctx, id, params)
	require.ErrorIs(t, err, wal.ErrWriteFailed, "still full: refused again, before any Prepare")

	disk.full.Store(false)
	p, _, err := w.c.Pay(ctx, id, params)
	require.NoError(t, err)
	require.Equal(t, coordinator.Committed, p.Status)
	w.requireAllOrNothing(t, id, params)
}

// The records an implicit commit persists lazily (DECISION_COMMIT and the
// final status, then ATTEMPT_ENDED) fail to be written: the client has its
// true answer, COMMITTED, and the records are written again until they
// land. Once the disk has room, strife-recover check on the gateway's file
// and the banks' files is content and lists nothing in doubt; the same
// after a restart while the disk was still full.
func TestLazyRecordsThatCannotBeWrittenLandOnceTheDiskHasRoom(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := map[bool]string{false: "written again", true: "rebuilt after a restart"}[restart]
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, coordinator.Config{RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, EndLinger: 5 * time.Millisecond})
			disk := w.withFailingDisk(t)
			params := pay("BankA/1001", "BankB/2001", 100)
			id := ulid.Make()

			// The staging record lands; the disk fills before the last vote.
			g := w.gate("BankB")
			g.set(coordinator.KindPrepare, 0, holdAfter)
			answer := w.payInBackground(t, id, params)
			h := g.await(t, coordinator.KindPrepare, 1<<coordinator.EpochBits+1) // epoch 1: withFailingDisk restarted
			require.Eventually(t, func() bool { return staged(w, id) }, 5*time.Second, time.Millisecond)
			disk.full.Store(true)
			h.let()
			g.open()
			p := <-answer
			require.Equal(t, coordinator.Committed, p.Status, "the true answer")
			time.Sleep(100 * time.Millisecond) // a few failed writes

			if restart {
				w.stop(t)
				disk.full.Store(false)
				w.start(t)
			} else {
				disk.full.Store(false)
			}
			require.Eventually(t, func() bool { got, err := w.c.Get(id); return err == nil && got.Ended }, 10*time.Second, 10*time.Millisecond)
			w.requireCheckedClean(t)
		})
	}
}

// A bank whose writes fail (a full disk) answers Prepare UNAVAILABLE, not
// INTERNAL: it voted nothing, and the same Prepare may be sent again. The
// coordinator holds the payment PENDING and tries again, as for a bank it
// cannot reach, and once the bank's disk has room the payment commits,
// exactly once.
func TestABankThatCannotWriteIsUnavailableAndThePaymentCommitsOnceItCan(t *testing.T) {
	disk := &diskFull{}
	w := newWorld(t, coordinator.Config{RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}, func(cfg *bankd.Config) {
		if cfg.Name == "BankA" {
			cfg.FailWrites = disk.fail
		}
	})
	disk.full.Store(true)

	// Asked directly, over mutual TLS with the gateway's certificate.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	debit := &strifev1.Leg{Account: "1001", Direction: strifev1.Direction_DIRECTION_DEBIT, Amount: 1, Counterparty: "BankB/2001"}
	_, err := w.clients["BankA"].Prepare(ctx, &strifev1.PrepareRequest{TransactionId: ulid.Make().String(), Attempt: 1, Legs: []*strifev1.Leg{debit}})
	require.Equal(t, codes.Unavailable.String(), status.Code(err).String(), "%v", err)

	// Through the coordinator, whose Prepares ride in Batch calls.
	g := w.gate("BankA")
	params := pay("BankA/1001", "BankB/2001", 100)
	id := ulid.Make()
	p, _, err := w.c.Pay(ctx, id, params)
	require.NoError(t, err)
	require.Equal(t, coordinator.Pending, p.Status, "held: BankA could not vote")
	prepareErrors := func() []codes.Code {
		g.mu.Lock()
		defer g.mu.Unlock()
		var out []codes.Code
		for _, c := range g.calls {
			if c.kind == coordinator.KindPrepare && c.err != nil {
				out = append(out, status.Code(c.err))
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(prepareErrors()) >= 2 }, 10*time.Second, 5*time.Millisecond, "tried again")
	for _, code := range prepareErrors() {
		require.Equal(t, codes.Unavailable.String(), code.String())
	}

	disk.full.Store(false)
	p = w.requireAllOrNothing(t, id, params)
	require.Equal(t, coordinator.Committed, p.Status)
}

// staged reports whether the payment's staging record is durable.
func staged(w *world, id ulid.ULID) bool {
	p, err := w.c.Get(id)
	return err == nil && p.Staged
}

// The END of an aborted attempt of a payment still PENDING fails to be
// written, and the payment then expires with no other attempt: the END is
// written again once the disk has room, so strife-recover check on the
// gateway's file and the banks' files is content and lists nothing in
// doubt, without waiting for a restart to send the Abort again.
func TestTheEndOfAnAbortedAttemptLandsOnceTheDiskHasRoom(t *testing.T) {
	clock := &testClock{}
	w := newWorld(t, coordinator.Config{
		Now:     clock.now,
		MaxHold: time.Hour, RetryMin: 200 * time.Millisecond, RetryMax: 200 * time.Millisecond, EndLinger: 5 * time.Millisecond,
	})
	logged := &banktest.LogBuffer{}
	w.logged = logged
	disk := w.withFailingDisk(t)
	params := pay("BankA/1001", "BankB/2001", 100)
	id := ulid.Make()

	// BankB cannot be reached: the attempt aborts and the payment stays
	// PENDING. BankA's Abort is held until the disk is full.
	w.gate("BankB").set(coordinator.KindPrepare, 0, fail)
	a := w.gate("BankA")
	a.set(coordinator.KindAbort, 0, holdBefore)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, _, err := w.c.Pay(ctx, id, params)
	require.NoError(t, err)
	require.Equal(t, coordinator.Pending, p.Status)
	a.await(t, coordinator.KindAbort, 1<<coordinator.EpochBits+1) // epoch 1: withFailingDisk restarted

	// The disk fills and the payment's time is up: no other attempt
	// begins. The last acknowledgement ends the attempt, and its END fails.
	disk.full.Store(true)
	clock.advance(time.Hour)
	a.open()
	require.Eventually(t, func() bool { return strings.Contains(logged.String(), "the end of an aborted attempt") }, 10*time.Second, 5*time.Millisecond)

	disk.full.Store(false)
	require.Eventually(t, func() bool {
		got, err := w.c.Get(id)
		return err == nil && got.Final() && got.Ended
	}, 10*time.Second, 10*time.Millisecond)
	got, err := w.c.Get(id)
	require.NoError(t, err)
	require.Equal(t, coordinator.Failed, got.Status)
	require.Equal(t, uint32(1<<coordinator.EpochBits+1), got.Attempt, "no other attempt")
	w.requireCheckedClean(t)
}

// requireCheckedClean waits for the banks to settle, stops the world and
// requires strife-recover check on the gateway's file and each bank's to
// find them consistent, with nothing in doubt or in phase 2.
func (w *world) requireCheckedClean(t *testing.T) {
	t.Helper()
	w.settled(t)
	w.stop(t)
	for _, b := range w.banks {
		require.NoError(t, b.Stop())
	}
	var out bytes.Buffer
	files := []string{w.logPath}
	for _, bank := range slices.Sorted(maps.Keys(w.files)) {
		files = append(files, w.files[bank])
	}
	code := recovery.Run(&out, &out, files, recovery.Options{})
	require.Equal(t, recovery.ExitConsistent, code, out.String())
	require.NotContains(t, out.String(), "IN DOUBT")
	require.NotContains(t, out.String(), "PHASE 2")
}

// testClock is the wall clock, moved ahead by advance.
type testClock struct{ ahead atomic.Int64 }

func (c *testClock) now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }

func (c *testClock) advance(d time.Duration) { c.ahead.Add(int64(d)) }
