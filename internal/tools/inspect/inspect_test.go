package inspect_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/inspect"
	"github.com/strife-pay/strife/internal/tools/recovery/fixture"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func run(args ...string) (string, error) {
	var out bytes.Buffer
	cmd := inspect.Command()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	return out.String(), err
}

// TestGolden runs every view on the fixture's files (fixed clock, fixed
// IDs) and compares the output with testdata/<name>.golden.
func TestGolden(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	done, inDoubt := fixture.Done.String(), fixture.InDoubt.String()
	cases := []struct {
		name string
		args []string
	}{
		{"accounts", []string{"accounts", f.BankA}},
		{"accounts_json", []string{"accounts", "--json", f.BankA}},
		{"entries", []string{"entries", f.BankA, "1001"}},
		{"entries_page1", []string{"entries", f.BankA, "1001", "--limit", "1"}},
		{"entries_page2", []string{"entries", f.BankA, "1001", "--limit", "1", "--page-token", "7"}},
		{"entries_tx", []string{"entries", f.BankA, "1001", "--tx", done}},
		{"entries_since", []string{"entries", f.BankA, "1001", "--since", "2026-01-02T03:04:10Z", "--json"}},
		{"entries_until", []string{"entries", f.BankA, "1001", "--until", "2026-01-02T03:04:10Z"}},
		{"tx_done", []string{"tx", done, f.Gateway, f.BankA, f.BankB}},
		{"tx_in_doubt_json", []string{"tx", "--json", inDoubt, f.Gateway, f.BankA, f.BankB}},
		{"totals", []string{"totals", f.BankA, f.BankB}},
		{"totals_one_bank_json", []string{"totals", "--json", f.BankA}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := run(c.args...)
			require.NoError(t, err, out)
			out = strings.ReplaceAll(out, f.Dir+string(filepath.Separator), "")
			golden := filepath.Join("testdata", c.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(out), 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create it")
			require.Equal(t, string(want), out)
		})
	}
}

func TestInspectRefusesWhatIsNotABankAndReportsALock(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	_, err := run("accounts", f.Gateway)
	require.ErrorContains(t, err, "is a gateway file, not a bank's")

	garbage := filepath.Join(t.TempDir(), "garbage.db")
	require.NoError(t, os.WriteFile(garbage, bytes.Repeat([]byte("x"), 8192), 0o600))
	_, err = run("accounts", garbage)
	require.ErrorContains(t, err, "not a Strife data file")

	l, err := wal.Open(f.BankA, wal.Options{})
	require.NoError(t, err)
	defer l.Close()
	_, err = run("accounts", "--timeout", "50ms", f.BankA)
	require.ErrorContains(t, err, "in use by a running daemon")
}

// User records have no transaction ID: tx with the zero ID lists them, with
// the username only, never the password hash.
func TestTxNeverPrintsPasswordHashes(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	const hash = "$2a$04$secrethashsecrethash"
	l, err := wal.Open(f.Gateway, wal.Options{})
	require.NoError(t, err)
	require.NoError(t, users.New(l).Register(&storagev1.UserState{
		Username: "alice", Role: strifev1.UserRole_USER_ROLE_CUSTOMER, PasswordHash: []byte(hash), Accounts: []string{"BankA/1001"}, DefaultAccount: "BankA/1001",
	}))
	require.NoError(t, l.Close())

	for _, format := range []string{"--json=false", "--json"} {
		out, err := run("tx", format, "00000000000000000000000000", f.Gateway)
		require.NoError(t, err, out)
		require.Contains(t, out, "USER_REGISTERED")
		require.Contains(t, out, "alice")
		require.NotContains(t, out, "secrethash")
		require.NotContains(t, out, "BankA/1001", "only the username")
	}
}
