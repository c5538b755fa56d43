package participant_test

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/tools/inspect"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/participant"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

func prepareItem(req *strifev1.PrepareRequest) *strifev1.BatchItem {
	return &strifev1.BatchItem{Message: &strifev1.BatchItem_Prepare{Prepare: req}}
}

func commitItem(id ulid.ULID) *strifev1.BatchItem {
	return &strifev1.BatchItem{Message: &strifev1.BatchItem_Commit{Commit: &strifev1.CommitRequest{TransactionId: id.String(), Attempt: 1}}}
}

func resolveItem(id ulid.ULID) *strifev1.BatchItem {
	return &strifev1.BatchItem{Message: &strifev1.BatchItem_Resolve{Resolve: &strifev1.ResolveAttemptRequest{TransactionId: id.String(), Attempt: 1}}}
}

func abortItem(id ulid.ULID) *strifev1.BatchItem {
	return &strifev1.BatchItem{Message: &strifev1.BatchItem_Abort{Abort: &strifev1.AbortRequest{TransactionId: id.String(), Attempt: 1}}}
}

// answer is a batch result as a test reads it: a vote, an acknowledgement
// ("ok"), or an error code.
func answer(r *strifev1.BatchResult) any {
	switch {
	case r.GetError() != nil:
		return codes.Code(r.GetError().GetCode())
	case r.GetPrepare() != nil:
		return vote{Vote: r.GetPrepare().GetVote(), Reason: r.GetPrepare().GetReason()}
	case r.GetResolve() != nil:
		return vote{Vote: r.GetResolve().GetVote(), Reason: r.GetResolve().GetReason()}
	}
	return "ok"
}

// One batch of YES and NO votes, repeats, conflicts, protocol errors and
// malformed items: each is answered as its single call would be, in order
// (an item sees what the items before it did), and none fails another.
func TestBatchAnswersEachItemOnItsOwn(t *testing.T) {
	var logs banktest.LogBuffer
	b := startBankWith(t, func(cfg *bankd.Config) { cfg.Log = zerolog.New(&logs) })
	b.open(t, "1001", 500)
	b.open(t, "1002", 0)
	repeated, funded, unfunded, tombstoned, unknown, lost := ulid.Make(), ulid.Make(), ulid.Make(), ulid.Make(), ulid.Make(), ulid.Make()
	overflow, held := ulid.Make(), ulid.Make()
	require.Equal(t, yes, b.prepare(t, prepareRequest(repeated, 1, debit("1001", 100))))

	items := []*strifev1.BatchItem{
		prepareItem(prepareRequest(funded, 1, debit("1001", 200))),
		prepareItem(prepareRequest(unfunded, 1, debit("1001", 201))), // 500 - 100 - 200 available
		prepareItem(prepareRequest(repeated, 1, debit("1001", 100))),
		prepareItem(prepareRequest(repeated, 1, debit("1001", 50))),
		commitItem(repeated),
		commitItem(unknown),
		abortItem(tombstoned),
		prepareItem(prepareRequest(tombstoned, 1, debit("1001", 10))),
		prepareItem(&strifev1.PrepareRequest{TransactionId: "not a ULID", Attempt: 1, Legs: []*strifev1.Leg{debit("1001", 1)}}),
		prepareItem(prepareRequest(overflow, 1, credit("1001", math.MaxInt64))),
		{},
		commitItem(funded),
		prepareItem(prepareRequest(held, 1, credit("1002", 5))),
		resolveItem(held),
		resolveItem(funded),
		resolveItem(lost),
		prepareItem(prepareRequest(lost, 1, debit("1001", 1))),
	}
	resp, err := b.client.Batch(t.Context(), &strifev1.BatchRequest{Items: items})
	require.NoError(t, err)
	var got []any
	for _, r := range resp.GetResults() {
		got = append(got, answer(r))
	}
	require.Equal(t, []any{
		yes,
		no(strifev1.Reason_REASON_INSUFFICIENT_FUNDS),
		yes,                                // the repeat gets the first answer
		codes.AlreadyExists,                // the same attempt with other legs
		"ok",                               // the repeated attempt commits
		codes.FailedPrecondition,           // never prepared
		"ok",                               // a tombstone
		no(strifev1.Reason_REASON_ABORTED), // after the tombstone in the same batch
		codes.InvalidArgument,              // malformed
		codes.InvalidArgument,              // would overflow
		codes.InvalidArgument,              // empty
		"ok",                               // committed after its own prepare in the same batch
		yes,
		yes,                                // resolving a prepared attempt keeps its hold
		yes,                                // resolving a committed attempt
		no(strifev1.Reason_REASON_ABORTED), // resolving an attempt never seen aborts it
		no(strifev1.Reason_REASON_ABORTED), // so its late Prepare votes NO
	}, got)
	require.Equal(t, balances{Posted: 200, Available: 200}, b.balances(t, "1001"))
	require.Equal(t, balances{Pending: 5}, b.balances(t, "1002"))

	// One audit line for the call, with its size and the range of its IDs.
	var lines []map[string]any
	for line := range strings.Lines(logs.String()) {
		var fields map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &fields))
		if fields["method"] == "/strife.v1.BankService/Batch" {
			lines = append(lines, fields)
		}
	}
	require.Len(t, lines, 1)
	require.EqualValues(t, len(items), lines[0]["items"])
	var ids []string
	for _, id := range []ulid.ULID{repeated, funded, unfunded, tombstoned, unknown, lost, overflow, held} {
		ids = append(ids, id.String())
	}
	require.Equal(t, slices.Min(ids), lines[0]["first_transaction_id"])
	require.Equal(t, slices.Max(ids), lines[0]["last_transaction_id"])
	require.Equal(t, "OK", lines[0]["code"], "the items' errors are theirs, not the call's")

	// Each message stays findable by its ID in the bank's log, as an
	// operator looks for it.
	b.stop(t)
	var out bytes.Buffer
	cmd := inspect.Command()
	cmd.SetArgs([]string{"tx", funded.String(), b.walPath()})
	cmd.SetOut(&out)
	require.NoError(t, cmd.Execute())
	for _, typ := range []string{"PREPARED", "COMMITTED", "SETTLED"} { // PREPARED places the hold
		require.Contains(t, out.String(), typ)
	}
	b.start(t)
}

