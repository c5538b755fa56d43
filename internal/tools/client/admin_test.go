package client_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

var userFields = []string{"user", "role", "accounts", "default_account", "created_at"}

func TestAdminRegistersAClientWhoLogsIn(t *testing.T) {
	w := newWorld(t)
	admin := w.login(t, "admin")
	w.pki.Files(t, certs.RoleClient, "dave")

	out, err := run(t, "dave password\n", cliArgs(w, admin, "admin", "register", "--user", "dave", "--role", "customer",
		"--account", "BankA/1005", "--opening", "100.00", "--password-stdin", "--json")...)
	require.NoError(t, err)
	v := decodeJSON(t, out)
	requireFields(t, v, userFields...)
	require.Equal(t, "dave", v["user"])
	require.Equal(t, "customer", v["role"])
	require.Equal(t, []any{"BankA/1005"}, v["accounts"])
	require.Equal(t, "BankA/1005", v["default_account"])

	dave := t.TempDir()
	_, err = run(t, "dave password\n", cliArgs(w, dave, "login", "--user", "dave", "--password-stdin")...)
	require.NoError(t, err)
	out, err = run(t, "", cliArgs(w, dave, "balance")...)
	require.NoError(t, err)
	require.Contains(t, out, "BankA/1005   100.00 available")

	// Registering the same user again is one clear line.
	_, err = run(t, "x\n", cliArgs(w, admin, "admin", "register", "--user", "dave", "--account", "BankA/1006")...)
	requireOneLine(t, err, "cannot register dave")
}

func TestCustomerCannotRegister(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	out, err := run(t, "mallory password\n", cliArgs(w, dir, "admin", "register", "--user", "mallory",
		"--account", "BankA/1007", "--password-stdin")...)
	// cmd/strife exits with status 1 on any error.
	requireOneLine(t, err, "only an admin may register clients")
	require.Empty(t, out)
}

func TestDetailsDefaultAccountIsUsedByPay(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	_, err := w.bankClients["BankA"].OpenAccount(context.Background(),
		&strifev1.OpenAccountRequest{Number: "1003", Owner: "alice", OpeningBalance: 5000})
	require.NoError(t, err)

	out, err := run(t, "", cliArgs(w, dir, "details", "--link-account", "BankA/1003")...)
	require.NoError(t, err)
	require.Contains(t, out, "updated alice (customer), accounts BankA/1001 BankA/1003, default BankA/1001")

	out, err = run(t, "", cliArgs(w, dir, "details", "--default-account", "BankA/1003", "--json")...)
	require.NoError(t, err)
	v := decodeJSON(t, out)
	requireFields(t, v, userFields...)
	require.Equal(t, "alice", v["user"])
	require.Equal(t, "BankA/1003", v["default_account"])
	require.Equal(t, []any{"BankA/1001", "BankA/1003"}, v["accounts"])

	out, err = run(t, "", cliArgs(w, dir, "pay", "--to", "bob", "--amount", "10.00", "--json")...)
	require.NoError(t, err)
	require.Equal(t, "COMMITTED", decodeJSON(t, out)["status"])
	require.Equal(t, int64(5000-1000), w.posted(t, "BankA", "1003"))
	require.Equal(t, int64(100000), w.posted(t, "BankA", "1001"))

	// A customer may not change someone else.
	_, err = run(t, "", cliArgs(w, dir, "details", "--user", "bob", "--default-account", "BankB/2001")...)
	require.EqualError(t, err, "only an admin may change another user's details")
}

func TestDetailsNewPassword(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	_, err := run(t, "wrong\nnew alice password\n", cliArgs(w, dir, "details", "--new-password", "--password-stdin")...)
	require.EqualError(t, err, "the current password is wrong: try again")

	_, err = run(t, "alice password\nnew alice password\n", cliArgs(w, dir, "details", "--new-password", "--password-stdin")...)
	require.NoError(t, err)
	_, err = run(t, "new alice password\n", cliArgs(w, t.TempDir(), "login", "--user", "alice", "--password-stdin")...)
	require.NoError(t, err)

	// An admin resets bob's password without the current one.
	admin := w.login(t, "admin")
	_, err = run(t, "new bob password\n", cliArgs(w, admin, "details", "--user", "bob", "--new-password", "--password-stdin")...)
	require.NoError(t, err)
	_, err = run(t, "new bob password\n", cliArgs(w, t.TempDir(), "login", "--user", "bob", "--password-stdin")...)
	require.NoError(t, err)
}
