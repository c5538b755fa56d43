package bankd_test

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

func TestSeedOpensOwnAccountsOfANewLedgerOnly(t *testing.T) {
	pki := banktest.NewPKI(t)
	dataDir := banktest.DataDir(t)

	first := startBank(t, pki, bankFlags{DataDir: dataDir, Seed: seedPath(t)})
	requireSeeded(t, first.Client())
	_, err := first.Client().GetAccount(callContext(t), &strifev1.GetAccountRequest{Number: carol})
	requireCode(t, codes.NotFound, err)
	require.Equal(t, 1, first.Count("new ledger seeded"))
	require.Zero(t, first.Stop())

	// The same data dir with another seed file: the ledger is not new, so
	// nothing is opened or deposited again.
	changed := writeFile(t, "changed-seed.yaml", `accounts:
  - bank: BankA
    number: "1001"
    owner: alice
    opening_balance: 999
  - bank: BankA
    number: "1003"
    owner: dave
    opening_balance: 500
`)
	second := startBank(t, pki, bankFlags{DataDir: dataDir, Seed: changed})
	requireSeeded(t, second.Client())
	_, err = second.Client().GetAccount(callContext(t), &strifev1.GetAccountRequest{Number: "1003"})
	requireCode(t, codes.NotFound, err)
	require.Zero(t, second.Count("new ledger seeded"))
	require.Zero(t, second.Stop())
	requireVerified(t, dataDir)
}

// requireSeeded checks that BankA's accounts of testdata/seed.yaml are open
// with their opening balances, deposited once.
func requireSeeded(t *testing.T, c strifev1.BankServiceClient) {
	t.Helper()
	for _, want := range []struct {
		number, owner string
		opening       int64
	}{
		{alice, "alice", aliceOpening},
		{bob, "bob", bobOpening},
	} {
		a := getAccount(t, c, want.number)
		require.Equal(t, bankName, a.GetBank())
		require.Equal(t, want.owner, a.GetOwner())
		require.Equal(t, strifev1.AccountStatus_ACCOUNT_STATUS_OPEN, a.GetStatus())
		require.Equal(t, want.opening, a.GetPostedBalance())
		require.Equal(t, want.opening, a.GetAvailableBalance())
		require.Zero(t, a.GetHeld())

		entries := listEntries(t, c, want.number)
		require.Len(t, entries, 1, "entries of %s", want.number)
		require.Equal(t, strifev1.EntryKind_ENTRY_KIND_DEPOSIT, entries[0].GetKind())
		require.Equal(t, want.opening, entries[0].GetAmount())
	}
}

func TestBadSeedFileIsRejected(t *testing.T) {
	pki := banktest.NewPKI(t)
	tests := []struct {
		name string
		seed string // the file's content; empty: the file does not exist
		want string // what the error says besides the file's name
	}{
		{"unknown field in an account", `accounts:
  - bank: BankA
    number: "1001"
    owner: alice
    opening_balance: 100
    colour: red
`, "field colour not found"},
		{"misspelt field", `accounts:
  - bank: BankA
    number: "1001"
    owner: alice
    opening_balence: 100
`, "field opening_balence not found"},
		{"unknown top-level field", `accounts: []
banks: [BankA]
`, "field banks not found"},
		{"missing file", "", "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seed := filepath.Join(t.TempDir(), "seed.yaml")
			if tc.seed != "" {
				seed = writeFile(t, "seed.yaml", tc.seed)
			}
			dataDir := banktest.DataDir(t)

			rejected := launchBank(t, pki, bankFlags{DataDir: dataDir, Seed: seed})
			require.NotZero(t, rejected.Wait(), "exit code")
			stderr := rejected.Logs()
			require.NotContains(t, stderr, "panic:", "a bad seed file is an error, not a crash")
			require.Regexp(t, `(?m)^Error: .*`+regexp.QuoteMeta(seed), stderr, "the error names the seed file")
			require.Contains(t, stderr, tc.want)
			require.Zero(t, rejected.Count("bank serving"))
			require.Zero(t, rejected.Count("new ledger seeded"), "nothing was seeded")

			// Nothing was seeded, so the ledger is still new: a good seed
			// file is applied on the next start.
			fixed := startBank(t, pki, bankFlags{DataDir: dataDir, Seed: seedPath(t)})
			requireSeeded(t, fixed.Client())
			require.Zero(t, fixed.Stop())
		})
	}
}
