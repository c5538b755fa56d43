package bankd_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// batchSize is how many payments each batch of the crash test carries.
const batchSize = 8

// sentBatch is one Batch call of batchLoad: the Prepares or the Commits of
// batchSize payments of 1 from alice, and whether the bank answered it.
type sentBatch struct {
	commit bool
	ids    []ulid.ULID
	acked  bool
}

func (b *sentBatch) request() *strifev1.BatchRequest {
	req := &strifev1.BatchRequest{}
	for _, id := range b.ids {
		item := &strifev1.BatchItem{Message: &strifev1.BatchItem_Prepare{Prepare: &strifev1.PrepareRequest{TransactionId: id.String(), Attempt: 1, Legs: []*strifev1.Leg{debit(alice, 1)}}}}
		if b.commit {
			item = &strifev1.BatchItem{Message: &strifev1.BatchItem_Commit{Commit: &strifev1.CommitRequest{TransactionId: id.String(), Attempt: 1}}}
		}
		req.Items = append(req.Items, item)
	}
	return req
}

// batchLoad is workers that each send a batch of Prepares, then a batch of
// the same payments' Commits, and again, as the gateway's batching does,
// until a call fails. It remembers every batch sent.
type batchLoad struct {
	acked atomic.Int64 // commit batches answered
	wg    sync.WaitGroup

	mu      sync.Mutex
	batches []*sentBatch
}

func startBatchLoad(t *testing.T, c strifev1.BankServiceClient, workers int) *batchLoad {
	l := &batchLoad{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); l.wg.Wait() })
	for range workers {
		l.wg.Go(func() {
			for range 10_000 {
				ids := make([]ulid.ULID, batchSize)
				for i := range ids {
					ids[i] = ulid.Make()
				}
				if !l.send(ctx, t, c, &sentBatch{ids: ids}) || !l.send(ctx, t, c, &sentBatch{commit: true, ids: ids}) {
					return
				}
				l.acked.Add(1)
			}
		})
	}
	return l
}

// send sends one batch and reports whether the bank answered it with
// every item a success. An item that failed fails the test through assert,
// not require: send runs on the load's goroutines too, where FailNow may
// not be called.
func (l *batchLoad) send(ctx context.Context, t *testing.T, c strifev1.BankServiceClient, b *sentBatch) bool {
	l.mu.Lock()
	l.batches = append(l.batches, b)
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := c.Batch(ctx, b.request())
	if err != nil {
		return false
	}
	for _, r := range resp.GetResults() {
		var ok bool
		if b.commit {
			ok = assert.NotNil(t, r.GetCommit(), "result %v", r)
		} else {
			ok = assert.Equal(t, strifev1.Vote_VOTE_YES, r.GetPrepare().GetVote(), "result %v", r)
		}
		if !ok {
			return false
		}
	}
	l.mu.Lock()
	b.acked = true
	l.mu.Unlock()
	return true
}

// A bank killed while batches are in flight keeps every batch it answered,
// and of the others each wholly or not at all (one commit each); sending
// every batch again after the restart repeats nothing: each payment is
// posted exactly once.
func TestSIGKILLMidBatchLosesNothingAcknowledgedAndRepeatsNothing(t *testing.T) {
	pki := banktest.NewPKI(t)
	dataDir := banktest.DataDir(t)
	bank := startBank(t, pki, bankFlags{DataDir: dataDir, Seed: seedPath(t)})
	load := startBatchLoad(t, bank.Client(), 4)
	waitFor(t, processTimeout, "30 batches committed", func() bool { return load.acked.Load() >= 30 })
	bank.Kill()
	load.wg.Wait()

	restarted := startBank(t, pki, bankFlags{DataDir: dataDir})
	c := restarted.Client()
	posted := map[ulid.ULID]int{}
	for _, e := range payments(listEntries(t, c, alice)) {
		posted[ulid.MustParseStrict(e.GetTransactionId())]++
	}
	load.mu.Lock()
	batches := load.batches
	load.mu.Unlock()
	var held int64
	for _, b := range batches {
		n := 0
		for _, id := range b.ids {
			require.LessOrEqual(t, posted[id], 1, "payment %s posted twice", id)
			n += posted[id]
		}
		switch {
		case b.commit && b.acked:
			require.Equal(t, batchSize, n, "an answered batch of commits is posted")
		case b.commit:
			require.Contains(t, []int{0, batchSize}, n, "a batch of commits is posted wholly or not at all")
		}
	}
	for _, b := range batches {
		if b.commit {
			continue
		}
		n := 0
		for _, id := range b.ids {
			n += posted[id]
		}
		held += int64(batchSize - n)
	}
	account := getAccount(t, c, alice)
	require.LessOrEqual(t, account.GetHeld(), held, "holds only for payments prepared and not posted")
	require.Zero(t, account.GetHeld()%batchSize, "a batch of prepares holds wholly or not at all: held %d", account.GetHeld())
	t.Logf("%d batches sent, %d payments posted, %d held", len(batches), len(posted), account.GetHeld())

	// Everything again, as a gateway resending after the crash would: each
	// prepare gets YES (the first vote, or a new one), each commit is
	// acknowledged, and each payment is posted once.
	var all []ulid.ULID
	for _, b := range batches {
		if b.commit {
			continue
		}
		for _, again := range []*sentBatch{{ids: b.ids}, {commit: true, ids: b.ids}} {
			require.True(t, load.send(t.Context(), t, c, again))
		}
		all = append(all, b.ids...)
	}
	require.Len(t, payments(listEntries(t, c, alice)), len(all), "one entry per payment")
	account = getAccount(t, c, alice)
	require.Equal(t, aliceOpening-int64(len(all)), account.GetPostedBalance())
	require.Zero(t, account.GetHeld())
	require.Zero(t, restarted.Stop())
	requireVerified(t, dataDir)
}

// payments are the entries of payments: all but the opening deposit.
func payments(entries []*strifev1.Entry) []*strifev1.Entry {
	var out []*strifev1.Entry
	for _, e := range entries {
		if e.GetKind() != strifev1.EntryKind_ENTRY_KIND_DEPOSIT {
			out = append(out, e)
		}
	}
	return out
}
