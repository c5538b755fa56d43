package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/tools/client"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// runSender runs the resend loop of s until the test ends, returning its
// final results.
func runSender(t *testing.T, s *client.Sender) <-chan *client.Result {
	results := make(chan *client.Result, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx, func(r *client.Result) { results <- r })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return results
}

func next(t *testing.T, results <-chan *client.Result) *client.Result {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(30 * time.Second):
		require.FailNow(t, "no outcome reported")
		return nil
	}
}

func TestPayWhileGatewayDownIsQueuedThenDeliveredOnce(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	c := w.open(t, dir)
	defer c.Close()
	w.stop(t)

	r, err := c.Sender().Pay(t.Context(), payTo("bob", 1250))
	require.NoError(t, err)
	require.Equal(t, client.OutcomeQueued, r.Outcome)
	require.Equal(t, client.QueuedMessage, r.Message)
	pending, err := c.Queue.Pending()
	require.NoError(t, err)
	require.Equal(t, []string{r.Entry.ID()}, ids(pending))

	w.start(t)
	final := next(t, runSender(t, c.Sender()))
	require.Equal(t, client.OutcomeCommitted, final.Outcome)
	require.Equal(t, r.Entry.ID(), final.Entry.ID())
	require.GreaterOrEqual(t, final.Entry.Attempts, 2)

	require.Equal(t, int64(100000-1250), w.posted(t, "BankA", "1001"))
	require.Equal(t, 1, w.debits(t, "BankA", "1001", r.Entry.ID()))
	pending, err = c.Queue.Pending()
	require.NoError(t, err)
	require.Empty(t, pending)
	done, err := c.Queue.Done()
	require.NoError(t, err)
	require.Equal(t, []string{r.Entry.ID()}, ids(done))
}

func TestQueueSurvivesRestartAndFlushesInCreationOrder(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	w.stop(t)
	c := w.open(t, dir)
	var want []string
	for i := range 4 {
		r, err := c.Sender().Pay(t.Context(), payTo("bob", int64(100*(i+1))))
		require.NoError(t, err)
		require.Equal(t, client.OutcomeQueued, r.Outcome)
		want = append(want, r.Entry.ID())
	}
	require.NoError(t, c.Close()) // the client stops

	w.start(t)
	c = w.open(t, dir) // and starts again
	defer c.Close()
	results := runSender(t, c.Sender())
	var got []string
	for range want {
		r := next(t, results)
		require.Equal(t, client.OutcomeCommitted, r.Outcome)
		got = append(got, r.Entry.ID())
	}
	require.Equal(t, want, got)

	// The gateway received them in creation order.
	var prev time.Time
	done, err := c.Queue.Done()
	require.NoError(t, err)
	require.Equal(t, want, ids(done))
	for _, e := range done {
		created := e.Outcome.GetCreatedAt().AsTime()
		require.True(t, created.After(prev), "created %v after %v", created, prev)
		prev = created
		require.Equal(t, 1, w.debits(t, "BankA", "1001", e.ID()))
	}
	require.Equal(t, int64(100000-1000), w.posted(t, "BankA", "1001"))
}

func TestInsufficientFundsIsFinalAndNotRetried(t *testing.T) {
	w := newWorld(t)
	c := w.open(t, w.login(t, "carol"))
	defer c.Close()

	r, err := c.Sender().Pay(t.Context(), payTo("bob", 500_00))
	require.NoError(t, err)
	require.Equal(t, client.OutcomeFailed, r.Outcome)
	require.Equal(t, "failed: INSUFFICIENT_FUNDS", r.Message)
	require.Equal(t, strifev1.Reason_REASON_INSUFFICIENT_FUNDS, r.Payment.GetReason())

	// Nothing is left to resend: a flush sends nothing, the attempt count
	// stays at one.
	results, err := c.Sender().Flush(t.Context())
	require.NoError(t, err)
	require.Empty(t, results)
	// Sending it anyway (a Sender that read the queue before it was
	// finished) sends nothing and reports nothing.
	again, err := c.Sender().Send(t.Context(), r.Entry)
	require.NoError(t, err)
	require.Nil(t, again)
	e, err := c.Queue.Get(r.Entry.ID())
	require.NoError(t, err)
	require.Equal(t, client.StateDone, e.State)
	require.Equal(t, 1, e.Attempts)
	require.Equal(t, int64(20000), w.posted(t, "BankA", "1002"))
}

// TestKilledBetweenSendAndResponse stores a payment and sends it, and the
// client dies before it sees the answer; started again on the same state
// dir it resends the same ULID, and the money moves once.
func TestKilledBetweenSendAndResponse(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	c := w.open(t, dir)
	e, err := c.Queue.Add(payTo("bob", 700))
	require.NoError(t, err)
	_, err = c.Queue.Update(e.ID(), func(e *client.Entry) { e.Attempts++ })
	require.NoError(t, err)
	// The send reaches the gateway; the response is dropped with the client.
	_, err = c.API.Pay(c.Auth(t.Context()), proto.CloneOf(e.Request))
	require.NoError(t, err)
	require.NoError(t, c.Close())

	c = w.open(t, dir)
	defer c.Close()
	results, err := c.Sender().Flush(t.Context())
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, e.ID(), results[0].Entry.ID())
	require.Equal(t, client.OutcomeCommitted, results[0].Outcome)
	require.Equal(t, 2, results[0].Entry.Attempts)
	require.Equal(t, 1, w.debits(t, "BankA", "1001", e.ID()))
	require.Equal(t, int64(100000-700), w.posted(t, "BankA", "1001"))
	require.Equal(t, int64(50000+700), w.posted(t, "BankB", "2001"))
}

