package client_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
)

// TestMenuLoginBalancePayLogout drives the menu through its standard input.
func TestMenuLoginBalancePayLogout(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	script := strings.Join([]string{
		"alice", "alice password", // log in
		"1",                          // balance
		"2", "bob", "12.50", "lunch", // pay
		"2", "bob", "12.505", "", // a bad amount: an error, back to the menu
		"4", // pending queue
		"3", // history
		"9", // no such choice
		"6", // logout and exit
	}, "\n") + "\n"
	out, err := run(t, script, cliArgs(w, dir, "menu")...)
	require.NoError(t, err)

	for _, want := range []string{
		"Strife: log in\nuser: password: logged in as alice\n",
		"Strife: alice\n  1) balance\n  2) pay\n  3) history\n  4) pending queue\n  5) retry pending now\n  6) logout and exit\n  0) exit\n> ",
		"Balance\n  BankA/1001   1000.00 available (1000.00 posted)\n",
		"Pay\n  to (user, or bank/number):   amount (e.g. 12.50):   memo (optional): ",
		" 12.50 to bob: committed\n",
		"error: bad amount \"12.505\": at most two decimals\n",
		"Pending queue\n  empty\n",
		"History\n",
		"COMMITTED      12.50 BankA/1001 -> bob BankB/2001",
		"no such choice \"9\"\n",
		"logged out\n",
	} {
		require.Contains(t, out, want)
	}
	require.Equal(t, int64(100000-1250), w.posted(t, "BankA", "1001"))
	_, err = os.Stat(filepath.Join(dir, "session.json"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestMenuAdminRegisters: an admin sees the register item and uses it.
func TestMenuAdminRegisters(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	script := strings.Join([]string{
		"admin", "admin password",
		"7", "erin", "customer", "BankB/2005", "25.00", "erin password",
		"0",
	}, "\n") + "\n"
	out, err := run(t, script, cliArgs(w, dir, "menu")...)
	require.NoError(t, err)
	require.Contains(t, out, "  6) logout and exit\n  7) admin: register a client\n  0) exit\n")
	require.Contains(t, out, "registered erin (customer), accounts BankB/2005\n")
	require.Equal(t, int64(2500), w.posted(t, "BankB", "2005"))
}

// TestMenuKeepsSpacesInPasswords: the menu strips only the line ending from
// a password, as --password-stdin does, so a password with leading or
// trailing spaces works the same from either.
func TestMenuKeepsSpacesInPasswords(t *testing.T) {
	w := newWorld(t)
	admin := w.login(t, "admin")

	// Registered with --password-stdin, used from the menu.
	w.pki.Files(t, certs.RoleClient, "dave")
	_, err := run(t, " dave password \n", cliArgs(w, admin, "admin", "register", "--user", "dave", "--role", "customer",
		"--account", "BankA/1005", "--password-stdin")...)
	require.NoError(t, err)
	out, err := run(t, "dave\n dave password \n0\n", cliArgs(w, t.TempDir(), "menu")...)
	require.NoError(t, err)
	require.Contains(t, out, "logged in as dave\n")

	// Registered from the menu, used with --password-stdin.
	w.pki.Files(t, certs.RoleClient, "erin")
	script := strings.Join([]string{
		"admin", "admin password",
		"7", "erin", "customer", "BankB/2005", "", " erin password ",
		"0",
	}, "\n") + "\n"
	out, err = run(t, script, cliArgs(w, t.TempDir(), "menu")...)
	require.NoError(t, err)
	require.Contains(t, out, "registered erin (customer), accounts BankB/2005\n")
	_, err = run(t, " erin password \n", cliArgs(w, t.TempDir(), "login", "--user", "erin", "--password-stdin")...)
	require.NoError(t, err)
	_, err = run(t, "erin password\n", cliArgs(w, t.TempDir(), "login", "--user", "erin", "--password-stdin")...)
	require.Error(t, err, "the spaces are part of the password")
}
