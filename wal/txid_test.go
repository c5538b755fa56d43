package wal_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

func TestParseTxIDRefusesWhatTheLogCannotIndex(t *testing.T) {
	id := newID()
	got, err := wal.ParseTxID(id.String())
	require.NoError(t, err)
	require.Equal(t, id, got)
	_, err = wal.ParseTxID("7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
	require.NoError(t, err, "the largest ULID is an ID like any other")

	for name, s := range map[string]string{
		"empty":         "",
		"too short":     id.String()[:25],
		"too long":      id.String() + "0",
		"not base32":    "0000000000000000000000000U",
		"overflows":     "80000000000000000000000000",
		"the zero ULID": "00000000000000000000000000",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := wal.ParseTxID(s)
			require.Error(t, err)
			require.Contains(t, err.Error(), s)
		})
	}
	_, err = wal.ParseTxID(strings.Repeat("0", 26))
	require.ErrorIs(t, err, wal.ErrZeroTxID)
	require.ErrorIs(t, wal.CheckTxID(ulid.ULID{}), wal.ErrZeroTxID)
	require.NoError(t, wal.CheckTxID(id))
}

// A record of a transaction with the zero ID would be written but never
// found by Lookup (the index skips it): Append refuses it, for every type
// that belongs to a transaction, and writes nothing.
func TestAppendRefusesTheZeroIDForTransactionalTypes(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "wal.db"))
	var transactional, other []wal.Type
	for n := range 256 {
		typ := wal.Type(n)
		switch {
		case typ.Transactional():
			transactional = append(transactional, typ)
		case typ.Known():
			other = append(other, typ)
		}
	}
	require.Len(t, transactional, 14)
	require.ElementsMatch(t, []wal.Type{ledger.TypeAccountOpened, ledger.TypeAccountUpdated, ledger.TypeDeposited,
		coordinator.TypeEpochBegun, users.TypeUserRegistered, users.TypeUserUpdated, users.TypeTokenRevoked, users.TypeTokensPruned, users.TypeBankKnown}, other)

	for _, typ := range transactional {
		err := l.Append(func(tx *wal.Tx) error {
			_, err := tx.Append(wal.Record{Type: typ, Attempt: 1})
			return err
		})
		require.ErrorIs(t, err, wal.ErrZeroTxID, "%v", typ)
		require.ErrorContains(t, err, typ.String())
	}
	require.Empty(t, scanAll(t, l), "nothing written")

	id := newID()
	for _, typ := range transactional {
		appendOne(t, l, wal.Record{Type: typ, TxID: id, Attempt: 1})
	}
	for _, typ := range other {
		appendOne(t, l, wal.Record{Type: typ})
	}
	var indexed []wal.Type
	for _, typ := range transactional {
		if typ.Indexed() {
			indexed = append(indexed, typ)
		}
	}
	require.ElementsMatch(t, []wal.Type{ledger.TypePrepared, ledger.TypeCommitted, ledger.TypeAborted}, indexed, "only a bank's 2PC records are looked up")
	require.NoError(t, l.View(func(tx *wal.Tx) error {
		recs, err := tx.Lookup(id, 1)
		var found []wal.Type
		for _, r := range recs {
			found = append(found, r.Type)
		}
		require.Equal(t, indexed, found, "every indexed record of the transaction is found again, in order")
		return err
	}))
	require.NoError(t, l.View(func(tx *wal.Tx) error { return tx.Verify() }))
}

// FuzzParseTxID: whatever the text, ParseTxID never accepts an ID the log
// cannot index, and what it accepts is the text's ULID.
func FuzzParseTxID(f *testing.F) {
	for _, s := range []string{"", "00000000000000000000000000", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "80000000000000000000000000", newID().String()} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := wal.ParseTxID(s)
		if err != nil {
			return
		}
		require.NoError(t, wal.CheckTxID(id))
		require.Equal(t, strings.ToUpper(s), id.String())
	})
}

// Two owners cannot claim one record type: the second registration panics
// when the program starts, rather than let one owner's records be read as
// the other's. Nor can a type go without a number or a name.
func TestRegisterTypeRefusesATakenNumber(t *testing.T) {
	require.PanicsWithValue(t, "wal: record type 1 registered twice (PREPARED and MINE)", func() {
		wal.RegisterType(ledger.TypePrepared, wal.TypeInfo{Name: "MINE"})
	})
	require.Panics(t, func() { wal.RegisterType(0, wal.TypeInfo{Name: "ZERO"}) })
	require.Panics(t, func() { wal.RegisterType(255, wal.TypeInfo{}) })
	require.False(t, wal.Type(255).Known(), "a refused registration leaves nothing behind")
	require.Equal(t, "PREPARED", ledger.TypePrepared.String())
}
