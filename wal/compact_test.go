package wal_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

func size(t *testing.T, l *wal.Log) int64 {
	t.Helper()
	var n int64
	require.NoError(t, l.View(func(tx *wal.Tx) error { n = tx.Size(); return nil }))
	return n
}

// TestCompactedLogTakesAppends compacts a log written in small commits
// (free pages, half-full index pages) while it is open for appends: the
// copy is smaller, has every record under its number, and goes on taking
// appends after them, its index still whole.
func TestCompactedLogTakesAppends(t *testing.T) {
	dir := t.TempDir()
	path, into := filepath.Join(dir, "wal.db"), filepath.Join(dir, "compact.db")
	writeLogIn(t, path, 3000, 7)
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, l.Compact(into))
	require.ErrorIs(t, l.Compact(into), fs.ErrExist, "compact never replaces a file")

	c, err := wal.Open(into, wal.Options{})
	require.NoError(t, err)
	require.Less(t, size(t, c), size(t, l))
	info, err := os.Stat(into)
	require.NoError(t, err)
	require.Equal(t, size(t, c), info.Size(), "the copy is cut to its pages")
	require.Equal(t, scanAll(t, l), scanAll(t, c))
	for range 500 {
		appendOne(t, c, wal.Record{Type: ledger.TypePrepared, TxID: newID(), Attempt: 1, Payload: []byte("after the compaction")})
	}
	require.NoError(t, c.Close())
	c, err = wal.OpenReadOnly(into, 0)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.View(func(tx *wal.Tx) error {
		require.Equal(t, uint64(3500), tx.LastSeq())
		return tx.Verify()
	}))
	left, err := filepath.Glob(filepath.Join(dir, ".*"))
	require.NoError(t, err)
	require.Empty(t, left, "no temporary file is left")
}
