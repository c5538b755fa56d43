package wal_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

// The functions of one AppendAll run in order in one transaction, each
// answered on its own: an error or a panic in one is that one's answer,
// leaves no trace, and the others are kept.
func TestAppendAllAnswersEachFunctionInOneCommit(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "wal.db"))
	boom := errors.New("boom")
	var fns []func(*wal.Tx) error
	txs := make([]int, 8)
	for i := range 8 {
		fns = append(fns, func(tx *wal.Tx) error {
			txs[i] = txOf(t, tx)
			if _, err := tx.Append(wal.Record{Type: ledger.TypeDeposited, Attempt: uint32(i)}); err != nil {
				return err
			}
			switch i {
			case 2:
				return boom
			case 5:
				panic("handler bug")
			}
			return nil
		})
	}
	errs := l.AppendAll(fns)
	require.Len(t, errs, 8)
	for i, err := range errs {
		switch i {
		case 2:
			require.ErrorIs(t, err, boom)
		case 5:
			require.ErrorContains(t, err, "handler bug")
		default:
			require.NoError(t, err, "function %d", i)
			require.Equal(t, txs[0], txs[i], "function %d commits with the others", i)
		}
	}
	var kept []uint32
	for _, r := range scanAll(t, l) {
		kept = append(kept, r.Attempt)
	}
	require.Equal(t, []uint32{0, 1, 3, 4, 6, 7}, kept, "in order, without the failed ones")
}

// An AppendAll larger than MaxBatch is not split: MaxBatch counts the calls
// that share a commit, and one AppendAll is one call.
func TestAppendAllIsNeverSplitAcrossCommits(t *testing.T) {
	l, err := wal.Open(filepath.Join(t.TempDir(), "wal.db"), wal.Options{MaxBatch: 2})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	txs := make([]int, 10)
	fns := make([]func(*wal.Tx) error, len(txs))
	for i := range fns {
		fns[i] = func(tx *wal.Tx) error { txs[i] = txOf(t, tx); return deposit(tx) }
	}
	for _, err := range l.AppendAll(fns) {
		require.NoError(t, err)
	}
	for i := range txs {
		require.Equal(t, txs[0], txs[i])
	}
	require.Len(t, scanAll(t, l), 10)
}

// A closed log refuses every function of an AppendAll.
func TestAppendAllAfterCloseFailsEachFunction(t *testing.T) {
	l, err := wal.Open(filepath.Join(t.TempDir(), "wal.db"), wal.Options{})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	errs := l.AppendAll([]func(*wal.Tx) error{deposit, deposit})
	require.Len(t, errs, 2)
	for _, err := range errs {
		require.ErrorIs(t, err, wal.ErrClosed)
	}
}
