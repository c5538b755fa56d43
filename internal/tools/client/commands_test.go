package client_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/plumbing/auth"
	"github.com/strife-pay/strife/internal/tools/client"
)

// cliArgs are the flags that point a command at w with state in dir.
func cliArgs(w *world, dir string, args ...string) []string {
	return append(args, "--gateway", w.cfg.Listen, "--certs", w.pki.Dir, "--state-dir", dir)
}

func decodeJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(out), "\n")+1, "one line: %s", out)
	return v
}

// requireOneLine checks that err is one line that says want.
func requireOneLine(t *testing.T, err error, want string) {
	t.Helper()
	require.Error(t, err)
	require.NotContains(t, err.Error(), "\n")
	require.Contains(t, err.Error(), want)
}

func requireFields(t *testing.T, v map[string]any, fields ...string) {
	t.Helper()
	for _, f := range fields {
		require.Contains(t, v, f)
	}
}

var paymentFields = []string{"transaction_id", "status", "to", "amount", "amount_text"}

func TestCommandsJSON(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()

	out, err := run(t, "alice password\n", cliArgs(w, dir, "login", "--user", "alice", "--password-stdin", "--json")...)
	require.NoError(t, err)
	v := decodeJSON(t, out)
	requireFields(t, v, "user", "role", "cert_name", "expires_at")
	require.Equal(t, "alice", v["user"])
	info, err := os.Stat(filepath.Join(dir, "session.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	out, err = run(t, "", cliArgs(w, dir, "pay", "--to", "bob", "--amount", "12.50", "--memo", "lunch", "--json")...)
	require.NoError(t, err)
	v = decodeJSON(t, out)
	requireFields(t, v, paymentFields...)
	require.Equal(t, "COMMITTED", v["status"])
	require.Equal(t, float64(1250), v["amount"])
	require.Equal(t, "12.50", v["amount_text"])

	out, err = run(t, "", cliArgs(w, dir, "pay", "--to-account", "BankB/2001", "--amount", "5000", "--json")...)
	require.EqualError(t, err, "payment failed")
	v = decodeJSON(t, out)
	require.Equal(t, "FAILED", v["status"])
	require.Equal(t, "INSUFFICIENT_FUNDS", v["reason"])

	w.posted(t, "BankA", "1001") // COMMITTED is answered before the banks apply it
	out, err = run(t, "", cliArgs(w, dir, "balance", "--json")...)
	require.NoError(t, err)
	v = decodeJSON(t, out)
	accounts := v["accounts"].([]any)
	require.Len(t, accounts, 1)
	requireFields(t, accounts[0].(map[string]any), "account", "posted", "available", "held", "pending_credits", "available_text")
	require.Equal(t, float64(100000-1250), accounts[0].(map[string]any)["posted"])

	out, err = run(t, "", cliArgs(w, dir, "history", "--json")...)
	require.NoError(t, err)
	payments := decodeJSON(t, out)["payments"].([]any)
	require.Len(t, payments, 2)
	requireFields(t, payments[0].(map[string]any), paymentFields...)

	// Once both banks have applied the COMMITTED payment, history says
	// when, in created_at's format; the FAILED one never settles.
	var committed map[string]any
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		out, err := run(t, "", cliArgs(w, dir, "history", "--json")...)
		require.NoError(c, err)
		var v struct{ Payments []map[string]any }
		require.NoError(c, json.Unmarshal([]byte(out), &v), out)
		committed = nil
		for _, p := range v.Payments {
			if p["status"] == "COMMITTED" {
				committed = p
			} else {
				assert.NotContains(c, p, "settled_at", "a %s payment", p["status"])
			}
		}
		require.NotNil(c, committed, out)
		assert.Contains(c, committed, "settled_at")
	}, 10*time.Second, 20*time.Millisecond)
	const seconds = `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$` // RFC 3339, in UTC, to the second
	require.Regexp(t, seconds, committed["created_at"])
	require.Regexp(t, seconds, committed["settled_at"])
	require.LessOrEqual(t, committed["created_at"], committed["settled_at"])

	w.stop(t)
	out, err = run(t, "", cliArgs(w, dir, "pay", "--to", "bob", "--amount", "1", "--json")...)
	require.Equal(t, &client.OutcomeError{Outcome: client.OutcomeQueued}, err, "exit status 3")
	v = decodeJSON(t, out)
	require.Equal(t, "QUEUED", v["status"])
	require.Equal(t, client.QueuedMessage, v["message"])
	queued := v["transaction_id"]

	out, err = run(t, "", cliArgs(w, dir, "queue", "list", "--json")...)
	require.NoError(t, err)
	pending := decodeJSON(t, out)["pending"].([]any)
	require.Len(t, pending, 1)
	requireFields(t, pending[0].(map[string]any), append(paymentFields, "attempts", "created_at")...)
	require.Equal(t, queued, pending[0].(map[string]any)["transaction_id"])

	w.start(t)
	require.Eventually(t, func() bool {
		out, err = run(t, "", cliArgs(w, dir, "queue", "flush", "--json")...)
		if decodeJSON(t, out)["remaining"] != float64(0) {
			require.Equal(t, &client.OutcomeError{Outcome: client.OutcomeQueued}, err, "exit status 3")
			return false
		}
		require.NoError(t, err)
		return true
	}, 20*time.Second, 100*time.Millisecond)
	results := decodeJSON(t, out)["results"].([]any)
	require.Len(t, results, 1)
	require.Equal(t, "COMMITTED", results[0].(map[string]any)["status"])
	require.Equal(t, queued, results[0].(map[string]any)["transaction_id"])

	out, err = run(t, "", cliArgs(w, dir, "logout", "--json")...)
	require.NoError(t, err)
	require.Equal(t, true, decodeJSON(t, out)["logged_out"])
	_, err = run(t, "", cliArgs(w, dir, "balance")...)
	require.ErrorIs(t, err, client.ErrNotLoggedIn)
}

