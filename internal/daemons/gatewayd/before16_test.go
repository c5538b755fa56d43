package gatewayd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/strife-pay/strife/internal/tools/recovery"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// The data directory of testdata/before-issue-16 (see its README): written
// by the code before issue 16 moved the on-disk formats to their owners.
const before16 = "../../../testdata/before-issue-16"

// Its payments: committed (alice → bob, 100), failed (alice → bob,
// 1,000,000: insufficient funds) and pending (alice → bob, 300, held while
// BankB was down when the gateway stopped).
var (
	before16Committed = ulid.MustParseStrict("01KBJ0A0C0MM1TTED000000000")
	before16Failed    = ulid.MustParseStrict("01KBJ0A0FA1ED0000000000000")
	before16Pending   = ulid.MustParseStrict("01KBJ0A0PEND1NG00000000000")
)

// TestWriteBefore16Fixture writes testdata/before-issue-16 when
// STRIFE_WRITE_BEFORE16 is set; it was run once, on the commit its README
// names, and is kept to show how the files were made.
func TestWriteBefore16Fixture(t *testing.T) {
	if os.Getenv("STRIFE_WRITE_BEFORE16") == "" {
		t.Skip("set STRIFE_WRITE_BEFORE16=1 to rewrite testdata/before-issue-16")
	}
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	require.Equal(t, committed, alice.pay(t, toAccount(before16Committed, "BankB/2001", 100)).GetStatus())
	require.Equal(t, strifev1.PaymentStatus_PAYMENT_STATUS_FAILED, alice.pay(t, toAccount(before16Failed, "BankB/2001", 1_000_000)).GetStatus())
	e.settled(t)

	bob := e.login(t, "bob", bobPassword)
	_, err := bob.Logout(bob.ctx, &strifev1.LogoutRequest{})
	require.NoError(t, err, "a revoked token")
	admin := e.login(t, "admin", adminPassword)
	_, err = admin.LockUser(admin.ctx, &strifev1.LockUserRequest{Username: "carol", Locked: true})
	require.NoError(t, err, "a locked user")

	require.NoError(t, e.banks["BankB"].Stop())
	require.Equal(t, pending, alice.pay(t, toAccount(before16Pending, "BankB/2001", 300)).GetStatus())
	require.NoError(t, e.gw.Stop())
	require.NoError(t, e.banks["BankA"].Stop())

	require.NoError(t, os.MkdirAll(before16, 0o755))
	copyFile(t, e.walPath(), filepath.Join(before16, "gateway.db"))
	for name, cfg := range e.bankCfgs {
		copyFile(t, filepath.Join(cfg.DataDir, name+".db"), filepath.Join(before16, name+".db"))
	}
}

// An old data directory opens and verifies: strife-recover check finds the
// three files consistent, and the gateway and its banks start on copies of
// them and serve what they hold.
func TestADataDirectoryFromBeforeIssue16OpensAndVerifies(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"gateway.db", "BankA.db", "BankB.db"} {
		copyFile(t, filepath.Join(before16, name), filepath.Join(dir, name))
		paths = append(paths, filepath.Join(dir, name))
	}
	var out, errs bytes.Buffer
	code := recovery.Run(&out, &errs, paths, recovery.Options{})
	require.Equal(t, recovery.ExitConsistent, code, "%s\n%s", out.String(), errs.String())
	require.Contains(t, out.String(), before16Pending.String(), "the pending payment is in doubt")

	e := newEnvFrom(t, before16)
	alice := e.login(t, "alice", alicePassword)
	got, err := alice.GetPayment(alice.ctx, &strifev1.GetPaymentRequest{TransactionId: before16Committed.String()})
	require.NoError(t, err)
	require.Equal(t, committed, got.GetPayment().GetStatus())
	require.Equal(t, int64(100), got.GetPayment().GetAmount())
	got, err = alice.GetPayment(alice.ctx, &strifev1.GetPaymentRequest{TransactionId: before16Failed.String()})
	require.NoError(t, err)
	require.Equal(t, strifev1.PaymentStatus_PAYMENT_STATUS_FAILED, got.GetPayment().GetStatus())
	got, err = alice.GetPayment(alice.ctx, &strifev1.GetPaymentRequest{TransactionId: before16Pending.String()})
	require.NoError(t, err, "the pending payment is still the gateway's")

	bob := e.login(t, "bob", bobPassword)
	balance, err := bob.GetBalance(bob.ctx, &strifev1.GetBalanceRequest{})
	require.NoError(t, err)
	require.GreaterOrEqual(t, balance.GetAccounts()[0].GetPostedBalance(), int64(50000+100), "the committed payment, and perhaps the pending one")

	role, name := program("carol")
	_, err = e.client(t, role, name).Login(t.Context(), &strifev1.LoginRequest{Username: "carol", Password: carolPassword})
	requireCode(t, codes.PermissionDenied, err, "carol is locked")

	require.NoError(t, e.gw.Stop())
	for name, b := range e.banks {
		require.NoError(t, b.Stop())
		verifyLedger(t, filepath.Join(e.bankCfgs[name].DataDir, name+".db"))
	}
}
