package ledger_test

import (
	"fmt"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/internal/testkit/logtest"
	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// records returns the types and records of one attempt, in log order.
func (tl *testLedger) records(t *testing.T, id ulid.ULID, attempt uint32) ([]wal.Type, []wal.Record) {
	t.Helper()
	var recs []wal.Record
	require.NoError(t, tl.log.View(func(tx *wal.Tx) (err error) {
		recs, err = logtest.Records(tx, id, attempt)
		return err
	}))
	types := make([]wal.Type, len(recs))
	for i, r := range recs {
		types[i] = r.Type
	}
	return types, recs
}

func (tl *testLedger) entries(t *testing.T, number string) []ledger.Entry {
	t.Helper()
	var out []ledger.Entry
	require.NoError(t, tl.View(func(tx *ledger.Tx) (err error) {
		out, err = tx.Entries(number, 0, 1000)
		return err
	}))
	return out
}

func TestCommitSettlesEachHoldInOneEvent(t *testing.T) {
	tl := newLedger(t)
	tl.open(t, "1001", "alice", 500)
	tl.open(t, "1002", "bob", 0)
	id := newID()
	require.NoError(t, tl.prepare(debit(id, "1001", 100), credit(id, "1002", 100)))
	require.NoError(t, tl.decide(id, 1, true))

	types, recs := tl.records(t, id, 1)
	require.Equal(t, []wal.Type{ledger.TypePrepared, ledger.TypeHoldPlaced, ledger.TypeHoldPlaced, ledger.TypeCommitted, ledger.TypeSettled, ledger.TypeSettled}, types)
	at := clock().UnixNano()
	for i, want := range []*storagev1.Settled{
		{Number: "1001", Direction: ledger.Debit, Amount: 100, BalanceAfter: 400, Memo: "memo", Counterparty: "BankZ/9", TimeUnixNano: at},
		{Number: "1002", Direction: ledger.Credit, Amount: 100, BalanceAfter: 100, Memo: "memo", Counterparty: "BankZ/9", TimeUnixNano: at},
	} {
		got := &storagev1.Settled{}
		require.NoError(t, proto.Unmarshal(recs[4+i].Payload, got))
		require.True(t, proto.Equal(want, got), "want {%v}, got {%v}", want, got)
	}

	require.Equal(t, ledger.Entry{
		Seq: recs[4].Seq, Number: "1001", Kind: strifev1.EntryKind_ENTRY_KIND_DEBIT, Amount: -100, BalanceAfter: 400,
		TxID: id, Attempt: 1, Memo: "memo", Counterparty: "BankZ/9", Time: clock(),
	}, tl.entries(t, "1001")[0], "the entry is the SETTLED record")
	require.Equal(t, ledger.Entry{
		Seq: recs[5].Seq, Number: "1002", Kind: strifev1.EntryKind_ENTRY_KIND_CREDIT, Amount: 100, BalanceAfter: 100,
		TxID: id, Attempt: 1, Memo: "memo", Counterparty: "BankZ/9", Time: clock(),
	}, tl.entries(t, "1002")[0])
	alice, bob := tl.account(t, "1001"), tl.account(t, "1002")
	require.Equal(t, [3]int64{400, 0, 0}, [3]int64{alice.Balance, alice.Held, alice.Pending})
	require.Equal(t, [3]int64{100, 0, 0}, [3]int64{bob.Balance, bob.Held, bob.Pending})
	require.NoError(t, tl.View(func(tx *ledger.Tx) error {
		holds, err := tx.AllHolds()
		require.Empty(t, holds)
		return err
	}))
}

// settleFunc settles one hold of a committed attempt.
type settleFunc func(tx *ledger.Tx, h ledger.Hold) error

var (
	settleNow    settleFunc = func(tx *ledger.Tx, h ledger.Hold) error { return tx.SettleHold(h, "memo", "BankZ/9") }
	settleBefore settleFunc = func(tx *ledger.Tx, h ledger.Hold) error { return tx.SettleHoldAsBefore(h, "memo", "BankZ/9") }
)

// commitWith commits an attempt, settling its holds with settle.
func (tl *testLedger) commitWith(id ulid.ULID, settle settleFunc) error {
	return tl.Update(func(tx *ledger.Tx) error {
		if _, err := tx.Log().Append(wal.Record{Type: ledger.TypeCommitted, TxID: id, Attempt: 1}); err != nil {
			return err
		}
		holds, err := tx.Holds(id, 1)
		for _, h := range holds {
			if err == nil {
				err = settle(tx, h)
			}
		}
		return err
	})
}

// A data directory written before SETTLED existed settles with
// HOLD_RELEASED then POSTED; it must replay, verify and list its entries as
// it did, alone or with SETTLED records after it, and end up exactly where
// a log of SETTLED records does.
func TestLogsOfOldSettlementsStillReplayVerifyAndList(t *testing.T) {
	type outcome struct {
		Accounts map[string]ledger.Account
		Entries  map[string][]ledger.Entry
	}
	ways := []struct {
		name   string
		settle []settleFunc // by turns
		types  map[wal.Type]int
	}{
		{"old", []settleFunc{settleBefore}, map[wal.Type]int{ledger.TypeHoldReleased: 12, ledger.TypePosted: 12}},
		{"new", []settleFunc{settleNow}, map[wal.Type]int{ledger.TypeSettled: 12}},
		{"mixed", []settleFunc{settleBefore, settleNow}, map[wal.Type]int{ledger.TypeHoldReleased: 6, ledger.TypePosted: 6, ledger.TypeSettled: 6}},
	}
	outcomes := map[string]outcome{}
	for _, way := range ways {
		tl := newLedger(t)
		tl.open(t, "1001", "alice", 500)
		tl.open(t, "1002", "bob", 300)
		for i := range 6 {
			id, amount := newID(), int64(10*(i+1))
			payer, payee := "1001", "1002"
			if i%3 == 2 {
				payer, payee = payee, payer
			}
			require.NoError(t, tl.prepare(debit(id, payer, amount), credit(id, payee, amount)))
			require.NoError(t, tl.commitWith(id, way.settle[i%len(way.settle)]), way.name)
		}
		require.Equal(t, way.types, tl.settlementTypes(t), way.name)

		require.NoError(t, tl.Replay(), way.name)
		require.NoError(t, tl.Verify(), way.name)
		tl.reopen(t)
		o := outcome{Accounts: map[string]ledger.Account{}, Entries: map[string][]ledger.Entry{}}
		for _, n := range []string{"1001", "1002"} {
			o.Accounts[n] = tl.account(t, n)
			for _, e := range tl.entries(t, n) {
				e.Seq, e.TxID = 0, ulid.ULID{} // differ from log to log
				o.Entries[n] = append(o.Entries[n], e)
			}
		}
		outcomes[way.name] = o
	}
	want := outcomes["new"]
	require.Equal(t, int64(500-10-20+30-40-50+60), want.Accounts["1001"].Balance)
	require.Len(t, want.Entries["1001"], 7)
	require.Equal(t, ledger.Entry{Number: "1001", Kind: strifev1.EntryKind_ENTRY_KIND_CREDIT, Amount: 60, BalanceAfter: 470,
		Attempt: 1, Memo: "memo", Counterparty: "BankZ/9", Time: clock()}, want.Entries["1001"][0])
	require.Equal(t, want, outcomes["old"])
	require.Equal(t, want, outcomes["mixed"])
}

// settlementTypes counts the log's HOLD_RELEASED, POSTED and SETTLED records.
func (tl *testLedger) settlementTypes(t *testing.T) map[wal.Type]int {
	t.Helper()
	n := map[wal.Type]int{}
	require.NoError(t, tl.log.View(func(tx *wal.Tx) error {
		return tx.Scan(1, func(r wal.Record) error {
			switch r.Type {
			case ledger.TypeHoldReleased, ledger.TypePosted, ledger.TypeSettled:
				n[r.Type]++
			}
			return nil
		})
	}))
	return n
}

// apply refuses a SETTLED that does not settle the hold placed, whoever
// offers it: the whole write is rolled back.
func TestApplyRefusesASettledThatDoesNotMatch(t *testing.T) {
	tl := newLedger(t)
	tl.open(t, "1001", "alice", 500)
	tl.open(t, "1002", "bob", 0)
	id := newID()
	require.NoError(t, tl.prepare(debit(id, "1001", 100)))
	right := func() *storagev1.Settled {
		return &storagev1.Settled{Number: "1001", Direction: ledger.Debit, Amount: 100, BalanceAfter: 400}
	}
	type event struct {
		typ     wal.Type
		id      ulid.ULID
		payload proto.Message
	}
	settled := func(edit func(*storagev1.Settled)) event {
		e := right()
		edit(e)
		return event{ledger.TypeSettled, id, e}
	}
	cases := []struct {
		name   string
		events []event
		why    string
	}{
		{"another amount", []event{settled(func(e *storagev1.Settled) { e.Amount, e.BalanceAfter = 99, 401 })}, "does not match the hold placed"},
		{"another direction", []event{settled(func(e *storagev1.Settled) { e.Direction, e.BalanceAfter = ledger.Credit, 600 })}, "does not match the hold placed"},
		{"another account", []event{settled(func(e *storagev1.Settled) { e.Number, e.BalanceAfter = "1002", 0 })}, "does not match the hold placed"},
		{"no hold in that attempt", []event{{ledger.TypeSettled, newID(), right()}}, "does not match the hold placed"},
		{"twice", []event{settled(func(*storagev1.Settled) {}), settled(func(*storagev1.Settled) {})}, "does not match the hold placed"},
		{"released, then settled", []event{
			{ledger.TypeHoldReleased, id, &storagev1.HoldReleased{Number: "1001", Direction: ledger.Debit, Amount: 100}},
			settled(func(*storagev1.Settled) {}),
		}, "does not match the hold placed"},
		{"wrong balance after", []event{settled(func(e *storagev1.Settled) { e.BalanceAfter = 500 })}, "would be 400, event says 500"},
		{"unknown account", []event{settled(func(e *storagev1.Settled) { e.Number = "9999" })}, "does not match the hold placed"},
	}
	before := tl.account(t, "1001")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := tl.Update(func(tx *ledger.Tx) error {
				for _, e := range c.events {
					if err := tx.Emit(e.typ, e.id, 1, e.payload); err != nil {
						return err
					}
				}
				return nil
			})
			require.ErrorIs(t, err, ledger.ErrInconsistent)
			require.ErrorContains(t, err, "(SETTLED)")
			require.ErrorContains(t, err, c.why)
			require.Equal(t, before, tl.account(t, "1001"), "nothing written")
			holds, err := tl.holds(id)
			require.NoError(t, err)
			require.Equal(t, []ledger.Hold{debit(id, "1001", 100)}, holds)
		})
	}
}

