package client_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/client"
)

// stateArgs are the flags of a command that relies on the login for where
// the gateway and the certificates are: only the state directory.
func stateArgs(dir string, args ...string) []string {
	return append(args, "--state-dir", dir)
}

// TestLoginRemembersGatewayAndCerts: after a login with --gateway and
// --certs, commands given neither go to the same gateway with the same
// certificates; the environment overrides the session, and a flag the
// environment (issue 15).
func TestLoginRemembersGatewayAndCerts(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	r := runMain(t, passwords["alice"]+"\n", cliArgs(w, dir, "login", "--user", "alice", "--password-stdin")...)
	require.Zero(t, r.exit, r.stderr)

	r = runMain(t, "", stateArgs(dir, "balance", "--json")...)
	require.Zero(t, r.exit, "balance without --gateway and --certs: %s", r.stderr)
	require.Contains(t, r.stdout, "BankA/1001")

	s, err := client.LoadSession(dir)
	require.NoError(t, err)
	require.Equal(t, w.cfg.Listen, s.Gateway)
	require.True(t, filepath.IsAbs(s.CertsDir), s.CertsDir)

	// $STRIFE_GATEWAY comes before the session...
	t.Setenv(client.GatewayEnv, freeAddr(t))
	r = runMain(t, "", stateArgs(dir, "balance", "--json")...)
	require.Equal(t, client.ExitFailed, r.exit)
	require.Equal(t, "UNAVAILABLE", decodeJSON(t, r.stderr)["code"], r.stderr)
	// ...and --gateway before $STRIFE_GATEWAY.
	r = runMain(t, "", stateArgs(dir, "balance", "--gateway", w.cfg.Listen)...)
	require.Zero(t, r.exit, r.stderr)

	// $STRIFE_CERTS likewise, before the session.
	t.Setenv(client.GatewayEnv, w.cfg.Listen)
	t.Setenv(client.CertsEnv, t.TempDir())
	r = runMain(t, "", stateArgs(dir, "balance")...)
	require.Equal(t, client.ExitFailed, r.exit)
	require.Contains(t, r.stderr, "certificate")
	r = runMain(t, "", stateArgs(dir, "balance", "--certs", w.pki.Dir)...)
	require.Zero(t, r.exit, r.stderr)
}

// TestEnvironmentGivesGatewayAndCerts: $STRIFE_GATEWAY and $STRIFE_CERTS
// serve a login, as $STRIFE_STATE serves the state directory.
func TestEnvironmentGivesGatewayAndCerts(t *testing.T) {
	w := newWorld(t)
	t.Setenv(client.GatewayEnv, w.cfg.Listen)
	t.Setenv(client.CertsEnv, w.pki.Dir)
	t.Setenv(client.StateEnv, t.TempDir())
	r := runMain(t, passwords["alice"]+"\n", "login", "--user", "alice", "--password-stdin")
	require.Zero(t, r.exit, r.stderr)
	r = runMain(t, "", "pay", "--to", "bob", "--amount", "1")
	require.Zero(t, r.exit, r.stderr)
}

// TestOldSessionStillLoads: a session.json written before the gateway and
// certificate directory were saved in it still logs the user in.
func TestOldSessionStillLoads(t *testing.T) {
	w := newWorld(t)
	dir := w.login(t, "alice")
	s, err := client.LoadSession(dir)
	require.NoError(t, err)
	old, err := json.Marshal(map[string]any{"token": s.Token, "user": s.User, "role": s.Role, "cert_name": s.CertName, "expires_at": s.ExpiresAt})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "session.json"), old, 0o600))

	r := runMain(t, "", cliArgs(w, dir, "balance")...)
	require.Zero(t, r.exit, r.stderr)
}
