package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/coordinator"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// fakeBank answers BankService.Batch calls for a GRPCParticipant: every
// Prepare YES and every Commit and Abort acknowledged, unless answer says
// otherwise. With hold set, each call waits until release lets it go, so
// that a test can queue messages behind it.
type fakeBank struct {
	hold    bool
	answer  func(i int, item *strifev1.BatchItem) *strifev1.BatchResult // nil: the usual answer
	callErr error                                                       // fails every call, if set
	short   bool                                                        // answers no item at all

	mu      sync.Mutex
	calls   [][]*strifev1.BatchItem
	entered chan struct{} // a value as each held call starts
	release chan struct{}
}

func newFakeBank() *fakeBank {
	return &fakeBank{entered: make(chan struct{}, 64), release: make(chan struct{}, 64)}
}

func (f *fakeBank) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	if method != "/strife.v1.BankService/Batch" {
		return status.Errorf(codes.Unimplemented, "fake bank: %s", method)
	}
	items := args.(*strifev1.BatchRequest).GetItems()
	f.mu.Lock()
	f.calls = append(f.calls, items)
	f.mu.Unlock()
	if f.hold {
		f.entered <- struct{}{}
		select {
		case <-f.release:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	if f.callErr != nil {
		return f.callErr
	}
	resp := reply.(*strifev1.BatchResponse)
	if f.short {
		return nil
	}
	for i, item := range items {
		res := usualAnswer(item)
		if f.answer != nil {
			if r := f.answer(i, item); r != nil {
				res = r
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return nil
}

func (f *fakeBank) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("fake bank: no streams")
}

func usualAnswer(item *strifev1.BatchItem) *strifev1.BatchResult {
	switch item.GetMessage().(type) {
	case *strifev1.BatchItem_Prepare:
		return &strifev1.BatchResult{Result: &strifev1.BatchResult_Prepare{Prepare: &strifev1.PrepareResponse{Vote: strifev1.Vote_VOTE_YES}}}
	case *strifev1.BatchItem_Commit:
		return &strifev1.BatchResult{Result: &strifev1.BatchResult_Commit{Commit: &strifev1.CommitResponse{}}}
	case *strifev1.BatchItem_Resolve:
		return &strifev1.BatchResult{Result: &strifev1.BatchResult_Resolve{Resolve: &strifev1.ResolveAttemptResponse{Vote: strifev1.Vote_VOTE_YES}}}
	}
	return &strifev1.BatchResult{Result: &strifev1.BatchResult_Abort{Abort: &strifev1.AbortResponse{}}}
}

// sizes returns the number of items of each call so far.
func (f *fakeBank) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, c := range f.calls {
		out = append(out, len(c))
	}
	return out
}

// items returns every item sent, in the order the bank received them.
func (f *fakeBank) items() []*strifev1.BatchItem {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*strifev1.BatchItem
	for _, c := range f.calls {
		out = append(out, c...)
	}
	return out
}

// commitIDs returns the transaction IDs of every Commit sent, in the order
// the bank received them.
func (f *fakeBank) commitIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		for _, item := range c {
			if m := item.GetCommit(); m != nil {
				out = append(out, m.GetTransactionId())
			}
		}
	}
	return out
}

func (f *fakeBank) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-f.entered:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no call reached the bank")
	}
}

// inFlight starts a Prepare that becomes the call the bank holds, and
// returns once the bank has it.
func inFlight(t *testing.T, f *fakeBank, p *coordinator.GRPCParticipant) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := p.Prepare(context.Background(), ulid.Make(), 1, nil, "")
		done <- err
	}()
	f.waitEntered(t)
	return done
}

// commitAsync sends a Commit from a goroutine of its own and returns its
// result channel once the message is queued.
func commitAsync(t *testing.T, ctx context.Context, p *coordinator.GRPCParticipant, id ulid.ULID) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	before := coordinator.Queued(p)
	go func() { done <- p.Commit(ctx, id, 1) }()
	require.Eventually(t, func() bool { return coordinator.Queued(p) > before }, 5*time.Second, time.Millisecond)
	return done
}

// prepareAsync is commitAsync for a Prepare.
func prepareAsync(t *testing.T, p *coordinator.GRPCParticipant, id ulid.ULID) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	before := coordinator.Queued(p)
	go func() {
		vote, err := p.Prepare(context.Background(), id, 1, nil, "")
		if err == nil && !vote.Yes {
			err = fmt.Errorf("vote %+v", vote)
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return coordinator.Queued(p) > before }, 5*time.Second, time.Millisecond)
	return done
}

func recvErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no answer")
		return nil
	}
}

// A message that finds no call in flight is sent at once, alone: a lone
// payer waits for nothing else.
func TestBatchingSendsALoneMessageAtOnce(t *testing.T) {
	f := newFakeBank()
	p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{})
	vote, err := p.Prepare(context.Background(), ulid.Make(), 1, nil, "")
	require.NoError(t, err)
	require.True(t, vote.Yes)
	require.Equal(t, []int{1}, f.sizes())
}

// While a call is in flight, messages queue; when it returns, all of them
// go in the next call, in the order they were queued, and no more than
// MaxItems in one call.
func TestMessagesQueuedDuringACallGoInTheNextCallsInOrder(t *testing.T) {
	f := newFakeBank()
	f.hold = true
	p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{MaxItems: 4})
	first := inFlight(t, f, p)
	var ids []string
	var done []<-chan error
	for range 10 {
		id := ulid.Make()
		ids = append(ids, id.String())
		done = append(done, commitAsync(t, context.Background(), p, id))
	}
	for range 4 { // the held call, then 4, 4 and 2
		f.release <- struct{}{}
	}
	require.NoError(t, recvErr(t, first))
	for _, ch := range done {
		require.NoError(t, recvErr(t, ch))
	}
	require.Equal(t, []int{1, 4, 4, 2}, f.sizes())
	require.Equal(t, ids, f.commitIDs())
}

// When a call returns, the next one is made at once by the first Prepare
// queued meanwhile, with everything queued before it: no timer is waited
// for, however long riders would linger.
func TestTheNextCallIsHandedToAPrepareQueuedMeanwhile(t *testing.T) {
	f := newFakeBank()
	f.hold = true
	p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{Linger: time.Hour})
	first := inFlight(t, f, p)
	committed := commitAsync(t, context.Background(), p, ulid.Make())
	prepared := prepareAsync(t, p, ulid.Make())
	f.release <- struct{}{}
	require.NoError(t, recvErr(t, first))
	f.waitEntered(t)
	f.release <- struct{}{}
	require.NoError(t, recvErr(t, committed))
	require.NoError(t, recvErr(t, prepared))
	require.Equal(t, []int{1, 2}, f.sizes())
}

// A Prepare that leads while riders linger ahead of it sends them first,
// as many calls as MaxItems makes it, and then its own: it is answered by
// the bank, and the batcher goes on serving.
func TestALeaderBehindLingeringRidersSendsThemAndItself(t *testing.T) {
	f := newFakeBank()
	f.hold = true
	p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{MaxItems: 2, Linger: time.Hour})
	first := inFlight(t, f, p)
	ids := []ulid.ULID{ulid.Make(), ulid.Make()}
	var committed []<-chan error
	for _, id := range ids {
		committed = append(committed, commitAsync(t, context.Background(), p, id))
	}
	f.release <- struct{}{}
	require.NoError(t, recvErr(t, first))
	require.Never(t, func() bool { return len(f.sizes()) > 1 }, 20*time.Millisecond, time.Millisecond, "the riders linger")

	f.hold = false
	vote, err := p.Prepare(context.Background(), ulid.Make(), 1, nil, "")
	require.NoError(t, err)
	require.True(t, vote.Yes)
	for _, ch := range committed {
		require.NoError(t, recvErr(t, ch))
	}
	require.Equal(t, []int{1, 2, 1}, f.sizes())
	vote, err = p.Prepare(context.Background(), ulid.Make(), 1, nil, "")
	require.NoError(t, err, "the batcher still serves")
	require.True(t, vote.Yes)
}

// Resolve is no rider: a restarted gateway waits for its answers.
func TestResolveLeadsACallAtOnce(t *testing.T) {
	f := newFakeBank()
	p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{Linger: time.Hour})
	vote, err := p.Resolve(context.Background(), ulid.Make(), 1)
	require.NoError(t, err)
	require.True(t, vote.Yes)
	require.Equal(t, []int{1}, f.sizes())
}

