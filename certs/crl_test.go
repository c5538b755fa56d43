package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
)

// pki is a certificate directory with a CA, BankA, gateway-1 and alice.
type pki struct {
	dir string
	ca  *certs.CA
	ids map[string]*certs.Issued
	log *banktest.LogBuffer
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), ca: newCA(t, "strife-ca"), ids: map[string]*certs.Issued{}, log: &banktest.LogBuffer{}}
	require.NoError(t, p.ca.WriteFiles(p.dir))
	for name, role := range map[string]certs.Role{"BankA": certs.RoleBank, "gateway-1": certs.RoleGateway, "alice": certs.RoleClient} {
		p.ids[name] = issue(t, p.ca, role, name)
		require.NoError(t, p.ids[name].WriteFiles(p.dir, name))
	}
	return p
}

func (p *pki) files(name string) certs.Files {
	f := certs.FilesIn(p.dir, name)
	f.Log = zerolog.New(p.log)
	return f
}

func (p *pki) server(t *testing.T, name string) *tls.Config {
	t.Helper()
	cfg, err := certs.ServerConfig(p.files(name))
	require.NoError(t, err)
	return cfg
}

func (p *pki) client(t *testing.T, name string) *tls.Config {
	t.Helper()
	cfg, err := certs.ClientConfig(p.files(name), "localhost")
	require.NoError(t, err)
	return cfg
}

// revoke adds the certificates of names to dir/ca.crl, as strife-certs
// revoke does, and returns the new list.
func (p *pki) revoke(t *testing.T, names ...string) *certs.CRL {
	t.Helper()
	prev, err := certs.ReadCRL(filepath.Join(p.dir, certs.CACRLFile), []*x509.Certificate{p.ca.Certificate()})
	if errors.Is(err, fs.ErrNotExist) {
		prev, err = nil, nil
	}
	require.NoError(t, err)
	var serials []*big.Int
	for _, n := range names {
		serials = append(serials, p.ids[n].Leaf.SerialNumber)
	}
	crl, err := p.ca.Revoke(prev, serials...)
	require.NoError(t, err)
	require.NoError(t, crl.WriteFile(filepath.Join(p.dir, certs.CACRLFile)))
	return crl
}

func TestRevokedPeerRefusedWithoutRestart(t *testing.T) {
	p := newPKI(t)
	bank, gateway, alice := p.server(t, "BankA"), p.client(t, "gateway-1"), p.client(t, "alice")
	require.NoError(t, handshake(t, bank, gateway).err(), "before any revocation (no ca.crl yet)")

	// The client's certificate: the server refuses it.
	p.revoke(t, "gateway-1")
	r := handshake(t, bank, gateway)
	require.ErrorIs(t, r.serverErr, certs.ErrRevoked)
	require.NoError(t, handshake(t, bank, alice).err(), "a peer not revoked keeps working")

	// The server's certificate: the client refuses it.
	p.revoke(t, "BankA")
	r = handshake(t, p.server(t, "alice"), p.client(t, "BankA"))
	require.ErrorIs(t, r.serverErr, certs.ErrRevoked, "BankA calling")
	r = handshake(t, bank, alice)
	require.ErrorIs(t, r.clientErr, certs.ErrRevoked, "BankA serving")
	require.Contains(t, p.log.String(), "refused a revoked certificate")
}

func TestRevokedPeerCannotResume(t *testing.T) {
	p := newPKI(t)
	bank := p.server(t, "BankA")
	client := p.client(t, "alice")
	client.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	require.NoError(t, handshake(t, bank, client).err())
	r := handshake(t, bank, client)
	require.NoError(t, r.err())
	require.True(t, r.server.DidResume, "the session ticket is used")

	p.revoke(t, "alice")
	require.ErrorIs(t, handshake(t, bank, client).serverErr, certs.ErrRevoked)
}

func TestRefusedCRLKeepsLastGood(t *testing.T) {
	p := newPKI(t)
	crlPath := filepath.Join(p.dir, certs.CACRLFile)
	bank := p.server(t, "BankA")
	p.revoke(t, "gateway-1")
	p.revoke(t, "gateway-1") // number 2, the same entries
	goodPEM, err := os.ReadFile(crlPath)
	require.NoError(t, err)
	gateway, alice := p.client(t, "gateway-1"), p.client(t, "alice")
	require.ErrorIs(t, handshake(t, bank, gateway).serverErr, certs.ErrRevoked, "the good list is loaded")

	other := newCA(t, "strife-ca") // same name, another key
	foreign, err := other.Revoke(nil)
	require.NoError(t, err)
	older, err := p.ca.Revoke(nil) // number 1, nobody revoked: a rollback
	require.NoError(t, err)
	tests := []struct {
		name  string
		write func() error
		want  string
	}{
		{"garbage", func() error { return os.WriteFile(crlPath, []byte("garbage"), 0o644) }, "no X509 CRL block"},
		{"signed by another CA", func() error { return foreign.WriteFile(crlPath) }, "not signed by the CA"},
		{"an older list", func() error { return older.WriteFile(crlPath) }, "is lower than"},
		{"removed", func() error { return os.Remove(crlPath) }, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.write())
			for range 2 {
				require.ErrorIs(t, handshake(t, bank, gateway).serverErr, certs.ErrRevoked, "still revoked")
				require.NoError(t, handshake(t, bank, alice).err())
			}
			// Once by each of the three configs, however many handshakes.
			require.Equal(t, 3, strings.Count(p.log.String(), tt.want), "logged once: %s", p.log)
			require.NoError(t, os.WriteFile(crlPath, goodPEM, 0o644))
		})
	}
}

