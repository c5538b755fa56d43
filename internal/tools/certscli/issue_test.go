package certscli_test

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/tools/certscli"
)

func TestIssueAddsCertificate(t *testing.T) {
	dir := initDir(t)
	res, err := certscli.Issue(certscli.IssueOptions{
		Dir: dir, Role: certs.RoleBank, Name: "BankD",
		Hosts: []string{"bankd.internal", "10.1.2.3"}, Validity: 72 * time.Hour,
	})
	require.NoError(t, err)
	f := certs.FilesIn(dir, "BankD")
	require.Len(t, res.Files, 2)
	require.ElementsMatch(t, []string{f.CertFile, f.KeyFile}, []string{res.Files[0].Path, res.Files[1].Path})

	requirePerm(t, f.KeyFile, 0o600)
	cert := readCert(t, f.CertFile)
	require.Equal(t, "BankD", cert.Subject.CommonName)
	require.Equal(t, []string{"bank"}, cert.Subject.OrganizationalUnit)
	require.Equal(t, []string{"bankd.internal"}, cert.DNSNames)
	require.True(t, net.ParseIP("10.1.2.3").Equal(cert.IPAddresses[0]))
	require.WithinDuration(t, time.Now().Add(72*time.Hour), cert.NotAfter, time.Minute)
	requireChains(t, dir, cert)
}

func TestIssueRefusesExistingName(t *testing.T) {
	dir := initDir(t)
	before := snapshot(t, dir)
	_, err := certscli.Issue(certscli.IssueOptions{Dir: dir, Role: certs.RoleBank, Name: "BankA"})
	require.ErrorIs(t, err, certscli.ErrExists)
	require.ErrorContains(t, err, "BankA.crt already exists; use --force to renew it")
	require.Equal(t, before, snapshot(t, dir))
}

// TestIssueForceRenews renews the gateway's certificate under a running
// server config: the next handshake presents the new certificate.
func TestIssueForceRenews(t *testing.T) {
	dir := initDir(t)
	serverCfg, err := certs.ServerConfig(certs.FilesIn(dir, "gateway-1"))
	require.NoError(t, err)
	clientCfg, err := certs.ClientConfig(certs.FilesIn(dir, "BankA"), "localhost")
	require.NoError(t, err)
	old := readCert(t, filepath.Join(dir, "gateway-1.crt"))

	_, err = certscli.Issue(certscli.IssueOptions{
		Dir: dir, Role: certs.RoleGateway, Name: "gateway-1", Hosts: certscli.DefaultHosts(), Force: true,
	})
	require.NoError(t, err)

	renewed := readCert(t, filepath.Join(dir, "gateway-1.crt"))
	require.NotEqual(t, old.SerialNumber, renewed.SerialNumber)
	_, client := handshake(t, serverCfg, clientCfg)
	require.Equal(t, renewed.SerialNumber, client.PeerCertificates[0].SerialNumber)
}

func TestIssueRejects(t *testing.T) {
	dir := initDir(t)
	tests := []struct {
		name string
		opts certscli.IssueOptions
		want error
		msg  string
	}{
		{"bad role", certscli.IssueOptions{Dir: dir, Role: "banker", Name: "BankD"},
			certs.ErrUnknownRole, `"banker" (want one of client, admin, gateway, bank)`},
		{"no role", certscli.IssueOptions{Dir: dir, Name: "BankD"},
			certs.ErrUnknownRole, "want one of client, admin, gateway, bank"},
		{"bad name", certscli.IssueOptions{Dir: dir, Role: certs.RoleBank, Name: "Bank/D"},
			certs.ErrInvalidName, `"Bank/D" (want 1 to 64 of A-Z a-z 0-9 . _ -, not starting with a dot)`},
		{"empty name", certscli.IssueOptions{Dir: dir, Role: certs.RoleBank},
			certs.ErrInvalidName, "want 1 to 64"},
		{"reserved name", certscli.IssueOptions{Dir: dir, Role: certs.RoleBank, Name: "CA"},
			certscli.ErrReservedName, `"CA"`},
		{"bad host", certscli.IssueOptions{Dir: dir, Role: certs.RoleBank, Name: "BankD", Hosts: []string{"a b"}},
			certscli.ErrInvalidHost, "want a DNS name or an IP address"},
		{"no CA", certscli.IssueOptions{Dir: t.TempDir(), Role: certs.RoleBank, Name: "BankD"},
			os.ErrNotExist, "run `strife-certs init --dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, tt.opts.Dir)
			_, err := certscli.Issue(tt.opts)
			require.ErrorIs(t, err, tt.want)
			require.ErrorContains(t, err, tt.msg)
			require.Equal(t, before, snapshot(t, tt.opts.Dir))
		})
	}
}

// TestCertificatesWork runs real TLS 1.3 handshakes between the files Init
// wrote, the gateway serving.
func TestCertificatesWork(t *testing.T) {
	dir := initDir(t)
	serverCfg, err := certs.ServerConfig(certs.FilesIn(dir, "gateway-1"))
	require.NoError(t, err)
	tests := []struct {
		client     string
		role       certs.Role
		serverName string // "" checks the dialed IP 127.0.0.1
	}{
		{"BankA", certs.RoleBank, "localhost"},
		{"BankC", certs.RoleBank, ""},
		{"admin", certs.RoleAdmin, "::1"},
		{"alice", certs.RoleClient, "localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.client, func(t *testing.T) {
			clientCfg, err := certs.ClientConfig(certs.FilesIn(dir, tt.client), tt.serverName)
			require.NoError(t, err)
			server, client := handshake(t, serverCfg, clientCfg)
			require.Equal(t, uint16(tls.VersionTLS13), server.Version)
			requireIdentity(t, server, tt.client, tt.role)
			requireIdentity(t, client, "gateway-1", certs.RoleGateway)
		})
	}
}
