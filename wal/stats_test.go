package wal_test

import (
	"path/filepath"

	"github.com/oklog/ulid/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

func bucket(t *testing.T, s wal.FileStats, path string) wal.BucketStats {
	t.Helper()
	for _, b := range s.Buckets {
		if b.Path == path {
			return b
		}
	}
	t.Fatalf("no bucket %q in %+v", path, s.Buckets)
	return wal.BucketStats{}
}

// Stats counts what was appended, and the records' pages, whose keys only
// grow, are filled to about 90% (appendFill), not to bbolt's default half.
// The index has a key per attempt, and TxIDs counts transactions: 3
// transactions with 2 attempts each.
func TestStatsAndTheRecordsPagesFill(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "log.db"))
	const n = 6000
	ids := []ulid.ULID{newID(), newID(), newID()}
	for start := 0; start < n; start += 1000 {
		require.NoError(t, l.Append(func(tx *wal.Tx) error {
			for i := start; i < start+1000; i++ {
				_, err := tx.Append(wal.Record{Type: ledger.TypePrepared, TxID: ids[i%3], Attempt: uint32(1 + i%2), Payload: make([]byte, 40)})
				if err != nil {
					return err
				}
			}
			return nil
		}))
	}
	var s wal.FileStats
	var txids int
	require.NoError(t, l.View(func(tx *wal.Tx) error { s, txids = tx.Stats(), tx.TxIDs(); return nil }))
	require.Equal(t, 3, txids)
	records := bucket(t, s, wal.RecordsBucket)
	require.Equal(t, n, records.Pairs)
	require.Equal(t, 6, bucket(t, s, wal.IndexBucket).Pairs)
	require.Equal(t, records.Pages*s.PageSize, records.Allocated)
	require.Greater(t, records.Pages, 10)
	require.Greater(t, float64(records.InUse)/float64(records.Allocated), 0.8, "records' pages %d of %d bytes in use", records.InUse, records.Allocated)
	require.GreaterOrEqual(t, s.Size, int64(records.Allocated))
}