// TestPendingIsFollowedToItsOutcome: a payee bank that is down makes the
// gateway hold the payment (PENDING, not an error); the client keeps it
// and reports COMMITTED once the bank is back.
func TestPendingIsFollowedToItsOutcome(t *testing.T) {
	w := newWorld(t)
	c := w.open(t, w.login(t, "alice"))
	defer c.Close()
	require.NoError(t, w.banks["BankB"].Stop())

	r, err := c.Sender().Pay(t.Context(), payTo("bob", 300))
	require.NoError(t, err)
	require.Equal(t, client.OutcomePending, r.Outcome, r.Message)
	e, err := c.Queue.Get(r.Entry.ID())
	require.NoError(t, err)
	require.Equal(t, client.StateSent, e.State)

	w.banks["BankB"] = banktest.Start(t, w.bankConfigs["BankB"])
	final := next(t, runSender(t, c.Sender()))
	require.Equal(t, r.Entry.ID(), final.Entry.ID())
	require.Equal(t, client.OutcomeCommitted, final.Outcome)
	require.Equal(t, 1, w.debits(t, "BankA", "1001", r.Entry.ID()))
}

// A queued payment goes out as soon as the connection to the gateway is
// READY again, not at the resend loop's next backoff: here the backoff is a
// minute, far longer than the test waits.
func TestQueuedPaymentGoesOutWhenTheConnectionIsReady(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	c := w.open(t, dir)
	defer c.Close()
	w.stop(t)
	r, err := c.Sender().Pay(t.Context(), payTo("bob", 300))
	require.NoError(t, err)
	require.Equal(t, client.OutcomeQueued, r.Outcome)

	sender := c.Sender()
	sender.MinBackoff, sender.MaxBackoff = time.Minute, time.Minute
	results := runSender(t, sender)
	time.Sleep(2 * time.Second) // the loop found the gateway down and waits

	w.start(t)
	select {
	case final := <-results:
		require.Equal(t, client.OutcomeCommitted, final.Outcome)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "not delivered within 5s of the gateway's return")
	}
	require.Equal(t, 1, w.debits(t, "BankA", "1001", r.Entry.ID()))
}

// TestUnauthenticatedPayStaysQueued: a pay that the gateway answers
// UNAUTHENTICATED (an expired or refused token) is not final: the payment
// stays in the queue, and goes out, once, after the user logs in again.
func TestUnauthenticatedPayStaysQueued(t *testing.T) {
	w := newWorld(t)
	c := w.open(t, w.login(t, "alice"))
	defer c.Close()
	token := c.Session.Token
	c.Session.Token = "not a token"

	r, err := c.Sender().Pay(t.Context(), payTo("bob", 400))
	require.ErrorIs(t, err, client.ErrLoginAgain)
	require.Nil(t, r)
	pending, err := c.Queue.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, client.StateQueued, pending[0].State)
	require.Equal(t, "unauthenticated", pending[0].LastError)
	done, err := c.Queue.Done()
	require.NoError(t, err)
	require.Empty(t, done)
	require.Equal(t, int64(100000), w.posted(t, "BankA", "1001"))

	c.Session.Token = token // logged in again
	results, err := c.Sender().Flush(t.Context())
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, pending[0].ID(), results[0].Entry.ID())
	require.Equal(t, client.OutcomeCommitted, results[0].Outcome)
	require.Equal(t, 1, w.debits(t, "BankA", "1001", pending[0].ID()))
}

// TestMemoRefusedBeforeQueueing: a memo the gateway would refuse is
// refused by Pay with the reason, and nothing is queued. An entry queued
// before the rule existed (put in the queue directly here) is sent as it
// is and comes back REJECTED with the gateway's reason, like any refusal;
// nothing moves.
func TestMemoRefusedBeforeQueueing(t *testing.T) {
	w := newWorld(t)
	c := w.open(t, w.login(t, "alice"))
	defer c.Close()

	for _, memo := range []string{"nul\x00", "two\nlines", "\x1b[31mred", "evil\u202Etxt.exe"} {
		req := payTo("bob", 100)
		req.Memo = memo
		r, err := c.Sender().Pay(t.Context(), req)
		require.ErrorContains(t, err, "memo is not valid text", "%q", memo)
		require.Nil(t, r)
	}
	n, err := c.Queue.Len()
	require.NoError(t, err)
	require.Zero(t, n, "a refused memo was queued")

	old := payTo("bob", 100)
	old.Memo = "\x1b[2Jold"
	e, err := c.Queue.Add(old)
	require.NoError(t, err)
	results, err := c.Sender().Flush(t.Context())
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, e.ID(), results[0].Entry.ID())
	require.Equal(t, client.OutcomeRejected, results[0].Outcome)
	require.Contains(t, results[0].Message, "memo is not valid text: control character U+001B at byte 0")
	require.Equal(t, int64(100000), w.posted(t, "BankA", "1001"))
}
