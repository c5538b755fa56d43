package ledger_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

var clock = func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }

// testLedger is a ledger in a temporary file whose invariants are checked
// when the test ends, whatever the test did to it.
type testLedger struct {
	*ledger.Ledger
	log  *wal.Log
	path string
}

func newLedger(t *testing.T) *testLedger {
	t.Helper()
	tl := &testLedger{path: filepath.Join(t.TempDir(), "bank.db")}
	tl.reopen(t)
	t.Cleanup(func() {
		tl.log.Close()
		tl.reopen(t)
		require.NoError(t, tl.Verify(), "ledger invariants")
		tl.log.Close()
	})
	return tl
}

// reopen closes the log (if open) and opens the file again.
func (tl *testLedger) reopen(t *testing.T) {
	t.Helper()
	if tl.log != nil {
		require.NoError(t, tl.log.Close())
	}
	var err error
	tl.log, err = wal.Open(tl.path, wal.Options{})
	require.NoError(t, err)
	tl.Ledger, err = ledger.New(tl.log, clock)
	require.NoError(t, err)
}

func (tl *testLedger) account(t *testing.T, number string) ledger.Account {
	t.Helper()
	var a ledger.Account
	require.NoError(t, tl.View(func(tx *ledger.Tx) (err error) {
		a, err = tx.Account(number)
		return err
	}))
	return a
}

func (tl *testLedger) open(t *testing.T, number, owner string, opening int64) {
	t.Helper()
	require.NoError(t, tl.Update(func(tx *ledger.Tx) error {
		_, _, err := tx.OpenAccount(number, owner, opening)
		return err
	}))
}

// prepare places the holds of one attempt the way a participant does: a
// PREPARED record and the holds in one transaction, or nothing.
func (tl *testLedger) prepare(holds ...ledger.Hold) error {
	return tl.Update(func(tx *ledger.Tx) error {
		if _, err := tx.Log().Append(wal.Record{Type: ledger.TypePrepared, TxID: holds[0].TxID, Attempt: holds[0].Attempt}); err != nil {
			return err
		}
		for _, h := range holds {
			if err := tx.PlaceHold(h); err != nil {
				return err
			}
		}
		return nil
	})
}

// decide commits or aborts every hold of an attempt, with its 2PC record.
func (tl *testLedger) decide(id ulid.ULID, attempt uint32, commit bool) error {
	return tl.Update(func(tx *ledger.Tx) error {
		typ := ledger.TypeAborted
		if commit {
			typ = ledger.TypeCommitted
		}
		if _, err := tx.Log().Append(wal.Record{Type: typ, TxID: id, Attempt: attempt}); err != nil {
			return err
		}
		holds, err := tx.Holds(id, attempt)
		if err != nil {
			return err
		}
		for _, h := range holds {
			if commit {
				err = tx.SettleHold(h, "memo", "BankZ/9")
			} else {
				err = tx.ReleaseHold(h)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}
