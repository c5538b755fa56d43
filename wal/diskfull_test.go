package wal_test

import (
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/testkit/disktest"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

// failingDisk is an Options.FailWrites that fails every commit with
// ENOSPC while full is set.
func failingDisk(full *atomic.Bool) func() error {
	return func() error {
		if full.Load() {
			return &pathError{syscall.ENOSPC}
		}
		return nil
	}
}

// pathError is what a write to a full disk returns, as os.File does.
type pathError struct{ errno syscall.Errno }

func (e *pathError) Error() string { return "write gateway.db: " + e.errno.Error() }
func (e *pathError) Unwrap() error { return e.errno }

// A commit that cannot be written fails every call of its batch, Appends
// and AppendLaters alike, with ErrWriteFailed that still says ENOSPC;
// nothing of it is in the log, and the log takes appends again once the
// disk has room.
func TestAFailedWriteIsErrWriteFailedAndTheLogGoesOn(t *testing.T) {
	var full atomic.Bool
	l := openLingering(t, filepath.Join(t.TempDir(), "wal.db"), wal.Options{Linger: time.Hour, FailWrites: failingDisk(&full)})
	full.Store(true)

	report, reported := reports()
	l.AppendLater(deposit, report)
	err := l.Append(deposit)
	require.ErrorIs(t, err, wal.ErrWriteFailed)
	require.ErrorIs(t, err, syscall.ENOSPC, "the disk's own error is kept")
	require.NotErrorIs(t, err, wal.ErrLogFailed, "a rolled-back commit does not fail the log")
	require.ErrorIs(t, recv(t, reported), wal.ErrWriteFailed, "the AppendLater of the batch too")
	require.Empty(t, scanAll(t, l), "nothing of the failed commit")

	full.Store(false)
	require.NoError(t, l.Append(deposit))
	require.Len(t, scanAll(t, l), 1)
}

// The same on a real disk that fills up: a tmpfs (the test is skipped
// where it cannot be mounted).
func TestARealFullDiskIsErrWriteFailedAndTheLogGoesOn(t *testing.T) {
	disk := disktest.Small(t, 1<<20)
	path := filepath.Join(disk.Dir, "wal.db")
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	defer l.Close()
	disk.Fill(t)

	big := make([]byte, 3000) // more than the free pages the file has
	write := func(tx *wal.Tx) error {
		_, err := tx.Append(wal.Record{Type: ledger.TypeDeposited, Payload: big})
		return err
	}
	var written int
	for ; written < 1000; written++ {
		if err = l.Append(write); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, wal.ErrWriteFailed)
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.NotErrorIs(t, err, wal.ErrLogFailed)
	require.Error(t, l.Append(write), "still full")

	disk.Free(t)
	require.NoError(t, l.Append(write))
	require.Len(t, scanAll(t, l), written+1)
	require.NoError(t, l.Close())

	l, err = wal.Open(path, wal.Options{})
	require.NoError(t, err)
	require.Len(t, scanAll(t, l), written+1, "what was acknowledged is there after a reopen, and nothing else")
}
