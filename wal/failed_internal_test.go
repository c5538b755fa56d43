package wal

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// A failed commit that is not visible is ErrWriteFailed and the log goes
// on; one that is (its meta page written, its fsync failed) fails the log
// for good with ErrLogFailed. bbolt cannot be made to fail that fsync in a
// test, so the classification is checked on a commit that did land.
func TestAFailedCommitThatIsVisibleFailsTheLog(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "wal.db"), Options{})
	require.NoError(t, err)
	defer l.Close()
	var txid int
	require.NoError(t, l.db.Update(func(btx *bolt.Tx) error { txid = btx.ID(); return nil }))

	err = l.writeFailed(txid+1, io.ErrShortWrite) // the next commit, rolled back
	require.ErrorIs(t, err, ErrWriteFailed)
	require.False(t, errors.Is(err, ErrLogFailed))
	require.NoError(t, l.Append(func(tx *Tx) error { return nil }))

	txid++ // that Append's commit, now visible
	err = l.writeFailed(txid, io.ErrShortWrite)
	require.ErrorIs(t, err, ErrLogFailed)
	require.ErrorIs(t, err, ErrWriteFailed)
	require.ErrorIs(t, err, io.ErrShortWrite)
	require.ErrorIs(t, l.Append(func(tx *Tx) error { return nil }), ErrLogFailed, "no more appends")
	reported := make(chan error, 1)
	l.AppendLater(func(tx *Tx) error { return nil }, func(err error) { reported <- err })
	require.ErrorIs(t, <-reported, ErrLogFailed)
}