func TestBadCRLRefusedAtStart(t *testing.T) {
	p := newPKI(t)
	crlPath := filepath.Join(p.dir, certs.CACRLFile)
	foreign, err := newCA(t, "evil-ca").Revoke(nil)
	require.NoError(t, err)
	for name, write := range map[string]func() error{
		"garbage":              func() error { return os.WriteFile(crlPath, []byte("garbage"), 0o644) },
		"signed by another CA": func() error { return foreign.WriteFile(crlPath) },
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, write())
			_, err := certs.ServerConfig(p.files("BankA"))
			require.ErrorIs(t, err, certs.ErrBadCRL)
			_, err = certs.ClientConfig(p.files("BankA"), "")
			require.ErrorIs(t, err, certs.ErrBadCRL)
		})
	}
}

func TestCRLFileDefaultsNextToCA(t *testing.T) {
	p := newPKI(t)
	p.revoke(t, "gateway-1")
	f := p.files("BankA")
	f.CRLFile = ""
	bank, err := certs.ServerConfig(f)
	require.NoError(t, err)
	require.ErrorIs(t, handshake(t, bank, p.client(t, "gateway-1")).serverErr, certs.ErrRevoked)

	f.CRLFile = filepath.Join(p.dir, "elsewhere.crl") // absent: nothing revoked
	bank, err = certs.ServerConfig(f)
	require.NoError(t, err)
	require.NoError(t, handshake(t, bank, p.client(t, "alice")).err())
}

func TestCARevoke(t *testing.T) {
	ca := newCA(t, "strife-ca")
	a, b := issue(t, ca, certs.RoleClient, "a"), issue(t, ca, certs.RoleClient, "b")
	first, err := ca.Revoke(nil, a.Leaf.SerialNumber)
	require.NoError(t, err)
	require.Equal(t, int64(1), first.Number().Int64())
	require.True(t, first.Revoked(a.Leaf))
	require.False(t, first.Revoked(b.Leaf))

	again, err := ca.Revoke(first, a.Leaf.SerialNumber, b.Leaf.SerialNumber)
	require.NoError(t, err)
	require.Equal(t, int64(2), again.Number().Int64())
	require.Len(t, again.Entries(), 2, "a once")
	require.Equal(t, first.Entries()[0].RevocationTime, again.Entries()[0].RevocationTime, "a keeps its time")
	require.True(t, again.Revoked(b.Leaf))

	// The same serial issued by another CA is not revoked by this list.
	other := newCA(t, "strife-ca")
	twin := issue(t, other, certs.RoleClient, "a")
	twin.Leaf.SerialNumber = a.Leaf.SerialNumber
	require.False(t, again.Revoked(twin.Leaf))

	path := filepath.Join(t.TempDir(), certs.CACRLFile)
	require.NoError(t, again.WriteFile(path))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(data), "-----BEGIN X509 CRL-----"))
	read, err := certs.ReadCRL(path, []*x509.Certificate{other.Certificate(), ca.Certificate()})
	require.NoError(t, err)
	require.Equal(t, again.Entries(), read.Entries())
	_, err = certs.ReadCRL(path, []*x509.Certificate{other.Certificate()})
	require.ErrorIs(t, err, certs.ErrBadCRL)
}

func TestSerialFormat(t *testing.T) {
	n, ok := new(big.Int).SetString("5f0ac3", 16)
	require.True(t, ok)
	require.Equal(t, "5f:0a:c3", certs.FormatSerial(n))
	got, err := certs.ParseSerial("5F:0a:C3")
	require.NoError(t, err)
	require.Equal(t, n, got)
	for _, bad := range []string{"", "5f0ac3", "BankA", "5:f0", "5f::0a", "zz:00", "5f:0a:"} {
		_, err := certs.ParseSerial(bad)
		require.ErrorIs(t, err, certs.ErrInvalidSerial, bad)
	}
}
