package certscli_test

import (
	"crypto/tls"
	"encoding/hex"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/tools/certscli"
)

func TestInitCreatesEveryCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	res, err := certscli.Init(certscli.DefaultInitOptions(dir))
	require.NoError(t, err)

	loopback := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	tests := []struct {
		name string
		role certs.Role
		sans bool // the --hosts SANs, for servers only
	}{
		{"gateway-1", certs.RoleGateway, true},
		{"BankA", certs.RoleBank, true},
		{"BankB", certs.RoleBank, true},
		{"BankC", certs.RoleBank, true},
		{"admin", certs.RoleAdmin, false},
		{"alice", certs.RoleClient, false},
		{"bob", certs.RoleClient, false},
		{"carol", certs.RoleClient, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := certs.FilesIn(dir, tt.name)
			requirePerm(t, f.KeyFile, 0o600)
			requirePerm(t, f.CertFile, 0o644)
			cert := readCert(t, f.CertFile)
			require.Equal(t, tt.name, cert.Subject.CommonName)
			require.Equal(t, []string{string(tt.role)}, cert.Subject.OrganizationalUnit)
			if tt.sans {
				require.Equal(t, []string{"localhost"}, cert.DNSNames)
				require.Len(t, cert.IPAddresses, len(loopback))
				for i, ip := range loopback {
					require.True(t, ip.Equal(cert.IPAddresses[i]), "%v", cert.IPAddresses)
				}
			} else {
				require.Empty(t, cert.DNSNames)
				require.Empty(t, cert.IPAddresses)
			}
			require.WithinDuration(t, time.Now().Add(certs.DefaultValidity), cert.NotAfter, time.Minute)
			requireChains(t, dir, cert)
			_, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
			require.NoError(t, err)
		})
	}

	requirePerm(t, dir, 0o700)
	requirePerm(t, filepath.Join(dir, certs.CAKeyFile), 0o600)
	requirePerm(t, filepath.Join(dir, certs.CACertFile), 0o644)
	_, err = certs.LoadCA(dir)
	require.NoError(t, err)

	// The result names every file in dir, and nothing else is there.
	var written []string
	for _, f := range res.Files {
		written = append(written, filepath.Base(f.Path))
	}
	require.ElementsMatch(t, keys(snapshot(t, dir)), written)
	require.Len(t, written, 2+2*len(tests)+1)
}

func TestInitOptions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	o := certscli.DefaultInitOptions(dir)
	o.Banks = []string{"BankX"}
	o.Admin = ""
	o.Clients = nil
	o.Hosts = []string{"bank.example", "*.strife.test", "10.0.0.7"}
	o.Validity = 48 * time.Hour
	_, err := certscli.Init(o)
	require.NoError(t, err)

	require.ElementsMatch(t, []string{"ca.crt", "ca.key", "gateway-1.crt", "gateway-1.key",
		"BankX.crt", "BankX.key", certscli.TokenKeyFile}, keys(snapshot(t, dir)))
	cert := readCert(t, filepath.Join(dir, "BankX.crt"))
	require.Equal(t, []string{"bank.example", "*.strife.test"}, cert.DNSNames)
	require.Len(t, cert.IPAddresses, 1)
	require.True(t, net.ParseIP("10.0.0.7").Equal(cert.IPAddresses[0]))
	require.WithinDuration(t, time.Now().Add(48*time.Hour), cert.NotAfter, time.Minute)
}

func TestInitRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*certscli.InitOptions)
		want   error
	}{
		{"no dir", func(o *certscli.InitOptions) { o.Dir = "" }, certscli.ErrInvalidOptions},
		{"no gateway", func(o *certscli.InitOptions) { o.Gateway = "" }, certscli.ErrInvalidOptions},
		{"negative validity", func(o *certscli.InitOptions) { o.Validity = -time.Hour }, certscli.ErrInvalidOptions},
		{"bad bank name", func(o *certscli.InitOptions) { o.Banks = []string{"Bank A"} }, certs.ErrInvalidName},
		{"dot name", func(o *certscli.InitOptions) { o.Clients = []string{".alice"} }, certs.ErrInvalidName},
		{"path name", func(o *certscli.InitOptions) { o.Clients = []string{"../alice"} }, certs.ErrInvalidName},
		{"reserved ca", func(o *certscli.InitOptions) { o.Banks = []string{"ca"} }, certscli.ErrReservedName},
		{"reserved token", func(o *certscli.InitOptions) { o.Admin = "Token" }, certscli.ErrReservedName},
		{"duplicate", func(o *certscli.InitOptions) { o.Clients = []string{"alice", "BankA"} }, certscli.ErrDuplicateName},
		{"duplicate by case", func(o *certscli.InitOptions) { o.Banks = []string{"BankA", "banka"} }, certscli.ErrDuplicateName},
		{"bad host", func(o *certscli.InitOptions) { o.Hosts = []string{"local host"} }, certscli.ErrInvalidHost},
		{"empty host", func(o *certscli.InitOptions) { o.Hosts = []string{"localhost", ""} }, certscli.ErrInvalidHost},
		{"host with zone", func(o *certscli.InitOptions) { o.Hosts = []string{"fe80::1%eth0"} }, certscli.ErrInvalidHost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "certs")
			o := certscli.DefaultInitOptions(dir)
			tt.modify(&o)
			require.ErrorIs(t, o.Validate(), tt.want)
			_, err := certscli.Init(o)
			require.ErrorIs(t, err, tt.want)
			require.NoDirExists(t, dir, "a rejected Init must write nothing")
		})
	}
}

func TestInitRefusesExistingFiles(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		want    string
	}{
		{"a CA", func(t *testing.T, dir string) {
			_, err := certscli.Init(certscli.DefaultInitOptions(dir))
			require.NoError(t, err)
		}, "already has a CA; use --force to replace it or `issue` to add a certificate"},
		{"a stray certificate", func(t *testing.T, dir string) {
			require.NoError(t, os.MkdirAll(dir, 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "BankB.crt"), []byte("old"), 0o644))
		}, "BankB.crt already exists; use --force to replace it"},
		{"a token key", func(t *testing.T, dir string) {
			require.NoError(t, os.MkdirAll(dir, 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(dir, certscli.TokenKeyFile), []byte("old"), 0o600))
		}, "token.key already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "certs")
			tt.prepare(t, dir)
			before := snapshot(t, dir)

			_, err := certscli.Init(certscli.DefaultInitOptions(dir))
			require.ErrorIs(t, err, certscli.ErrExists)
			require.ErrorContains(t, err, tt.want)
			require.Equal(t, before, snapshot(t, dir), "files must be untouched")
		})
	}
}

func TestInitForceReplaces(t *testing.T) {
	dir := initDir(t)
	_, err := certscli.Issue(certscli.IssueOptions{Dir: dir, Role: certs.RoleBank, Name: "BankD"})
	require.NoError(t, err)
	before := snapshot(t, dir)

	o := certscli.DefaultInitOptions(dir)
	o.Force = true
	_, err = certscli.Init(o)
	require.NoError(t, err)

	after := snapshot(t, dir)
	for name, old := range before {
		if name == "BankD.crt" || name == "BankD.key" {
			require.Equal(t, old, after[name], "Init leaves files it does not write alone")
			continue
		}
		require.NotEqual(t, old, after[name], name)
	}
	requireChains(t, dir, readCert(t, filepath.Join(dir, "BankA.crt")))
}

func TestTokenKey(t *testing.T) {
	dir1, dir2 := initDir(t), initDir(t)
	read := func(dir string) string {
		path := filepath.Join(dir, certscli.TokenKeyFile)
		requirePerm(t, path, 0o600)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Len(t, data, 64)
		key, err := hex.DecodeString(string(data))
		require.NoError(t, err)
		require.Len(t, key, 32)
		require.Equal(t, hex.EncodeToString(key), string(data), "lower case")
		return string(data)
	}
	key1 := read(dir1)
	require.NotEqual(t, key1, read(dir2))

	o := certscli.DefaultInitOptions(dir1)
	o.Force = true
	_, err := certscli.Init(o)
	require.NoError(t, err)
	require.NotEqual(t, key1, read(dir1), "--force makes a new key")
}

func keys(m map[string][]byte) []string {
	return slices.Sorted(maps.Keys(m))
}
