package wal_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

func TestOpenReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	require.NoError(t, l.Append(func(tx *wal.Tx) error {
		_, err := tx.Append(wal.Record{Type: ledger.TypeDeposited, Payload: []byte("x")})
		return err
	}))

	_, err = wal.OpenReadOnly(path, 50*time.Millisecond)
	require.ErrorIs(t, err, wal.ErrLocked, "the writer holds the lock")
	require.Contains(t, err.Error(), "in use by a running daemon")
	require.NoError(t, l.Close())

	before, err := os.ReadFile(path)
	require.NoError(t, err)
	r, err := wal.OpenReadOnly(path, 0)
	require.NoError(t, err)
	require.NoError(t, r.View(func(tx *wal.Tx) error {
		require.Equal(t, uint64(1), tx.LastSeq())
		return nil
	}))
	require.ErrorIs(t, r.Append(func(*wal.Tx) error { return nil }), wal.ErrReadOnly)
	r2, err := wal.OpenReadOnly(path, 0)
	require.NoError(t, err, "readers share the file")
	require.NoError(t, r2.Close())
	require.NoError(t, r.Close())
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(before, after), "nothing written")
}

func TestOpenReadOnlyRefusesWhatIsNotALog(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	_, err := wal.OpenReadOnly(missing, 0)
	require.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
	_, err = os.Stat(missing)
	require.True(t, errors.Is(err, os.ErrNotExist), "not created")

	empty := filepath.Join(dir, "empty.db")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	_, err = wal.OpenReadOnly(empty, 0)
	require.ErrorIs(t, err, wal.ErrNotLog)

	garbage := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(garbage, bytes.Repeat([]byte("garbage!"), 2048), 0o600))
	_, err = wal.OpenReadOnly(garbage, 0)
	require.ErrorIs(t, err, wal.ErrNotLog)

	other := filepath.Join(dir, "other.db")
	db, err := bolt.Open(other, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("k")); return err }))
	require.NoError(t, db.Close())
	_, err = wal.OpenReadOnly(other, 0)
	require.ErrorIs(t, err, wal.ErrNotLog)
}
