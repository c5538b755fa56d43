package client_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/client"
)

// requireJSONError checks that r is one error, as --json writes it: one
// JSON object {"code", "message"} on standard error, nothing on standard
// output.
func requireJSONError(t *testing.T, r result, exit int, code, message string) {
	t.Helper()
	require.Equal(t, exit, r.exit, "%+v", r)
	require.Empty(t, r.stdout)
	v := decodeJSON(t, r.stderr)
	require.Len(t, v, 2, r.stderr)
	require.Equal(t, code, v["code"], r.stderr)
	require.Contains(t, v["message"], message)
}

// TestUsageErrors: a wrong command line exits 2 and says what is wrong in
// words, before anything else is looked at (nobody is logged in here).
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pay", "--to", "bob"}, "--amount is required"},
		{[]string{"pay", "--to", "bob", "--amount", ""}, "--amount is required"},
		{[]string{"pay", "--to", "bob", "--amount", "12.505"}, `bad amount "12.505": at most two decimals`},
		{[]string{"pay", "--amount", "1"}, "give exactly one of --to USER or --to-account"},
		{[]string{"pay", "--to", "bob", "--amount", "1", "--memo", "a\nb"}, "memo is not valid text"},
		{[]string{"pay", "--to", "bob", "--amount", "1", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"login"}, "--user is required"},
		{[]string{"admin", "register", "--role", "customer"}, "--user is required"},
		{[]string{"admin", "lock"}, "accepts 1 arg(s), received 0"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"balance", "--cert-name", "a/b"}, "--cert-name"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := tc.args
			if args[0] != "bogus" {
				args = append(args, "--state-dir", t.TempDir())
			}
			r := runMain(t, "", args...)
			require.Equal(t, client.ExitUsage, r.exit, "%+v", r)
			require.Equal(t, "Error: ", r.stderr[:min(7, len(r.stderr))])
			require.Contains(t, r.stderr, tc.want)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
			require.NotRegexp(t, `\b(client|gatewayd|coordinator): `, r.stderr)

			if tc.args[0] == "bogus" {
				return // no --json to give
			}
			r = runMain(t, "", append(args, "--json")...)
			requireJSONError(t, r, client.ExitUsage, "usage", tc.want)
		})
	}
}

// TestExitStatuses: a payment's exit status says how it ended: committed
// 0, failed or refused 1, queued 3, pending 4; queue flush says what is
// left.
func TestExitStatuses(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	pay := func(args ...string) result {
		return runMain(t, "", cliArgs(w, dir, append([]string{"pay", "--json"}, args...)...)...)
	}
	requirePayment := func(r result, exit int, status string) map[string]any {
		t.Helper()
		require.Equal(t, exit, r.exit, "%+v", r)
		require.Empty(t, r.stderr, "the payment is the answer, on standard output")
		v := decodeJSON(t, r.stdout)
		require.Equal(t, status, v["status"], r.stdout)
		return v
	}

	requirePayment(pay("--to", "bob", "--amount", "1"), client.ExitOK, "COMMITTED")
	requirePayment(pay("--to", "bob", "--amount", "99999999"), client.ExitFailed, "FAILED")

	require.NoError(t, w.banks["BankB"].Stop())
	requirePayment(pay("--to", "bob", "--amount", "2"), client.ExitPending, "PENDING")
	r := runMain(t, "", cliArgs(w, dir, "queue", "flush")...)
	require.Equal(t, client.ExitPending, r.exit, "%+v", r)

	w.stop(t)
	requirePayment(pay("--to", "bob", "--amount", "3"), client.ExitQueued, "QUEUED")
	r = runMain(t, "", cliArgs(w, dir, "queue", "flush", "--json")...)
	require.Equal(t, client.ExitQueued, r.exit, "%+v", r)
	require.Empty(t, r.stderr)
}

// TestUnknownUserIsRefused: a payment to a user who does not exist is
// refused by the gateway with NOT_FOUND, in words ("no user named
// mallory"), REJECTED at once: final, exit status 1, nothing left queued
// to be resent.
func TestUnknownUserIsRefused(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	r := runMain(t, "", cliArgs(w, dir, "pay", "--to", "mallory", "--amount", "1")...)
	require.Equal(t, client.ExitFailed, r.exit, "%+v", r)
	require.Contains(t, r.stdout, "refused by the gateway: no user named mallory")
	require.NotContains(t, r.stdout, "gatewayd")
	require.NotContains(t, r.stdout, "NotFound")

	r = runMain(t, "", cliArgs(w, dir, "pay", "--to", "mallory", "--amount", "1", "--json")...)
	require.Equal(t, client.ExitFailed, r.exit, "%+v", r)
	v := decodeJSON(t, r.stdout)
	require.Equal(t, "REJECTED", v["status"])
	require.Equal(t, "refused by the gateway: no user named mallory", v["message"])
	require.Equal(t, "NOT_FOUND", v["code"])

	r = runMain(t, "", cliArgs(w, dir, "queue", "list", "--json")...)
	require.Zero(t, r.exit, "%+v", r)
	require.Empty(t, decodeJSON(t, r.stdout)["pending"], "a refused payment is not held")
}

// TestJSONErrors: under --json an error is one JSON object on standard
// error, code and message, and nothing else is printed.
func TestJSONErrors(t *testing.T) {
	w := newWorld(t)
	nobody := t.TempDir()
	requireJSONError(t, runMain(t, "", cliArgs(w, nobody, "balance", "--json")...), client.ExitFailed, "UNAUTHENTICATED", "not logged in")
	requireJSONError(t, runMain(t, "wrong\n", cliArgs(w, nobody, "login", "--user", "alice", "--password-stdin", "--json")...),
		client.ExitFailed, "UNAUTHENTICATED", "login refused: wrong user or password")

	admin := w.login(t, "admin")
	requireJSONError(t, runMain(t, "", cliArgs(w, admin, "admin", "lock", "mallory", "--json")...),
		client.ExitFailed, "NOT_FOUND", "cannot lock or unlock mallory: no user named mallory")
	requireJSONError(t, runMain(t, "dave password\n", cliArgs(w, admin, "admin", "register", "--user", "dave", "--role", "customer",
		"--account", "BankZ/1", "--password-stdin", "--json")...),
		client.ExitFailed, "NOT_FOUND", "no bank named BankZ is known to this gateway")
	alice := w.login(t, "alice")
	requireJSONError(t, runMain(t, "", cliArgs(w, alice, "admin", "lock", "bob", "--json")...),
		client.ExitFailed, "PERMISSION_DENIED", "cannot lock or unlock bob: a customer may not call")

	w.stop(t)
	requireJSONError(t, runMain(t, "", cliArgs(w, alice, "balance", "--json")...), client.ExitFailed, "UNAVAILABLE", "cannot reach the gateway")
}
