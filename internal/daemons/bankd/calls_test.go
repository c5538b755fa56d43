package bankd_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/ledger"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// Helpers for calling a bank as the gateway does and for inspecting its
// file once it has stopped.

const callTimeout = 5 * time.Second

func callContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

func debit(number string, amount int64) *strifev1.Leg {
	return &strifev1.Leg{Account: number, Direction: strifev1.Direction_DIRECTION_DEBIT, Amount: amount, Counterparty: "BankB/" + carol}
}

func credit(number string, amount int64) *strifev1.Leg {
	return &strifev1.Leg{Account: number, Direction: strifev1.Direction_DIRECTION_CREDIT, Amount: amount, Counterparty: "BankB/" + carol}
}

// prepareYes prepares an attempt and requires a YES vote.
func prepareYes(t *testing.T, c strifev1.BankServiceClient, id ulid.ULID, attempt uint32, legs ...*strifev1.Leg) {
	t.Helper()
	resp, err := c.Prepare(callContext(t), &strifev1.PrepareRequest{TransactionId: id.String(), Attempt: attempt, Legs: legs})
	require.NoError(t, err)
	require.Equal(t, strifev1.Vote_VOTE_YES, resp.GetVote(), "vote on %s/%d (reason %v)", id, attempt, resp.GetReason())
}

func getAccount(t *testing.T, c strifev1.BankServiceClient, number string) *strifev1.Account {
	t.Helper()
	resp, err := c.GetAccount(callContext(t), &strifev1.GetAccountRequest{Number: number})
	require.NoError(t, err, "GetAccount %s", number)
	return resp.GetAccount()
}

func requireCode(t *testing.T, want codes.Code, err error) {
	t.Helper()
	require.Equal(t, want, status.Code(err), "error: %v", err)
}

// listEntries pages through all of an account's entries, newest first.
func listEntries(t *testing.T, c strifev1.BankServiceClient, number string) []*strifev1.Entry {
	t.Helper()
	var all []*strifev1.Entry
	token := ""
	for range 10_000 {
		resp, err := c.ListEntries(callContext(t), &strifev1.ListEntriesRequest{Number: number, PageSize: 100, PageToken: token})
		require.NoError(t, err)
		all = append(all, resp.GetEntries()...)
		if token = resp.GetNextPageToken(); token == "" {
			return all
		}
	}
	t.Fatalf("more than 10000 pages of entries")
	return nil
}

// entriesOf returns the entries that a transaction posted.
func entriesOf(entries []*strifev1.Entry, id ulid.ULID) []*strifev1.Entry {
	var out []*strifev1.Entry
	for _, e := range entries {
		if e.GetTransactionId() == id.String() {
			out = append(out, e)
		}
	}
	return out
}

// openLedger opens the file of a bank that has stopped. The short lock
// timeout makes it fail if the bank still holds the file.
func openLedger(t *testing.T, dataDir string) *ledger.Ledger {
	t.Helper()
	log, err := wal.Open(filepath.Join(dataDir, bankName+".db"), wal.Options{LockTimeout: 200 * time.Millisecond})
	require.NoError(t, err, "the stopped bank's file must be free")
	t.Cleanup(func() { log.Close() })
	l, err := ledger.New(log, nil)
	require.NoError(t, err)
	return l
}

// requireVerified checks the invariants of a stopped bank's ledger.
func requireVerified(t *testing.T, dataDir string) {
	t.Helper()
	require.NoError(t, openLedger(t, dataDir).Verify())
}

// ledgerEntries reads all of an account's entries from a stopped bank's
// ledger, as ListEntries would return them.
func ledgerEntries(t *testing.T, l *ledger.Ledger, number string) []*strifev1.Entry {
	t.Helper()
	var out []*strifev1.Entry
	require.NoError(t, l.View(func(tx *ledger.Tx) error {
		entries, err := tx.Entries(number, 0, math.MaxInt)
		for _, e := range entries {
			pe := &strifev1.Entry{Seq: e.Seq, Account: e.Number, Kind: e.Kind, Amount: e.Amount, Attempt: e.Attempt}
			if e.TxID != (ulid.ULID{}) {
				pe.TransactionId = e.TxID.String()
			}
			out = append(out, pe)
		}
		return err
	}))
	return out
}

// ledgerAccount reads an account from a stopped bank's ledger.
func ledgerAccount(t *testing.T, l *ledger.Ledger, number string) ledger.Account {
	t.Helper()
	var a ledger.Account
	require.NoError(t, l.View(func(tx *ledger.Tx) (err error) {
		a, err = tx.Account(number)
		return err
	}))
	return a
}

// ledgerHolds reads every hold from a stopped bank's ledger.
func ledgerHolds(t *testing.T, l *ledger.Ledger) []ledger.Hold {
	t.Helper()
	var holds []ledger.Hold
	require.NoError(t, l.View(func(tx *ledger.Tx) (err error) {
		holds, err = tx.AllHolds()
		return err
	}))
	return holds
}
