package participant_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/strife-pay/strife/internal/bankd"
	"github.com/strife-pay/strife/internal/inspect"
	"github.com/strife-pay/strife/internal/testbank"
	"github.com/strife-pay/strife/participant"
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
	var logs testbank.LogBuffer
	b := startBankWith(t, func(cfg *bankd.Config) { cfg.Log = zerolog.New(&logs) })
	b.open(t, "1001", 500)
	b.open(t, "1002", 0)
	repeated, funded, unfunded, tombstoned, unknown, lost := ulid.Make(), ulid.Make(), ulid.Make(), ulid.Make(), ulid.Make(), ulid.Make()
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
		prepareItem(prepareRequest(ulid.Make(), 1, credit("1001", math.MaxInt64))),
		{},
		commitItem(funded),
		prepareItem(prepareRequest(ulid.Make(), 1, credit("1002", 5))),
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
	ids := []string{repeated.String(), funded.String(), unfunded.String(), tombstoned.String(), unknown.String(), lost.String()}
	require.Equal(t, minOf(ids), lines[0]["first_transaction_id"])
	require.NotEmpty(t, lines[0]["last_transaction_id"])
	require.NotContains(t, lines[0], "transaction_id", "a batch has no one transaction")

	// Each message stays findable by its ID in the bank's log, as an
	// operator looks for it.
	b.stop(t)
	var out bytes.Buffer
	cmd := inspect.Command()
	cmd.SetArgs([]string{"tx", funded.String(), b.walPath()})
	cmd.SetOut(&out)
	require.NoError(t, cmd.Execute())
	for _, typ := range []string{"PREPARED", "HOLD_PLACED", "COMMITTED", "SETTLED"} {
		require.Contains(t, out.String(), typ)
	}
	b.start(t)
}

func minOf(ids []string) string {
	m := ids[0]
	for _, id := range ids {
		m = min(m, id)
	}
	return m
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
