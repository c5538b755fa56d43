package coordinator_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/wal"
)

// Verify finds the payments the coordinator stored equal to what its log
// tells, and reports a payment whose projection was changed behind the
// log's back, naming it.
func TestVerifyComparesThePaymentsWithTheLog(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	p := w.pay(t, pay("BankA/1001", "BankB/2001", 250))
	failed := w.pay(t, pay("BankA/1001", "BankB/2001", 1_000_000))
	require.NotEqual(t, p.Status, failed.Status)
	require.NoError(t, coordinator.Verify(w.log))

	require.NoError(t, w.log.Append(func(tx *wal.Tx) error {
		for _, name := range []string{coordinator.OpenBucket, coordinator.PaymentsBucket} { // open until ended
			b, err := tx.Bucket(name)
			if err != nil {
				return err
			}
			if err := b.Delete(p.ID[:]); err != nil {
				return err
			}
		}
		return nil
	}))
	err := coordinator.Verify(w.log)
	require.ErrorIs(t, err, coordinator.ErrInconsistent)
	require.ErrorContains(t, err, "payment "+p.ID.String()+" is stored as {<nil>}")
}
