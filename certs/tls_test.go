package certs_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
)

func TestMutualTLSIdentities(t *testing.T) {
	ca := newCA(t, "strife-ca")
	tests := []struct {
		server, client         string
		serverRole, clientRole certs.Role
	}{
		{"gateway-1", "alice-laptop", certs.RoleGateway, certs.RoleClient},
		{"gateway-1", "ops", certs.RoleGateway, certs.RoleAdmin},
		{"BankA", "gateway-1", certs.RoleBank, certs.RoleGateway},
		{"gateway-1", "BankA", certs.RoleGateway, certs.RoleBank},
	}
	for _, tt := range tests {
		t.Run(tt.client+"->"+tt.server, func(t *testing.T) {
			srv := issue(t, ca, tt.serverRole, tt.server)
			cli := issue(t, ca, tt.clientRole, tt.client)
			r := handshake(t, certs.ServerConfigFrom(srv, ca.Pool()),
				certs.ClientConfigFrom(cli, ca.Pool(), "localhost"))
			require.NoError(t, r.err())
			require.Equal(t, uint16(tls.VersionTLS13), r.server.Version)
			requireIdentity(t, r.server, tt.client, tt.clientRole)
			requireIdentity(t, r.client, tt.server, tt.serverRole)
		})
	}
}

func TestServerNameFromDialedAddress(t *testing.T) {
	ca := newCA(t, "strife-ca")
	srv := issue(t, ca, certs.RoleBank, "BankA")
	cli := issue(t, ca, certs.RoleGateway, "gateway-1")
	// An empty server name makes tls.Dial check the IP SAN 127.0.0.1.
	r := handshake(t, certs.ServerConfigFrom(srv, ca.Pool()), certs.ClientConfigFrom(cli, ca.Pool(), ""))
	require.NoError(t, r.err())
}

func TestHandshakeRefused(t *testing.T) {
	ca, other := newCA(t, "strife-ca"), newCA(t, "evil-ca")
	srv := issue(t, ca, certs.RoleGateway, "gateway-1")
	cli := issue(t, ca, certs.RoleClient, "alice-laptop")
	good := func() (*tls.Config, *tls.Config) {
		return certs.ServerConfigFrom(srv, ca.Pool()), certs.ClientConfigFrom(cli, ca.Pool(), "localhost")
	}
	tests := []struct {
		name    string
		configs func() (server, client *tls.Config)
		want    string // the refusal's reason, on the refusing side
	}{
		{"client cert from another CA", func() (*tls.Config, *tls.Config) {
			return certs.ServerConfigFrom(srv, ca.Pool()),
				certs.ClientConfigFrom(issue(t, other, certs.RoleClient, "alice-laptop"), ca.Pool(), "localhost")
		}, "certificate signed by unknown authority"},
		{"server cert from another CA", func() (*tls.Config, *tls.Config) {
			return certs.ServerConfigFrom(issue(t, other, certs.RoleGateway, "gateway-1"), ca.Pool()),
				certs.ClientConfigFrom(cli, ca.Pool(), "localhost")
		}, "certificate signed by unknown authority"},
		{"no client cert", func() (*tls.Config, *tls.Config) {
			s, _ := good()
			return s, &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: ca.Pool(), ServerName: "localhost"}
		}, "client didn't provide a certificate"},
		{"expired client cert", func() (*tls.Config, *tls.Config) {
			return certs.ServerConfigFrom(srv, ca.Pool()),
				certs.ClientConfigFrom(expired(t, ca, certs.RoleClient, "alice-laptop"), ca.Pool(), "localhost")
		}, "certificate has expired"},
		{"expired server cert", func() (*tls.Config, *tls.Config) {
			return certs.ServerConfigFrom(expired(t, ca, certs.RoleGateway, "gateway-1"), ca.Pool()),
				certs.ClientConfigFrom(cli, ca.Pool(), "localhost")
		}, "certificate has expired"},
		{"TLS 1.2 client", func() (*tls.Config, *tls.Config) {
			s, c := good()
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			return s, c
		}, "protocol version"},
		{"server name not in certificate", func() (*tls.Config, *tls.Config) {
			return certs.ServerConfigFrom(srv, ca.Pool()), certs.ClientConfigFrom(cli, ca.Pool(), "bank-b.example")
		}, "not bank-b.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serverCfg, clientCfg := tt.configs()
			r := handshake(t, serverCfg, clientCfg)
			require.Error(t, r.serverErr, "server must not complete the handshake")
			require.Error(t, r.clientErr, "client must not complete the exchange")
			require.ErrorContains(t, r.err(), tt.want)
		})
	}
}

func TestFilesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "strife-ca")
	require.NoError(t, ca.WriteFiles(dir))
	loaded, err := certs.LoadCA(dir)
	require.NoError(t, err)
	require.True(t, ca.Certificate().Equal(loaded.Certificate()))

	// Certificates issued by the loaded CA verify against the written one.
	require.NoError(t, issue(t, loaded, certs.RoleBank, "BankA").WriteFiles(dir, "BankA"))
	require.NoError(t, issue(t, loaded, certs.RoleGateway, "gateway-1").WriteFiles(dir, "gateway-1"))
	serverCfg, err := certs.ServerConfig(certs.FilesIn(dir, "BankA"))
	require.NoError(t, err)
	clientCfg, err := certs.ClientConfig(certs.FilesIn(dir, "gateway-1"), "localhost")
	require.NoError(t, err)

	r := handshake(t, serverCfg, clientCfg)
	require.NoError(t, r.err())
	requireIdentity(t, r.server, "gateway-1", certs.RoleGateway)
	requireIdentity(t, r.client, "BankA", certs.RoleBank)
}

func TestRenewedFilesPickedUp(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "strife-ca")
	require.NoError(t, ca.WriteFiles(dir))
	write := func(role certs.Role, name string) *certs.Issued {
		id := issue(t, ca, role, name)
		require.NoError(t, id.WriteFiles(dir, name))
		return id
	}
	write(certs.RoleBank, "BankA")
	write(certs.RoleGateway, "gateway-1")
	serverCfg, err := certs.ServerConfig(certs.FilesIn(dir, "BankA"))
	require.NoError(t, err)
	clientCfg, err := certs.ClientConfig(certs.FilesIn(dir, "gateway-1"), "localhost")
	require.NoError(t, err)
	require.NoError(t, handshake(t, serverCfg, clientCfg).err())

	bank, gateway := write(certs.RoleBank, "BankA"), write(certs.RoleGateway, "gateway-1")
	r := handshake(t, serverCfg, clientCfg)
	require.NoError(t, r.err())
	require.True(t, gateway.Leaf.Equal(r.server.PeerCertificates[0]), "server sees the renewed client cert")
	require.True(t, bank.Leaf.Equal(r.client.PeerCertificates[0]), "client sees the renewed server cert")
}

func TestBrokenRenewalKeepsLastGoodPair(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "strife-ca")
	bank := issue(t, ca, certs.RoleBank, "BankA")
	require.NoError(t, ca.WriteFiles(dir))
	require.NoError(t, bank.WriteFiles(dir, "BankA"))
	files := certs.FilesIn(dir, "BankA")
	serverCfg, err := certs.ServerConfig(files)
	require.NoError(t, err)
	clientCfg := certs.ClientConfigFrom(issue(t, ca, certs.RoleGateway, "gateway-1"), ca.Pool(), "localhost")

	// A renewal caught between its two renames: new key, old certificate.
	staging := t.TempDir()
	renewed := issue(t, ca, certs.RoleBank, "BankA")
	require.NoError(t, renewed.WriteFiles(staging, "BankA"))
	staged := certs.FilesIn(staging, "BankA")
	require.NoError(t, os.Rename(staged.KeyFile, files.KeyFile))
	r := handshake(t, serverCfg, clientCfg)
	require.NoError(t, r.err())
	require.True(t, bank.Leaf.Equal(r.client.PeerCertificates[0]), "old pair while the files mismatch")

	require.NoError(t, os.Rename(staged.CertFile, files.CertFile))
	r = handshake(t, serverCfg, clientCfg)
	require.NoError(t, r.err())
	require.True(t, renewed.Leaf.Equal(r.client.PeerCertificates[0]), "new pair once both are in place")
}

func TestConfigFromFilesFailsFast(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "strife-ca")
	require.NoError(t, ca.WriteFiles(dir))
	require.NoError(t, issue(t, ca, certs.RoleBank, "BankA").WriteFiles(dir, "BankA"))
	tests := []struct {
		name  string
		files certs.Files
		want  error
	}{
		{"empty", certs.Files{}, certs.ErrMissingFile},
		{"missing cert", certs.FilesIn(dir, "BankB"), os.ErrNotExist},
		{"CA file is a key", certs.Files{
			CertFile: filepath.Join(dir, "BankA.crt"),
			KeyFile:  filepath.Join(dir, "BankA.key"),
			CAFile:   filepath.Join(dir, "ca.key"),
		}, certs.ErrBadPEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certs.ServerConfig(tt.files)
			require.ErrorIs(t, err, tt.want)
			_, err = certs.ClientConfig(tt.files, "localhost")
			require.ErrorIs(t, err, tt.want)
		})
	}
	_, err := certs.ServerConfig(certs.Files{
		CertFile: filepath.Join(dir, "BankA.crt"),
		KeyFile:  filepath.Join(dir, "ca.key"),
		CAFile:   filepath.Join(dir, "ca.crt"),
	})
	require.Error(t, err, "a key that does not match its certificate")
}
