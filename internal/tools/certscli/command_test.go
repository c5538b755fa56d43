package certscli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
)

func TestCommandInitIssueShow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")

	out := run(t, "init", "--dir", dir, "--banks", "BankA,BankB", "--clients", "alice", "--validity", "720h")
	require.NoError(t, out.err)
	require.Empty(t, out.stderr)
	for _, want := range []string{
		"ca.crt", "ca.key", "gateway-1.crt  certificate", "BankB.key", "admin.crt", "alice.crt",
		"token signing key", "bank", "client", "expires 20",
	} {
		require.Contains(t, out.stdout, want)
	}
	require.NotContains(t, out.stdout, "BankC")
	tokenKey, err := os.ReadFile(filepath.Join(dir, "token.key"))
	require.NoError(t, err)
	require.NotContains(t, out.stdout, string(tokenKey))

	out = run(t, "issue", "--dir", dir, "--role", "bank", "--name", "BankD")
	require.NoError(t, out.err)
	require.Contains(t, out.stdout, "BankD.crt")
	cert := readCert(t, filepath.Join(dir, "BankD.crt"))
	require.Equal(t, []string{"localhost"}, cert.DNSNames, "a bank gets the loopback SANs by default")
	requireChains(t, dir, cert)

	out = run(t, "issue", "--dir", dir, "--role", "client", "--name", "dave")
	require.NoError(t, out.err)
	cert = readCert(t, filepath.Join(dir, "dave.crt"))
	require.Empty(t, cert.DNSNames, "a client gets no SANs by default")
	require.Equal(t, []string{string(certs.RoleClient)}, cert.Subject.OrganizationalUnit)

	for _, sub := range []string{"show", "list"} {
		out = run(t, sub, "--dir", dir)
		require.NoError(t, out.err)
		lines := strings.Split(strings.TrimSpace(out.stdout), "\n")
		require.Len(t, lines, 1+8, out.stdout) // header, CA, gateway, 3 banks, admin, 2 clients
		require.Contains(t, lines[1], "strife-ca")
		for _, line := range lines[1:] {
			require.True(t, strings.HasSuffix(line, "yes"), line)
		}
		require.Contains(t, out.stdout, "localhost,127.0.0.1,::1")
	}
}

func TestCommandErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, run(t, "init", "--dir", dir).err)
	before := snapshot(t, dir)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"init again", []string{"init", "--dir", dir},
			dir + " already has a CA; use --force to replace it or `issue` to add a certificate"},
		{"issue existing", []string{"issue", "--dir", dir, "--role", "bank", "--name", "BankA"},
			"BankA.crt already exists; use --force to renew it"},
		{"bad role", []string{"issue", "--dir", dir, "--role", "root", "--name", "x"},
			`unknown role: "root" (want one of client, admin, gateway, bank)`},
		{"bad name", []string{"issue", "--dir", dir, "--role", "bank", "--name", "Bank A"},
			`invalid name: "Bank A" (want 1 to 64 of A-Z a-z 0-9 . _ -, not starting with a dot)`},
		{"bad bank name", []string{"init", "--dir", dir, "--force", "--banks", "BankA,Bank?"},
			`invalid name: "Bank?"`},
		{"bad host", []string{"init", "--dir", dir, "--force", "--hosts", "localhost,not a host"},
			`invalid host: "not a host"`},
		{"no dir", []string{"init"}, `required flag(s) "dir" not set`},
		{"no such dir", []string{"show", "--dir", filepath.Join(dir, "nope")}, "no such file or directory"},
		{"unknown flag", []string{"init", "--dir", dir, "--bank", "X"}, "unknown flag: --bank"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := run(t, tt.args...)
			require.Error(t, out.err)
			require.Empty(t, out.stdout)
			require.Equal(t, "Error: ", out.stderr[:min(7, len(out.stderr))])
			require.Contains(t, out.stderr, tt.want)
			require.Equal(t, 1, strings.Count(out.stderr, "\n"), "one line, no usage: %q", out.stderr)
			require.Equal(t, before, snapshot(t, dir))
		})
	}
}

func TestCommandForce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, run(t, "init", "--dir", dir).err)
	before := snapshot(t, dir)

	require.NoError(t, run(t, "init", "--dir", dir, "--force").err)
	after := snapshot(t, dir)
	require.Equal(t, keys(before), keys(after))
	for name := range before {
		require.NotEqual(t, before[name], after[name], name)
	}

	require.NoError(t, run(t, "issue", "--dir", dir, "--role", "bank", "--name", "BankA", "--force").err)
	require.NotEqual(t, after["BankA.crt"], snapshot(t, dir)["BankA.crt"])
	requireChains(t, dir, readCert(t, filepath.Join(dir, "BankA.crt")))
}