// apply refuses a HOLD_PLACED whose amount is not positive, whoever offers
// it: settling such a hold would post the opposite of its direction.
func TestApplyRefusesAHoldThatIsNotPositive(t *testing.T) {
	tl := newLedger(t)
	tl.open(t, "1001", "alice", 500)
	id := newID()
	require.NoError(t, tl.prepare(debit(id, "1001", 100))) // room for a negative debit hold
	before := tl.account(t, "1001")
	for _, amount := range []int64{0, -5} {
		err := tl.Update(func(tx *ledger.Tx) error {
			return tx.Emit(ledger.TypeHoldPlaced, newID(), 1, &storagev1.HoldPlaced{Number: "1001", Direction: ledger.Debit, Amount: amount})
		})
		require.ErrorIs(t, err, ledger.ErrInconsistent)
		require.ErrorContains(t, err, "(HOLD_PLACED)")
		require.ErrorContains(t, err, fmt.Sprintf("amount %d", amount))
		require.Equal(t, before, tl.account(t, "1001"), "nothing written")
	}
}

func (tl *testLedger) holds(id ulid.ULID) (holds []ledger.Hold, err error) {
	err = tl.View(func(tx *ledger.Tx) error {
		holds, err = tx.Holds(id, 1)
		return err
	})
	return holds, err
}

