package coordinator_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// payID sends one Pay and returns what it answered.
func (w *world) payID(t *testing.T, id ulid.ULID, params coordinator.Params) (coordinator.Payment, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, retry, err := w.c.Pay(ctx, id, params)
	require.NoError(t, err)
	return p, retry
}

func TestSamePayTwiceIsAppliedOnce(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 250)

	first, retry := w.payID(t, id, params)
	require.False(t, retry)
	require.Equal(t, coordinator.Committed, first.Status)

	second, retry := w.payID(t, id, params)
	require.True(t, retry, "the second call is marked as a retry")
	require.Equal(t, asStored(first), asStored(second), "the second call gets the first one's payment")

	w.requireAllOrNothing(t, id, params)
}

func TestFiftyConcurrentPaysAreAppliedOnce(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 250)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	const n = 50
	payments, retries, errs := make([]coordinator.Payment, n), make([]bool, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			payments[i], retries[i], errs[i] = w.c.Pay(ctx, id, params)
		})
	}
	close(start)
	wg.Wait()

	fresh := 0
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, asStored(payments[0]), asStored(payments[i]), "call %d", i)
		if !retries[i] {
			fresh++
		}
	}
	require.Equal(t, 1, fresh, "one call runs the payment; the other 49 are retries")
	require.Equal(t, coordinator.Committed, payments[0].Status)
	w.requireAllOrNothing(t, id, params)
}

func TestSamePayWhileTheFirstIsInFlightWaitsForItsOutcome(t *testing.T) {
	w := newWorld(t, coordinator.Config{PrepareTimeout: 5 * time.Second})
	bankB := w.gate("BankB")
	bankB.set(coordinator.KindPrepare, 1, holdBefore)
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 250)
	first := w.payInBackground(t, id, params)
	prepare := bankB.await(t, coordinator.KindPrepare, 1)

	// A retry waits within its own deadline, then gets the payment as it
	// stands.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	p, retry, err := w.c.Pay(ctx, id, params)
	require.NoError(t, err)
	require.Less(t, time.Since(start), time.Second)
	require.True(t, retry)
	require.Equal(t, coordinator.Pending, p.Status)

	type answer struct {
		p     coordinator.Payment
		retry bool
		err   error
	}
	second := make(chan answer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p, retry, err := w.c.Pay(ctx, id, params)
		second <- answer{p, retry, err}
	}()
	select {
	case <-second:
		require.Fail(t, "the retry was answered before the first call's outcome")
	case <-time.After(100 * time.Millisecond):
	}
	prepare.let()
	a, p := <-second, <-first
	require.NoError(t, a.err)
	require.True(t, a.retry)
	require.Equal(t, coordinator.Committed, p.Status)
	require.Equal(t, asStored(p), asStored(a.p), "the retry gets the first call's outcome")
	require.Equal(t, 1, bankB.acked(coordinator.KindPrepare, 1), "no second execution")
	w.requireAllOrNothing(t, id, params)
}

func TestSameIDWithOtherParametersIsAConflict(t *testing.T) {
	w := newWorld(t, coordinator.Config{RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	committed, committedParams := ulid.Make(), pay("BankA/1001", "BankB/2001", 250)
	p, _ := w.payID(t, committed, committedParams)
	require.Equal(t, coordinator.Committed, p.Status)
	w.settled(t)
	// A payment held PENDING is still in flight: the conflict is found in
	// memory, not in the log.
	held, heldParams := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
	w.dir.setDown("BankB", true)
	p, _ = w.payID(t, held, heldParams)
	require.Equal(t, coordinator.Pending, p.Status)

	payments := []struct {
		name   string
		id     ulid.ULID
		params coordinator.Params
	}{{"committed", committed, committedParams}, {"held", held, heldParams}}
	changes := []struct {
		name   string
		change func(*coordinator.Params)
	}{
		{"amount", func(p *coordinator.Params) { p.Amount++ }},
		{"payee account", func(p *coordinator.Params) { p.To = "BankA/1002" }},
		{"memo", func(p *coordinator.Params) { p.Memo = "another" }},
		{"payer", func(p *coordinator.Params) { p.Payer = "mallory" }},
	}
	for _, pm := range payments {
		for _, ch := range changes {
			t.Run(pm.name+"/"+ch.name, func(t *testing.T) {
				before, err := w.c.Get(pm.id)
				require.NoError(t, err)
				posted, holds := w.total(t)
				other := pm.params
				ch.change(&other)

				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, _, err = w.c.Pay(ctx, pm.id, other)
				require.ErrorIs(t, err, coordinator.ErrConflict)

				after, err := w.c.Get(pm.id)
				require.NoError(t, err)
				require.Equal(t, asStored(before), asStored(after), "the stored payment is unchanged")
				postedAfter, holdsAfter := w.total(t)
				require.Equal(t, posted, postedAfter)
				require.Equal(t, holds, holdsAfter)
			})
		}
	}

	// The held payment still goes through as first asked.
	w.dir.setDown("BankB", false)
	require.Eventually(t, func() bool {
		p, err := w.c.Get(held)
		return err == nil && p.Status == coordinator.Committed && p.Ended
	}, 10*time.Second, 20*time.Millisecond)
	w.settled(t)
	require.Equal(t, int64(1000-250-100), w.account(t, "BankA/1001").GetPostedBalance())
	require.Equal(t, int64(500+250+100), w.account(t, "BankB/2001").GetPostedBalance())
}

func TestFailedIDIsBurned(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2002", 100)
	first, _ := w.payID(t, id, params)
	require.Equal(t, coordinator.Failed, first.Status)
	require.Equal(t, strifev1.Reason_REASON_ACCOUNT_NOT_FOUND, first.Reason)

	// The payee's account now exists, so the same payment would go through
	// under a new ID; this one stays failed.
	_, err := w.clients["BankB"].OpenAccount(context.Background(), &strifev1.OpenAccountRequest{Number: "2002", Owner: "owner-2002"})
	require.NoError(t, err)
	again, retry := w.payID(t, id, params)
	require.True(t, retry)
	require.Equal(t, asStored(first), asStored(again))

	p := w.requireAllOrNothing(t, id, params)
	require.Equal(t, uint32(1), p.Attempt, "no second attempt")
}

func TestClosedAccountFailsWithTheReason(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	_, err := w.clients["BankB"].UpdateAccount(context.Background(), &strifev1.UpdateAccountRequest{Number: "2001", Status: strifev1.AccountStatus_ACCOUNT_STATUS_CLOSED})
	require.NoError(t, err)

	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
	p, _ := w.payID(t, id, params)
	require.Equal(t, coordinator.Failed, p.Status)
	require.Equal(t, strifev1.Reason_REASON_ACCOUNT_CLOSED, p.Reason)
	w.requireAllOrNothing(t, id, params)
}

// A retry of a finished payment is answered from a read: it writes nothing,
// not even an empty commit (which bbolt would still sync).
func TestRetryOfAFinishedPaymentWritesNothing(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 250)
	w.payID(t, id, params)
	require.Eventually(t, func() bool {
		p, err := w.c.Get(id)
		return err == nil && p.Ended
	}, 5*time.Second, 10*time.Millisecond)

	before := w.lastCommit(t)
	for range 5 {
		_, retry := w.payID(t, id, params)
		require.True(t, retry)
	}
	require.Equal(t, before, w.lastCommit(t), "five retries committed something")
}
