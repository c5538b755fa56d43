package recovery_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/testkit/damage"
	"github.com/strife-pay/strife/internal/tools/recovery/fixture"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// TestSalvagedBankServesEveryBalance breaks the records' tree of a bank's
// file (its root branch page), so that neither check nor the bank can open
// it, salvages it, and starts the bank on the new file: every record is
// there, and the balances are those of the intact file.
func TestSalvagedBankServesEveryBalance(t *testing.T) {
	files, _ := fixture.Large(t, t.TempDir(), 2000)
	ps, root, _ := damage.Tree(t, files.BankB, wal.RecordsBucket)
	damage.Flip(t, files.BankB, root*int64(ps), 16)
	code, _, stderr := run(t, "check", files.BankB)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "damaged data file")

	dataDir := t.TempDir()
	salvaged := filepath.Join(dataDir, "BankB.db")
	code, stdout, stderr := run(t, "salvage", files.BankB, salvaged)
	t.Log(stdout, stderr)
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "SALVAGED 8001 records")
	require.Contains(t, stdout, `bank "BankB", 8001 records, consistent`)

	pki := banktest.NewPKI(t)
	bank := banktest.Start(t, pki.Config(t, "BankB", dataDir))
	got, err := pki.GatewayClient(t, bank.Addr()).GetAccount(context.Background(), &strifev1.GetAccountRequest{Number: "2001"})
	require.NoError(t, err)
	require.Equal(t, int64(2000), got.GetAccount().GetPostedBalance(), "bob got 1 from each of the 2,000 payments")
}

// TestSalvagedGatewayKeepsEveryPayment does the same to the gateway's
// file: every payment is rebuilt from the salvaged log, COMMITTED, and the
// epoch is the one the log had (nothing was lost).
func TestSalvagedGatewayKeepsEveryPayment(t *testing.T) {
	files, ids := fixture.Large(t, t.TempDir(), 2000)
	ps, root, _ := damage.Tree(t, files.Gateway, wal.RecordsBucket)
	damage.Flip(t, files.Gateway, root*int64(ps), 16)
	salvaged := filepath.Join(t.TempDir(), "gateway-1.db")
	code, stdout, stderr := run(t, "salvage", files.Gateway, salvaged)
	t.Log(stdout, stderr)
	require.Equal(t, 0, code)
	require.Contains(t, stdout, `gateway "gateway-1", 10000 records, consistent`)

	l, err := wal.Open(salvaged, wal.Options{})
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, l.View(func(tx *wal.Tx) error {
		b, err := tx.Bucket(coordinator.PaymentsBucket)
		require.NoError(t, err)
		require.Equal(t, len(ids), b.Stats().KeyN)
		_, ok := coordinator.Epoch(tx)
		require.False(t, ok, "no epoch was taken: none was lost")
		return nil
	}))
}

// TestSalvageThatLosesWhatTheLedgerNeedsLeavesNoFile loses the first leaf
// of a bank's records (its accounts' openings): the rest cannot be
// replayed, so salvage says so and leaves no file a bank could start on.
func TestSalvageThatLosesWhatTheLedgerNeedsLeavesNoFile(t *testing.T) {
	files, _ := fixture.Large(t, t.TempDir(), 2000)
	ps, root, leaf := damage.Tree(t, files.BankB, wal.RecordsBucket)
	damage.Zero(t, files.BankB, ps, leaf)
	damage.Flip(t, files.BankB, root*int64(ps), 16)
	salvaged := filepath.Join(t.TempDir(), "BankB.db")
	code, stdout, stderr := run(t, "salvage", files.BankB, salvaged)
	t.Log(stdout, stderr)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "cannot be rebuilt")
	_, err := os.Stat(salvaged)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestLostIndexKeyIsUnusable deletes one key of wal.index: the records
// all read, but a bank's idempotency lookups would miss the attempt, so
// check calls the file unusable.
func TestLostIndexKeyIsUnusable(t *testing.T) {
	files := fixture.Build(t, t.TempDir())
	db, err := bolt.Open(files.BankA, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(wal.IndexBucket)).Cursor()
		k, _ := c.First()
		return c.Bucket().Delete(k)
	}))
	require.NoError(t, db.Close())
	code, _, stderr := run(t, "check", files.BankA)
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "has no index key")
}