// A SETTLED that does not match, appended behind the ledger's back, stops
// Replay and fails Verify.
func TestReplayRefusesASettledThatDoesNotMatch(t *testing.T) {
	tl := newLedger(t)
	tl.open(t, "1001", "alice", 500)
	id := newID()
	require.NoError(t, tl.prepare(debit(id, "1001", 100)))
	payload, err := proto.Marshal(&storagev1.Settled{Number: "1001", Direction: ledger.Debit, Amount: 90, BalanceAfter: 410})
	require.NoError(t, err)
	require.NoError(t, tl.log.Append(func(tx *wal.Tx) error {
		_, err := tx.Append(wal.Record{Type: ledger.TypeSettled, TxID: id, Attempt: 1, Payload: payload})
		return err
	}))
	err = tl.Replay()
	require.ErrorIs(t, err, ledger.ErrInconsistent)
	require.ErrorContains(t, err, "does not match the hold placed")
	require.Equal(t, int64(100), tl.account(t, "1001").Held, "a failed replay keeps the old projection")
	require.ErrorIs(t, tl.Verify(), ledger.ErrInconsistent)

	// Leave a log the cleanup check can accept.
	require.NoError(t, tl.log.Close())
	tl.path += ".fresh"
	tl.log = nil
	tl.reopen(t)
}

// Verify counts what a SETTLED posts: a bank's own postings need not cancel
// out (here one leg of a payment to another bank), and money created in the
// projection is found.
func TestVerifyCountsTheMoneySettledMoves(t *testing.T) {
	tl := newLedger(t)
	tl.open(t, "1001", "alice", 500)
	tl.open(t, "1002", "bob", 300)
	id := newID()
	require.NoError(t, tl.prepare(debit(id, "1001", 100)))
	require.NoError(t, tl.decide(id, 1, true))
	require.NoError(t, tl.Verify())

	tamperProjection(t, tl, func(state *bolt.Bucket) {
		accounts := state.Bucket([]byte("accounts"))
		a := &storagev1.AccountState{}
		require.NoError(t, proto.Unmarshal(accounts.Get([]byte("1002")), a))
		a.Balance += 50
		v, err := proto.Marshal(a)
		require.NoError(t, err)
		require.NoError(t, accounts.Put([]byte("1002"), v))
	})
	err := tl.Verify()
	require.ErrorIs(t, err, ledger.ErrInconsistent)
	require.ErrorContains(t, err, "balances add up to 750, deposits and postings to 700")

	require.NoError(t, tl.Replay())
	require.NoError(t, tl.Verify())
}
