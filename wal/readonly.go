package wal

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var (
	// ErrNotLog is returned by OpenReadOnly for a file that is not a Strife
	// write-ahead log: garbage, empty, or a bbolt file without the log's
	// buckets.
	ErrNotLog = errors.New("not a Strife data file")
	// ErrLocked is returned by OpenReadOnly when another process holds the
	// file's lock for longer than the timeout: a daemon is running on it.
	ErrLocked = errors.New("file is in use by a running daemon (its lock was not released in time); stop it or retry")
)

// OpenReadOnly opens an existing log for reading only, for offline tools:
// it never creates the file or a bucket, and Append returns ErrReadOnly. It
// waits up to timeout (0: 1s) for a writer's lock, then fails with an error
// wrapping ErrLocked. A file that is not a log fails with ErrNotLog.
func OpenReadOnly(path string, timeout time.Duration) (*Log, error) {
	if timeout <= 0 {
		timeout = time.Second
	}
	// Tools walk the whole file before they open it, whatever its size:
	// they read all of it anyway (stats, check, salvage), and run no scrub.
	db, check, err := openChecked(path, false, 0, &bolt.Options{
		ReadOnly:     true,
		Timeout:      timeout,
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("wal: open %s: %w", path, ErrLocked)
	case err != nil:
		return nil, fmt.Errorf("wal: open %s: %w", path, err)
	}
	err = db.View(func(btx *bolt.Tx) error {
		for _, name := range logBuckets {
			if btx.Bucket(name) == nil {
				return fmt.Errorf("%w (no bucket %q)", ErrNotLog, name)
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("wal: open %s: %w", path, err)
	}
	return &Log{db: db, readOnly: true, warnings: check.Warnings}, nil
}
