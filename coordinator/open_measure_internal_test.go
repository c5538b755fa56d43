package coordinator

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/wal"
)

// TestMeasureRecoverReads prints how long a start's read of the open
// payments takes with STRIFE_MEASURE_OPEN finished payments in the file and
// 100 open ones: through the open index (what recover does) and by
// scanning every payment (what it did before the index). It asserts no
// time: the figures are for DESIGN.md. The payments are stored directly
// (putPayment), without their records, which recover does not read.
func TestMeasureRecoverReads(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("STRIFE_MEASURE_OPEN"))
	if n == 0 {
		t.Skip("set STRIFE_MEASURE_OPEN=N to measure with N finished payments")
	}
	path := filepath.Join(t.TempDir(), "gateway.db")
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const batch = 50_000
	for done := 0; done < n+100; done += batch {
		require.NoError(t, l.Append(func(tx *wal.Tx) error {
			for i := done; i < min(done+batch, n+100); i++ {
				at := start.Add(time.Duration(i) * time.Millisecond)
				p := Payment{ID: ulid.MustNew(ulid.Timestamp(at), nil), Created: at, Updated: at, Status: Committed,
					Params: Params{Payer: "alice", From: "BankA/1001", Payee: "bob", To: "BankB/2001", Amount: 100, Memo: "rent"}}
				p.Attempt, p.Decision, p.Ended = 1, DecisionCommit, i < n // the last 100: decision undelivered
				if err := putPayment(tx, p); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	require.NoError(t, l.Close())

	l, err = wal.Open(path, wal.Options{})
	require.NoError(t, err)
	defer l.Close()
	var viaIndex, viaScan []Payment
	t0 := time.Now()
	require.NoError(t, l.View(func(tx *wal.Tx) (err error) {
		viaIndex, err = openPayments(tx, func([]byte, string) {})
		return err
	}))
	indexed := time.Since(t0)
	t0 = time.Now()
	require.NoError(t, l.View(func(tx *wal.Tx) error { // recover before the index
		return tx.ExistingBucket(PaymentsBucket).ForEach(func(k, v []byte) error {
			var id ulid.ULID
			copy(id[:], k)
			p, err := decodePayment(id, v)
			if err == nil && isOpen(p) {
				viaScan = append(viaScan, p)
			}
			return err
		})
	}))
	scanned := time.Since(t0)
	require.Len(t, viaIndex, 100)
	require.Len(t, viaScan, 100)
	t.Logf("%d finished and 100 open payments: open index %v, scan of every payment %v", n, indexed, scanned)
}
