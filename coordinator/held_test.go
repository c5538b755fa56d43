package coordinator_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

var heldConfig = coordinator.Config{RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond}

func TestBankDownAtPayTimeHoldsThePaymentUntilItIsBack(t *testing.T) {
	w := newWorld(t, heldConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	payer, payee := w.c.Watch(ctx, "alice"), w.c.Watch(ctx, "bob")
	w.dir.setDown("BankB", true)
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)

	start := time.Now()
	p, _ := w.payID(t, id, params)
	require.Less(t, time.Since(start), time.Second, "a held payment is answered at once")
	require.Equal(t, coordinator.Pending, p.Status)

	w.dir.setDown("BankB", false)
	p = w.requireAllOrNothing(t, id, params)
	require.Equal(t, coordinator.Committed, p.Status)
	for user, watch := range map[string]<-chan coordinator.Payment{"payer": payer, "payee": payee} {
		requireNotified(t, watch, id, coordinator.Committed, user)
	}
}

// requireNotified reads a watch until it tells that payment id reached
// status.
func requireNotified(t *testing.T, watch <-chan coordinator.Payment, id ulid.ULID, status strifev1.PaymentStatus, who string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case p, ok := <-watch:
			require.True(t, ok, "%s's watch closed before %v", who, status)
			if p.ID == id && p.Status == status {
				return
			}
		case <-timeout:
			require.Failf(t, "no notification", "%s was not told %s is %v", who, id, status)
		}
	}
}

func TestBankDownPastTheMaximumHoldExpiresThePayment(t *testing.T) {
	cases := []struct {
		name      string
		down      func(*world)
		attempted bool
	}{
		// The directory does not list BankB: no attempt is made.
		{"not registered", func(w *world) { w.dir.setDown("BankB", true) }, false},
		// BankB is listed but does not answer: every attempt places a hold at
		// BankA, and must release it.
		{"unreachable", func(w *world) { w.gate("BankB").set(coordinator.KindPrepare, 0, fail) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := heldConfig
			cfg.MaxHold = 500 * time.Millisecond
			w := newWorld(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			payer := w.c.Watch(ctx, "alice")
			tc.down(w)
			id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
			p, _ := w.payID(t, id, params)
			require.Equal(t, coordinator.Pending, p.Status)

			requireNotified(t, payer, id, coordinator.Failed, "payer")
			p = w.requireAllOrNothing(t, id, params) // every hold released
			require.Equal(t, coordinator.Failed, p.Status)
			require.Equal(t, strifev1.Reason_REASON_EXPIRED, p.Reason)
			require.Equal(t, tc.attempted, p.Attempt > 0)
			require.WithinDuration(t, p.Created.Add(500*time.Millisecond), p.Updated, time.Second, "expired after the maximum hold")
		})
	}
}

// The maximum hold counts from acceptance, across restarts: a payment held
// while the gateway was down expires as soon as it is back.
func TestHeldPaymentExpiresAcrossARestart(t *testing.T) {
	cfg := heldConfig
	cfg.MaxHold = 500 * time.Millisecond
	w := newWorld(t, cfg)
	w.dir.setDown("BankB", true)
	id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
	p, _ := w.payID(t, id, params)
	require.Equal(t, coordinator.Pending, p.Status)

	w.kill(t)
	time.Sleep(600 * time.Millisecond) // down past the maximum hold
	w.dir.setDown("BankB", false)
	w.start(t)

	p = w.requireAllOrNothing(t, id, params)
	require.Equal(t, coordinator.Failed, p.Status)
	require.Equal(t, strifev1.Reason_REASON_EXPIRED, p.Reason)
	require.Zero(t, p.Attempt, "no attempt after the hold ran out")
}

// A held payment is tried again as soon as the directory says its bank is
// back, not at its next backoff: here the backoff is far longer than the
// test's patience.
func TestABankComingBackWakesItsHeldPayments(t *testing.T) {
	cases := []struct {
		name string
		// justAfterTheRunnerLooked brings BankB back between the runner's
		// finding it down and its going to sleep: the change must not be lost.
		justAfterTheRunnerLooked bool
	}{
		{"while the payment is held", false},
		{"just after the runner found the bank down", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, coordinator.Config{RetryMin: 30 * time.Second, RetryMax: 30 * time.Second})
			w.dir.setDown("BankB", true)
			if tc.justAfterTheRunnerLooked {
				var lookups atomic.Int32
				w.dir.mu.Lock()
				w.dir.lookedUp = func(bank string) {
					// BankB's first lookup is Pay's, at acceptance; the
					// second is the runner's, before it holds the payment.
					if bank == "BankB" && lookups.Add(1) == 2 {
						w.dir.setDown("BankB", false)
						time.Sleep(50 * time.Millisecond) // the coordinator takes the change in
					}
				}
				w.dir.mu.Unlock()
			}
			id := ulid.Make()
			p, _ := w.payID(t, id, pay("BankA/1001", "BankB/2001", 100))
			require.Equal(t, coordinator.Pending, p.Status)

			if !tc.justAfterTheRunnerLooked {
				w.dir.setDown("BankB", false)
			}
			require.Eventually(t, func() bool {
				p, err := w.c.Get(id)
				return err == nil && p.Status == coordinator.Committed
			}, 5*time.Second, 10*time.Millisecond, "committed long before the 30s backoff")
			w.settled(t)
		})
	}
}

// A decision that could not be delivered is sent again as soon as the
// directory changes, not at its next backoff.
func TestADirectoryChangeResendsAnUndeliveredCommitAtOnce(t *testing.T) {
	w := newWorld(t, coordinator.Config{RetryMin: 30 * time.Second, RetryMax: 30 * time.Second, PrepareTimeout: 200 * time.Millisecond})
	bankB := w.gate("BankB")
	bankB.set(coordinator.KindCommit, 0, fail)
	p, _ := w.payID(t, ulid.Make(), pay("BankA/1001", "BankB/2001", 100))
	require.Equal(t, coordinator.Committed, p.Status, "the decision is made; only its delivery to BankB is pending")
	require.Equal(t, int64(500), w.account(t, "BankB/2001").GetPostedBalance())

	bankB.open()
	w.dir.setDown("BankB", false) // the directory says something changed
	require.Eventually(t, func() bool { return w.account(t, "BankB/2001").GetPostedBalance() == 600 }, 5*time.Second, 10*time.Millisecond, "delivered long before the 30s backoff")
	w.settled(t)
}