// A call that fails as a whole fails each of its messages with its error,
// as the single call would have failed; an item's own error is that
// item's only.
func TestBatchErrorsReachEachMessage(t *testing.T) {
	t.Run("the whole call", func(t *testing.T) {
		f := newFakeBank()
		f.callErr = status.Error(codes.Unavailable, "bank shutting down")
		p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{})
		_, err := p.Prepare(context.Background(), ulid.Make(), 1, nil, "")
		require.Equal(t, codes.Unavailable, status.Code(err))
		require.Equal(t, codes.Unavailable, status.Code(p.Commit(context.Background(), ulid.Make(), 1)))
		require.Equal(t, codes.Unavailable, status.Code(p.Abort(context.Background(), ulid.Make(), 1)))
	})
	t.Run("one item", func(t *testing.T) {
		f := newFakeBank()
		f.hold = true
		bad := ulid.Make()
		f.answer = func(_ int, item *strifev1.BatchItem) *strifev1.BatchResult {
			if item.GetCommit().GetTransactionId() == bad.String() {
				return &strifev1.BatchResult{Result: &strifev1.BatchResult_Error{Error: &strifev1.ItemError{Code: int32(codes.FailedPrecondition), Message: "attempt not prepared"}}}
			}
			if item.GetPrepare() != nil {
				return &strifev1.BatchResult{Result: &strifev1.BatchResult_Prepare{Prepare: &strifev1.PrepareResponse{Vote: strifev1.Vote_VOTE_NO, Reason: strifev1.Reason_REASON_INSUFFICIENT_FUNDS}}}
			}
			return nil
		}
		p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{})
		first := inFlight(t, f, p)
		good := commitAsync(t, context.Background(), p, ulid.Make())
		failing := commitAsync(t, context.Background(), p, bad)
		f.release <- struct{}{}
		f.release <- struct{}{}
		require.NoError(t, recvErr(t, first), "a NO vote is an answer, not an error")
		require.NoError(t, recvErr(t, good))
		err := recvErr(t, failing)
		require.Equal(t, codes.FailedPrecondition, status.Code(err))
		require.ErrorContains(t, err, "attempt not prepared")
	})
	t.Run("a NO vote", func(t *testing.T) {
		f := newFakeBank()
		f.answer = func(int, *strifev1.BatchItem) *strifev1.BatchResult {
			return &strifev1.BatchResult{Result: &strifev1.BatchResult_Prepare{Prepare: &strifev1.PrepareResponse{Vote: strifev1.Vote_VOTE_NO, Reason: strifev1.Reason_REASON_INSUFFICIENT_FUNDS}}}
		}
		p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{})
		vote, err := p.Prepare(context.Background(), ulid.Make(), 1, nil, "")
		require.NoError(t, err)
		require.Equal(t, coordinator.Vote{Reason: strifev1.Reason_REASON_INSUFFICIENT_FUNDS}, vote)
	})
	t.Run("answers that do not match the items", func(t *testing.T) {
		f := newFakeBank()
		f.answer = func(int, *strifev1.BatchItem) *strifev1.BatchResult {
			return &strifev1.BatchResult{Result: &strifev1.BatchResult_Abort{Abort: &strifev1.AbortResponse{}}}
		}
		p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{})
		_, err := p.Prepare(context.Background(), ulid.Make(), 1, nil, "")
		require.Equal(t, codes.Internal, status.Code(err))
		require.Equal(t, codes.Internal, status.Code(p.Commit(context.Background(), ulid.Make(), 1)))
	})
	t.Run("fewer answers than items", func(t *testing.T) {
		f := newFakeBank()
		f.short = true
		p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{})
		_, err := p.Prepare(context.Background(), ulid.Make(), 1, nil, "")
		require.Equal(t, codes.Internal, status.Code(err))
		require.ErrorContains(t, err, "answered 0 items of 1")
	})
}

// A message whose caller gives up while it is queued is answered with the
// caller's error and never sent.
func TestAMessageGivenUpWhileQueuedIsNotSent(t *testing.T) {
	f := newFakeBank()
	f.hold = true
	p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{})
	first := inFlight(t, f, p)
	ctx, cancel := context.WithCancel(context.Background())
	gone := commitAsync(t, ctx, p, ulid.Make())
	kept := ulid.Make()
	stays := commitAsync(t, context.Background(), p, kept)
	cancel()
	require.ErrorIs(t, recvErr(t, gone), context.Canceled)
	f.release <- struct{}{}
	f.release <- struct{}{}
	require.NoError(t, recvErr(t, first))
	require.NoError(t, recvErr(t, stays))
	require.Equal(t, []string{kept.String()}, f.commitIDs())
}

