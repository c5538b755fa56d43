package participant_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/participant"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// zeroID is the zero ULID: a valid ULID as text, but not a transaction ID,
// since the log does not index it (wal.CheckTxID). A Prepare under it used
// to vote YES and hold the money for good: no Commit could find it.
const zeroID = "00000000000000000000000000"

// requireZeroIDRefused requires call, made with the zero ID against a bank
// holding a prepared attempt, to be INVALID_ARGUMENT, with nothing written
// and the account as it was.
func requireZeroIDRefused(t *testing.T, call func(b *testBank, ctx context.Context) error) {
	t.Helper()
	b := startBank(t)
	b.open(t, "1001", 500)
	require.Equal(t, yes, b.prepare(t, prepareRequest(ulid.Make(), 1, debit("1001", 100))))
	before := b.balances(t, "1001")
	b.requireNoRecords(t, func() {
		err := call(b, t.Context())
		requireCode(t, codes.InvalidArgument, err)
		require.Contains(t, err.Error(), "zero ULID")
	})
	require.Equal(t, before, b.balances(t, "1001"))
}

func TestPrepareRefusesTheZeroID(t *testing.T) {
	requireZeroIDRefused(t, func(b *testBank, ctx context.Context) error {
		_, err := b.client.Prepare(ctx, &strifev1.PrepareRequest{TransactionId: zeroID, Attempt: 1, Legs: []*strifev1.Leg{debit("1001", 10)}})
		return err
	})
}

func TestCommitRefusesTheZeroID(t *testing.T) {
	requireZeroIDRefused(t, func(b *testBank, ctx context.Context) error {
		_, err := b.client.Commit(ctx, &strifev1.CommitRequest{TransactionId: zeroID, Attempt: 1})
		return err
	})
}

func TestAbortRefusesTheZeroID(t *testing.T) {
	requireZeroIDRefused(t, func(b *testBank, ctx context.Context) error {
		_, err := b.client.Abort(ctx, &strifev1.AbortRequest{TransactionId: zeroID, Attempt: 1})
		return err
	})
}

func TestResolveAttemptRefusesTheZeroID(t *testing.T) {
	requireZeroIDRefused(t, func(b *testBank, ctx context.Context) error {
		_, err := b.client.ResolveAttempt(ctx, &strifev1.ResolveAttemptRequest{TransactionId: zeroID, Attempt: 1})
		return err
	})
}

// In a Batch, each item under the zero ID gets its own INVALID_ARGUMENT;
// the items around it are applied as usual.
func TestBatchRefusesZeroIDItemsOnTheirOwn(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	id := ulid.Make()
	zeroPrepare := prepareRequest(ulid.Make(), 1, debit("1001", 10))
	zeroPrepare.TransactionId = zeroID
	zero := func(item *strifev1.BatchItem) *strifev1.BatchItem {
		switch m := item.GetMessage().(type) {
		case *strifev1.BatchItem_Commit:
			m.Commit.TransactionId = zeroID
		case *strifev1.BatchItem_Abort:
			m.Abort.TransactionId = zeroID
		case *strifev1.BatchItem_Resolve:
			m.Resolve.TransactionId = zeroID
		}
		return item
	}
	items := []*strifev1.BatchItem{
		prepareItem(prepareRequest(id, 1, debit("1001", 100))),
		prepareItem(zeroPrepare),
		zero(commitItem(id)),
		zero(abortItem(id)),
		zero(resolveItem(id)),
		commitItem(id),
	}
	resp, err := b.client.Batch(t.Context(), &strifev1.BatchRequest{Items: items})
	require.NoError(t, err)
	var got []any
	for _, r := range resp.GetResults() {
		got = append(got, answer(r))
		if e := r.GetError(); e != nil {
			require.Contains(t, e.GetMessage(), "zero ULID")
		}
	}
	require.Equal(t, []any{yes, codes.InvalidArgument, codes.InvalidArgument, codes.InvalidArgument, codes.InvalidArgument, "ok"}, got)
	require.Equal(t, balances{Posted: 400, Available: 400}, b.balances(t, "1001"), "only the real payment moved")
}

// The Participant refuses the zero ID itself, for callers other than the
// Service (the in-doubt resolver, tools), before reading or writing.
func TestParticipantRefusesTheZeroID(t *testing.T) {
	b := newBankWithAccount(t, newScripted(0), time.Hour)
	var zero ulid.ULID
	_, err := b.p.Prepare(participant.Request{TxID: zero, Attempt: 1, Coordinator: "gateway-1",
		Legs: []*storagev1.Leg{{Number: "1001", Direction: ledger.Debit, Amount: 10}}})
	require.ErrorIs(t, err, participant.ErrInvalid)
	require.ErrorIs(t, b.p.Commit(zero, 1), participant.ErrInvalid)
	require.ErrorIs(t, b.p.Abort(zero, 1), participant.ErrInvalid)
	_, err = b.p.Resolve(zero, 1)
	require.ErrorIs(t, err, participant.ErrInvalid)
	require.Zero(t, b.account(t, "1001").Held, "nothing held")
}

// A hold under the zero ID in a log from before it was refused
// (testdata/zero-id/BankA.db) is not asked about: the coordinator would
// refuse the question, and no answer could be applied. The bank opens, and
// resolves its other attempts in doubt as usual.
func TestAZeroIDHoldFromAnOldLogIsNotAskedAbout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BankA.db")
	data, err := os.ReadFile("../testdata/zero-id/BankA.db")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))

	coord := newScripted(0)
	b := openBank(t, path, coord, time.Hour)
	require.Equal(t, int64(2500), b.account(t, "1001").Held, "the fixture's hold")
	other := ulid.Make()
	coord.decisions[other] = participant.DecisionAbort
	b.debit(t, other, 100)
	b.close()

	b = openBank(t, path, coord, 10*time.Millisecond)
	eventually(t, func() bool { return coord.callsFor(other) == 1 && b.account(t, "1001").Held == 2500 }, "the other attempt resolved")
	b.close() // stops every resolver; the zero hold fails Verify, as strife-recover check reports it
	require.Zero(t, coord.callsFor(ulid.ULID{}), "the zero ID is never asked about")
}