func TestWatchJSONReportsQueuedOutcome(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	w.stop(t)
	out, err := run(t, "", cliArgs(w, dir, "pay", "--to", "bob", "--amount", "2.00")...)
	require.Equal(t, &client.OutcomeError{Outcome: client.OutcomeQueued}, err, "exit status 3")
	require.Contains(t, out, client.QueuedMessage)

	w.start(t)
	out, err = run(t, "", cliArgs(w, dir, "watch", "--json", "--for", "3s")...)
	require.NoError(t, err)
	var outcomes int
	for line := range strings.Lines(out) {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		requireFields(t, ev, append(paymentFields, "event")...)
		if ev["event"] == "outcome" {
			outcomes++
			require.Equal(t, "COMMITTED", ev["status"])
		}
	}
	require.Equal(t, 1, outcomes, out)
}

func TestExpiredTokenSaysLogInAgain(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	s, err := client.LoadSession(dir)
	require.NoError(t, err)
	s.Token += "x"
	require.NoError(t, client.SaveSession(dir, s))
	_, err = run(t, "", cliArgs(w, dir, "balance")...)
	require.ErrorIs(t, err, client.ErrLoginAgain)
	require.Contains(t, err.Error(), "log in again")

	// Watch says so too, with nothing queued (the stream is refused)...
	_, err = run(t, "", cliArgs(w, dir, "watch", "--for", "20s")...)
	require.ErrorIs(t, err, client.ErrLoginAgain)
	// ...and once it resends a payment.
	_, err = run(t, "", cliArgs(w, dir, "pay", "--to", "bob", "--amount", "1")...)
	require.ErrorIs(t, err, client.ErrLoginAgain)
	_, err = run(t, "", cliArgs(w, dir, "watch", "--for", "20s")...)
	require.ErrorIs(t, err, client.ErrLoginAgain)
}

// TestBadInputIsOneLine: bad flags are refused, in one line, before
// anything else (nobody is logged in, which would be another error).
func TestBadInputIsOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pay", "--to", "bob", "--amount", "12.505"}, "at most two decimals"},
		{[]string{"pay", "--amount", "1"}, "give exactly one of --to USER or --to-account"},
		{[]string{"pay", "--to", "bob", "--to-account", "BankB/2001", "--amount", "1"}, "give exactly one of --to USER or --to-account"},
		{[]string{"balance", "--cert-name", "a/b"}, "--cert-name"},
		{[]string{"pay", "--to", "bob", "--amount", "1", "--memo", "\x1b[31mred"}, "memo is not valid text: control character U+001B at byte 0"},
		{[]string{"pay", "--to", "bob", "--amount", "1", "--memo", "a\nb"}, "memo is not valid text: control character U+000A at byte 1"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := run(t, "", append(tc.args, "--state-dir", t.TempDir())...)
			requireOneLine(t, err, tc.want)
		})
	}
}

// A throttled login is not a wrong password: the client says so, and when
// to try again (issue 14).
func TestLoginThrottled(t *testing.T) {
	w := newWorld(t)
	w.stop(t)
	frozen := time.Now()
	w.cfg.UserThrottle.Now = func() time.Time { return frozen } // a delay never ends
	w.start(t)
	dir := t.TempDir()
	c, err := client.Open(w.config(dir))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Dial("bob"))
	for range auth.DefaultUserThrottle.Free {
		_, err := c.Login(t.Context(), "bob", "not the password")
		require.EqualError(t, err, "login refused: wrong user or password")
	}
	_, err = c.Login(t.Context(), "bob", passwords["bob"])
	require.ErrorIs(t, err, client.ErrTryLater)
	require.NotContains(t, err.Error(), "wrong")
	require.Regexp(t, `^refused for now: try again in 1s, at \d\d:\d\d:\d\d \(too many failed logins`, err.Error())

	out, err := run(t, passwords["bob"]+"\n", cliArgs(w, dir, "login", "--user", "bob", "--password-stdin")...)
	require.ErrorIs(t, err, client.ErrTryLater, out)
	require.Contains(t, err.Error(), "try again in")
}
