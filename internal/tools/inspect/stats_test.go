package inspect_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/tools/inspect"
	"github.com/strife-pay/strife/internal/tools/recovery/fixture"
	"github.com/strife-pay/strife/wal"
)

func stats(t *testing.T, files ...string) []inspect.FileStats {
	t.Helper()
	out, err := run(append([]string{"stats", "--json"}, files...)...)
	require.NoError(t, err, out)
	var res []inspect.FileStats
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Len(t, res, len(files))
	return res
}

func row(t *testing.T, f inspect.FileStats, bucket string) inspect.BucketStats {
	t.Helper()
	for _, b := range f.Buckets {
		if b.Bucket == bucket {
			return b
		}
	}
	t.Fatalf("%s has no bucket %q: %+v", f.File, bucket, f.Buckets)
	return inspect.BucketStats{}
}

// TestStatsCountsWhatWasWritten reads files written through the real write
// path (fixture.Large: 1,000 payments, each 5 gateway records and 2 pairs
// of records at each bank) and checks the figures against what was
// written, and against each other.
func TestStatsCountsWhatWasWritten(t *testing.T) {
	const n = 1000
	f, _ := fixture.Large(t, t.TempDir(), n)
	res := stats(t, f.Gateway, f.BankA, f.BankB)
	gw, bankA := res[0], res[1]
	require.Equal(t, "gateway", string(gw.Kind))
	require.Equal(t, "bank", string(bankA.Kind))

	// The gateway: 5 records per payment and no index key (it finds a
	// payment by its state's key), one payment state each; the records'
	// keys only grow, so they take many pages.
	require.Equal(t, n, gw.Payments)
	require.Equal(t, 5*n, row(t, gw, wal.RecordsBucket).Pairs)
	require.Zero(t, row(t, gw, wal.IndexBucket).Pairs)
	require.Equal(t, n, row(t, gw, wal.StateBucket+"/"+coordinator.PaymentsBucket).Pairs)
	// A bank: the account's opening (ACCOUNT_OPENED, DEPOSITED) and per
	// payment PREPARED, HOLD_PLACED, COMMITTED and SETTLED.
	require.Equal(t, n, bankA.Payments)
	require.Equal(t, 2+4*n, row(t, bankA, wal.RecordsBucket).Pairs)
	// Of those, only the 2PC records are indexed, PREPARED and COMMITTED,
	// under one key per attempt.
	require.Equal(t, n, row(t, bankA, wal.IndexBucket).Pairs)

	for _, file := range res {
		var total inspect.BucketStats
		for _, b := range file.Buckets {
			require.Equal(t, int64(b.Pages*file.PageSize), b.Allocated, "%s %s: pages × page size = bytes allocated", file.File, b.Bucket)
			require.LessOrEqual(t, b.InUse, b.Allocated+int64(file.PageSize), "%s %s", file.File, b.Bucket)
			total.Pairs += b.Pairs
			total.Pages += b.Pages
			total.Allocated += b.Allocated
			total.InUse += b.InUse
		}
		require.Equal(t, total.Pairs, file.Total.Pairs)
		require.Equal(t, total.Pages, file.Total.Pages)
		require.Equal(t, total.Allocated, file.Total.Allocated)
		require.Equal(t, total.InUse, file.Total.InUse)
		require.LessOrEqual(t, file.Total.Allocated, file.Size, "the buckets' pages are in the file")
		require.Positive(t, file.Total.FillPercent)
		require.LessOrEqual(t, file.Total.FillPercent, 100.0)
		require.NotNil(t, file.PerPayment)
		require.Equal(t, file.Total.Allocated/int64(file.Payments), file.PerPayment.Allocated)
		require.Equal(t, file.Total.InUse/int64(file.Payments), file.PerPayment.InUse)
		require.Equal(t, file.Size/int64(file.Payments), file.PerPayment.FileBytes)
	}

	table, err := run("stats", f.Gateway)
	require.NoError(t, err, table)
	require.Contains(t, table, "BUCKET")
	require.Contains(t, table, wal.StateBucket+"/"+coordinator.PaymentsBucket)
	require.Contains(t, table, "per payment")
}

func TestStatsRefusesWhatIsNotAStrifeFileAndReportsALock(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	require.NoError(t, os.WriteFile(garbage, bytes.Repeat([]byte("x"), 8192), 0o600))
	_, err := run("stats", garbage)
	require.ErrorContains(t, err, "not a Strife data file")

	f := fixture.Build(t, t.TempDir())
	l, err := wal.Open(f.BankA, wal.Options{})
	require.NoError(t, err)
	defer l.Close()
	_, err = run("stats", "--timeout", "50ms", f.BankA)
	require.ErrorContains(t, err, "in use by a running daemon")
}