// Past MaxQueued messages queued or in flight, a caller waits for room,
// until its context ends; once a message is answered, a caller waiting
// takes its room.
func TestBatchingPushesBackWhenFull(t *testing.T) {
	f := newFakeBank()
	f.hold = true
	p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{MaxQueued: 2, Linger: 10 * time.Millisecond})
	first := inFlight(t, f, p)
	queued := commitAsync(t, context.Background(), p, ulid.Make())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Commit(ctx, ulid.Make(), 1), context.DeadlineExceeded, "no room: the caller waited for it until its deadline")

	waiting := make(chan error, 1)
	go func() { waiting <- p.Commit(context.Background(), ulid.Make(), 1) }()
	require.Never(t, func() bool { return coordinator.Queued(p) > 1 }, 30*time.Millisecond, time.Millisecond, "the third message waits for room")
	f.release <- struct{}{} // the held Prepare's call
	f.release <- struct{}{} // the riders' call, once they have lingered
	require.NoError(t, recvErr(t, first))
	require.NoError(t, recvErr(t, queued))
	require.NoError(t, recvErr(t, waiting), "it took the room the Prepare left")
	require.Equal(t, []int{1, 2}, f.sizes())
}

// Many callers, Prepares that lead and Commits that ride, some giving up
// at random moments, all get an answer, and every message that was not
// given up is answered by the bank: nothing is lost or left waiting,
// whoever leads the next call and however many calls it takes.
func TestBatchingUnderChurnLosesNoMessage(t *testing.T) {
	f := newFakeBank()
	p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{MaxItems: 2, MaxQueued: 32, Linger: time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 400 {
		wg.Go(func() {
			wait := 10 * time.Second // bounds the test if the batcher jams
			if i%3 == 0 {
				wait = time.Duration(i%7) * 100 * time.Microsecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			var err error
			if i%2 == 0 {
				_, err = p.Prepare(ctx, ulid.Make(), 1, nil, "")
			} else {
				err = p.Commit(ctx, ulid.Make(), 1)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	answered := 0
	for err := range errs {
		if err == nil {
			answered++
			continue
		}
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	require.GreaterOrEqual(t, len(f.items()), answered, "every answered message reached the bank")
	require.GreaterOrEqual(t, answered, 400*2/3, "every message without a deadline is answered")
	require.NoError(t, p.Commit(context.Background(), ulid.Make(), 1), "no room was leaked")
}

// A Commit (a rider: no client waits for it) that finds no call in flight
// waits up to Linger for a Prepare to ride with, so that the bank applies
// both in one commit; with none, it goes alone once Linger has passed.
func TestARiderWaitsForACallToRideWith(t *testing.T) {
	f := newFakeBank()
	p := coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{Linger: time.Hour})
	committed := commitAsync(t, context.Background(), p, ulid.Make())
	vote, err := p.Prepare(context.Background(), ulid.Make(), 1, nil, "")
	require.NoError(t, err)
	require.True(t, vote.Yes)
	require.NoError(t, recvErr(t, committed))
	require.Equal(t, []int{2}, f.sizes(), "the Commit rode with the Prepare")

	f = newFakeBank()
	p = coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{Linger: 20 * time.Millisecond})
	start := time.Now()
	require.NoError(t, p.Commit(context.Background(), ulid.Make(), 1))
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond, "it waited for company")
	require.Equal(t, []int{1}, f.sizes(), "then went alone")

	// Riders queued behind a call do not start the next one when it
	// returns: they wait for company as a rider that found no call does.
	f = newFakeBank()
	f.hold = true
	p = coordinator.NewBatchingParticipant(f, coordinator.BatchConfig{Linger: time.Hour})
	first := inFlight(t, f, p)
	committed = commitAsync(t, context.Background(), p, ulid.Make())
	f.release <- struct{}{}
	require.NoError(t, recvErr(t, first))
	require.Never(t, func() bool { return len(f.sizes()) > 1 }, 50*time.Millisecond, time.Millisecond, "the Commit lingers")
	second := inFlight(t, f, p)
	f.release <- struct{}{}
	require.NoError(t, recvErr(t, second))
	require.NoError(t, recvErr(t, committed))
	require.Equal(t, []int{1, 2}, f.sizes(), "the Commit rode with the next Prepare")
}
