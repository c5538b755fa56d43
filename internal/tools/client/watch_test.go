package client_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/tools/cli"
	"github.com/strife-pay/strife/internal/tools/client"
)

// A watch whose token is revoked while it runs (an admin's lock and
// unlock) says so, waits for a new login, and then reports the payment
// made while it had no stream (from ListPayments) and the ones after.
func TestWatchResumesAfterRevocationMissingNothing(t *testing.T) {
	w := newWorld(t)
	aliceDir, bobDir := w.login(t, "alice"), w.login(t, "bob")
	admin, err := client.Open(w.config(w.login(t, "admin")))
	require.NoError(t, err)
	require.NoError(t, admin.Dial(""))
	defer admin.Close()

	var out, errOut banktest.LogBuffer
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		cmd := cli.Command()
		cmd.SetArgs(cliArgs(w, aliceDir, "watch", "--json"))
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		done <- cmd.ExecuteContext(ctx)
	}()
	pay := func() string {
		o, err := run(t, "", cliArgs(w, bobDir, "pay", "--to", "alice", "--amount", "0.01", "--json")...)
		require.NoError(t, err)
		return decodeJSON(t, o)["transaction_id"].(string)
	}
	// The watch is open once it reports a payment made after it opened.
	opened := false
	for range 20 {
		id := pay()
		if opened = eventually(func() bool { return strings.Contains(out.String(), id) }, time.Second); opened {
			break
		}
	}
	require.True(t, opened, "the watch never reported a payment: %s %s", out.String(), errOut.String())

	_, err = admin.LockUser(t.Context(), "alice", true)
	require.NoError(t, err)
	_, err = admin.LockUser(t.Context(), "alice", false)
	require.NoError(t, err)
	require.True(t, eventually(func() bool { return strings.Contains(errOut.String(), "log in again") }, 10*time.Second),
		"the watch did not say to log in again: %s", errOut.String())

	missed := pay() // while the watch waits for a login
	c, err := client.Open(w.config(aliceDir))
	require.NoError(t, err)
	require.NoError(t, c.Dial("alice"))
	_, err = c.Login(t.Context(), "alice", passwords["alice"])
	require.NoError(t, err)
	c.Close()
	after := pay()

	require.True(t, eventually(func() bool {
		return reported(t, out.String(), missed) && reported(t, out.String(), after)
	}, 15*time.Second), "missed %s or %s:\n%s", missed, after, out.String())
	cancel()
	require.NoError(t, <-done)
}

// reported says whether a watch's JSON output has a payment event for id.
func reported(t *testing.T, out, id string) bool {
	for line := range strings.Lines(out) {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		if ev["event"] == "payment" && ev["transaction_id"] == id {
			return true
		}
	}
	return false
}

// eventually polls cond every 50ms for at most d.
func eventually(cond func() bool, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// Logout revokes the token at the gateway: a copy of it kept aside is
// refused afterwards. With the gateway down, logout still forgets it.
func TestLogoutRevokesTheToken(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	copied, err := client.LoadSession(dir)
	require.NoError(t, err)
	_, err = run(t, "", cliArgs(w, dir, "logout")...)
	require.NoError(t, err)
	require.NoError(t, client.SaveSession(dir, copied))
	_, err = run(t, "", cliArgs(w, dir, "balance")...)
	require.ErrorIs(t, err, client.ErrLoginAgain, "the copy is revoked")

	dir = w.login(t, "alice")
	w.stop(t)
	_, err = run(t, "", cliArgs(w, dir, "logout")...)
	require.NoError(t, err, "the gateway is down")
	_, err = client.LoadSession(dir)
	require.Error(t, err, "the token is forgotten all the same")
}

// The menu's "logout and exit" revokes the token at the gateway too.
func TestMenuLogoutRevokesTheToken(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	copied, err := client.LoadSession(dir)
	require.NoError(t, err)
	out, err := run(t, "6\n", cliArgs(w, dir, "menu")...)
	require.NoError(t, err)
	require.Contains(t, out, "logged out\n")
	require.NotContains(t, out, "warning")
	require.NoError(t, client.SaveSession(dir, copied))
	_, err = run(t, "", cliArgs(w, dir, "balance")...)
	require.ErrorIs(t, err, client.ErrLoginAgain, "the copy is revoked")
}
