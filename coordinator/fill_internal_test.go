package coordinator

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/wal"
)

// Payment IDs begin with their time, and a payment's state moves to
// payments once, when it is finished (it is in open until then), so
// payments' pages are filled (paymentsFill), not to bbolt's default half:
// each payment is stored at acceptance and made final a commit later, as
// the coordinator does.
func TestPaymentsPagesAreFilled(t *testing.T) {
	l, err := wal.Open(filepath.Join(t.TempDir(), "gateway-1.db"), wal.Options{})
	require.NoError(t, err)
	defer l.Close()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var accepted []Payment
	for batch := range 11 { // the last only makes the 10th's final
		require.NoError(t, l.Append(func(tx *wal.Tx) error {
			for _, p := range accepted { // last batch's, now final
				p.Status, p.Updated = Committed, p.Created.Add(time.Second)
				if err := putPayment(tx, p); err != nil {
					return err
				}
			}
			accepted = accepted[:0]
			for i := range 500 * min(1, 10-batch) {
				at := start.Add(time.Duration(batch*500+i) * time.Millisecond)
				p := Payment{ID: ulid.MustNew(ulid.Timestamp(at), nil), Created: at, Updated: at,
					Params: Params{Payer: "alice", From: "BankA/1001", Payee: "bob", To: "BankB/2001", Amount: 100, Memo: "rent"}}
				accepted = append(accepted, p)
				if err := putPayment(tx, p); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	require.NoError(t, l.View(func(tx *wal.Tx) error {
		for _, b := range tx.Stats().Buckets {
			if b.Path == wal.StateBucket+"/"+PaymentsBucket {
				require.Equal(t, 5000, b.Pairs)
				require.Greater(t, b.Pages, 10)
				require.Greater(t, float64(b.InUse)/float64(b.Allocated), 0.85, "%d of %d bytes in use", b.InUse, b.Allocated)
				require.Zero(t, tx.ExistingBucket(OpenBucket).Stats().KeyN, "none open")
				return nil
			}
		}
		t.Fatal("no payments bucket")
		return nil
	}))
}
