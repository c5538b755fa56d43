package ledger_test

import (
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/testkit/logtest"
	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

func legs(id ulid.ULID, holds ...ledger.Hold) *storagev1.Prepared {
	p := &storagev1.Prepared{Memo: "rent"}
	for _, h := range holds {
		p.Legs = append(p.Legs, &storagev1.Leg{Number: h.Number, Direction: h.Direction, Amount: h.Amount, Counterparty: "BankB/9"})
	}
	return p
}

// Prepare writes one record, PREPARED, that places every leg's hold: the
// projection is the one a PREPARED followed by a HOLD_PLACED per leg makes
// (as banks wrote before), live, replayed, and after a decision.
func TestPreparePlacesItsHoldsInOneRecord(t *testing.T) {
	id := ulid.Make()
	holds := []ledger.Hold{
		{TxID: id, Attempt: 1, Number: "1001", Direction: ledger.Debit, Amount: 300},
		{TxID: id, Attempt: 1, Number: "1002", Direction: ledger.Credit, Amount: 300},
	}
	now, before := newLedger(t), newLedger(t)
	for _, tl := range []*testLedger{now, before} {
		tl.open(t, "1001", "alice", 500)
		tl.open(t, "1002", "bob", 0)
	}
	require.NoError(t, now.Update(func(tx *ledger.Tx) error { return tx.Prepare(id, 1, legs(id, holds...)) }))
	require.NoError(t, before.prepare(holds...))

	var recs []wal.Record
	require.NoError(t, now.log.View(func(tx *wal.Tx) (err error) { recs, err = logtest.Records(tx, id, 1); return err }))
	require.Len(t, recs, 1, "one record for the vote and its holds")
	require.Equal(t, ledger.TypePrepared, recs[0].Type)

	same := func(why string) {
		t.Helper()
		for _, n := range []string{"1001", "1002"} {
			require.Equal(t, before.account(t, n), now.account(t, n), "%s: account %s", why, n)
		}
		var got, want []ledger.Hold
		require.NoError(t, now.View(func(tx *ledger.Tx) (err error) { got, err = tx.Holds(id, 1); return err }))
		require.NoError(t, before.View(func(tx *ledger.Tx) (err error) { want, err = tx.Holds(id, 1); return err }))
		require.Equal(t, want, got, why)
	}
	same("live")
	require.Equal(t, int64(300), now.account(t, "1001").Held)
	require.Equal(t, int64(300), now.account(t, "1002").Pending)

	require.NoError(t, now.Replay())
	same("replayed")

	require.NoError(t, now.decide(id, 1, true))
	require.NoError(t, before.decide(id, 1, true))
	same("committed")
	require.Equal(t, int64(200), now.account(t, "1001").Balance)
}

// The legs of one attempt are checked together, each as if the holds
// before it were placed: two debits an account can afford one at a time
// but not both are refused, and nothing is written.
func TestPrepareChecksTheLegsTogether(t *testing.T) {
	tl := newLedger(t)
	tl.open(t, "1001", "alice", 500)
	tl.open(t, "1002", "bob", 0)
	id := ulid.Make()
	debit := ledger.Hold{TxID: id, Attempt: 1, Number: "1001", Direction: ledger.Debit, Amount: 300}
	var last uint64
	require.NoError(t, tl.log.View(func(tx *wal.Tx) error { last = tx.LastSeq(); return nil }))

	err := tl.Update(func(tx *ledger.Tx) error { return tx.Prepare(id, 1, legs(id, debit, debit)) })
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	require.NoError(t, tl.log.View(func(tx *wal.Tx) error { require.Equal(t, last, tx.LastSeq()); return nil }))
	require.Zero(t, tl.account(t, "1001").Held)

	credit := ledger.Hold{TxID: id, Attempt: 1, Number: "1002", Direction: ledger.Credit, Amount: 1 << 62}
	err = tl.Update(func(tx *ledger.Tx) error { return tx.Prepare(id, 1, legs(id, credit, credit)) })
	require.ErrorIs(t, err, ledger.ErrBalanceOverflow)
}
