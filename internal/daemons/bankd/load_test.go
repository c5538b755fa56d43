package bankd_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// payLoad is payments of 1 from alice, as a gateway would make them:
// each worker prepares then commits one payment after another, each with a
// new transaction ID, until a call fails (the bank went away) or the test
// ends. It records what each payment got to.
type payLoad struct {
	acked    atomic.Int64
	inFlight atomic.Int64
	wg       sync.WaitGroup

	mu        sync.Mutex
	attempted map[ulid.ULID]bool // Prepare sent
	prepared  map[ulid.ULID]bool // Prepare answered YES
	committed map[ulid.ULID]bool // Commit answered OK
	errs      []error            // the call that ended each worker
}

func startPayLoad(t *testing.T, c strifev1.BankServiceClient, workers int) *payLoad {
	l := &payLoad{attempted: map[ulid.ULID]bool{}, prepared: map[ulid.ULID]bool{}, committed: map[ulid.ULID]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); l.wg.Wait() })
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for range 100_000 {
				if err := l.pay(ctx, c); err != nil {
					l.mu.Lock()
					l.errs = append(l.errs, err)
					l.mu.Unlock()
					return
				}
			}
		}()
	}
	return l
}

func (l *payLoad) pay(ctx context.Context, c strifev1.BankServiceClient) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	l.inFlight.Add(1)
	defer l.inFlight.Add(-1)
	id := ulid.Make()
	l.record(l.attempted, id)
	resp, err := c.Prepare(ctx, &strifev1.PrepareRequest{TransactionId: id.String(), Attempt: 1, Legs: []*strifev1.Leg{debit(alice, 1)}})
	if err != nil {
		return err
	}
	if resp.GetVote() != strifev1.Vote_VOTE_YES {
		return fmt.Errorf("Prepare %s voted %v (%v)", id, resp.GetVote(), resp.GetReason())
	}
	l.record(l.prepared, id)
	if _, err := c.Commit(ctx, &strifev1.CommitRequest{TransactionId: id.String(), Attempt: 1}); err != nil {
		return err
	}
	l.record(l.committed, id)
	l.acked.Add(1)
	return nil
}

func (l *payLoad) record(set map[ulid.ULID]bool, id ulid.ULID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	set[id] = true
}

// waitAcked waits until at least n commits have been acknowledged.
func (l *payLoad) waitAcked(t *testing.T, n int64) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%d commits acknowledged", n), func() bool { return l.acked.Load() >= n })
}

// wait waits for every worker to end, which they do at their first failed
// call, and requires that each failed as a call to a bank that is gone:
// UNAVAILABLE, never an INTERNAL error or a NO vote.
func (l *payLoad) wait(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * callTimeout):
		t.Fatal("payment workers still running after the bank went away")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.errs {
		require.Equal(t, codes.Unavailable, status.Code(err), "error: %v", err)
	}
}

// outcome splits the payments by what the bank's entries say: posted are
// the attempts with a DEBIT entry. It requires that every posted payment
// was attempted once and every acknowledged one is posted.
func (l *payLoad) outcome(t *testing.T, entries []*strifev1.Entry) (posted map[ulid.ULID]bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	posted = map[ulid.ULID]bool{}
	for _, e := range entries {
		if e.GetKind() != strifev1.EntryKind_ENTRY_KIND_DEBIT {
			continue
		}
		id := ulid.MustParseStrict(e.GetTransactionId())
		require.True(t, l.attempted[id], "entry %d for a payment never attempted: %s", e.GetSeq(), id)
		require.False(t, posted[id], "payment %s posted twice", id)
		require.Equal(t, int64(-1), e.GetAmount())
		posted[id] = true
	}
	for id := range l.committed {
		require.True(t, posted[id], "acknowledged commit %s is not in the ledger", id)
	}
	return posted
}

// undecided returns the attempts that were prepared, or may have been, and
// have no entry: mustHold got a YES vote, mayHold was only sent.
func (l *payLoad) undecided(posted map[ulid.ULID]bool) (mustHold, mayHold map[ulid.ULID]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	mustHold, mayHold = map[ulid.ULID]bool{}, map[ulid.ULID]bool{}
	for id := range l.attempted {
		if posted[id] {
			continue
		}
		mayHold[id] = true
		if l.prepared[id] {
			mustHold[id] = true
		}
	}
	return mustHold, mayHold
}