// A batch with no items, or more than participant.MaxBatch, is refused as
// a whole, and nothing of it is written.
func TestBatchOfNoneOrTooManyItemsIsRefused(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	b.requireNoRecords(t, func() {
		_, err := b.client.Batch(t.Context(), &strifev1.BatchRequest{})
		requireCode(t, codes.InvalidArgument, err)
		items := make([]*strifev1.BatchItem, participant.MaxBatch+1)
		for i := range items {
			items[i] = prepareItem(prepareRequest(ulid.Make(), 1, debit("1001", 1)))
		}
		_, err = b.client.Batch(t.Context(), &strifev1.BatchRequest{Items: items})
		requireCode(t, codes.InvalidArgument, err)
	})
}

// An op refused before it writes anything (a protocol error, a malformed
// leg) needs nothing rolled back: a batch with many such ops still runs
// each op once, in one pass, and answers each as its single call would. An
// op that fails after writing is still rolled back alone.
func TestApplyRunsOpsRefusedBeforeWritingOnce(t *testing.T) {
	var runs atomic.Int64 // the ledger reads its clock once per function it runs
	clock := func() time.Time { runs.Add(1); return time.Now() }
	b := openBankWithClock(t, filepath.Join(t.TempDir(), "bank.db"), unreachable{}, time.Hour, clock)
	require.NoError(t, b.l.Update(func(tx *ledger.Tx) error { _, _, err := tx.OpenAccount("1001", "alice", 1000); return err }))
	committed, prepared, tombstoned := ulid.Make(), ulid.Make(), ulid.Make()
	b.debit(t, committed, 100)
	require.NoError(t, b.p.Commit(committed, 1))
	b.debit(t, prepared, 100)
	require.NoError(t, b.p.Abort(tombstoned, 1))

	leg := func(d ledger.Direction, amount int64) []*storagev1.Leg {
		return []*storagev1.Leg{{Number: "1001", Direction: d, Amount: amount}}
	}
	prepare := func(id ulid.ULID, legs []*storagev1.Leg) participant.Op {
		return participant.Op{Kind: participant.OpPrepare, Prepare: participant.Request{TxID: id, Attempt: 1, Legs: legs}}
	}
	on := func(kind participant.OpKind, id ulid.ULID) participant.Op {
		return participant.Op{Kind: kind, Attempt: participant.AttemptID{TxID: id, Attempt: 1}}
	}
	fresh := ulid.Make()
	ops := []participant.Op{
		prepare(fresh, leg(ledger.Debit, 200)),
		on(participant.OpCommit, ulid.Make()),
		on(participant.OpCommit, tombstoned),
		on(participant.OpAbort, committed),
		prepare(prepared, leg(ledger.Debit, 50)),
		prepare(ulid.Make(), leg(ledger.Debit, 0)),
		prepare(ulid.Make(), leg(ledger.Credit, math.MaxInt64)),
		{Kind: participant.OpKind(99)},
		on(participant.OpCommit, prepared),
		on(participant.OpCommit, fresh),
	}
	want := []error{nil, participant.ErrNotPrepared, participant.ErrAborted, participant.ErrCommitted, participant.ErrConflict,
		ledger.ErrInvalid, ledger.ErrBalanceOverflow, participant.ErrInvalid, nil, nil}
	runs.Store(0)
	out := b.p.Apply(ops)
	for i, o := range out {
		if want[i] == nil {
			require.NoError(t, o.Err, "op %d", i)
		} else {
			require.ErrorIs(t, o.Err, want[i], "op %d", i)
		}
	}
	require.True(t, out[0].Vote.Yes)
	require.EqualValues(t, len(ops), runs.Load(), "each op ran once")

	// Two debits of one account that it can afford one at a time (the
	// service refuses such legs; Apply does not) are refused: the second
	// is checked as if the first were held.
	_, err := b.p.Prepare(participant.Request{TxID: ulid.Make(), Attempt: 1, Legs: append(leg(ledger.Debit, 400), leg(ledger.Debit, 400)...)})
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	a := b.account(t, "1001")
	require.Equal(t, [2]int64{600, 0}, [2]int64{a.Balance, a.Held}, "three payments posted, nothing held")
}
