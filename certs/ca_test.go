package certs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
)

func TestIssue(t *testing.T) {
	ca := newCA(t, "strife-ca")
	before := time.Now()
	id, err := ca.Issue(certs.Request{Role: certs.RoleBank, Name: "BankA", DNSNames: []string{"bank-a.internal"}})
	require.NoError(t, err)

	leaf := id.Leaf
	require.Same(t, leaf, id.Certificate.Leaf)
	require.Equal(t, "BankA", leaf.Subject.CommonName)
	require.Equal(t, []string{"bank"}, leaf.Subject.OrganizationalUnit)
	require.ElementsMatch(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage)
	require.Equal(t, []string{"bank-a.internal"}, leaf.DNSNames, "no SAN added silently")
	require.Empty(t, leaf.IPAddresses, "no SAN added silently")
	require.False(t, leaf.IsCA)
	require.NoError(t, leaf.CheckSignatureFrom(ca.Certificate()))

	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	require.True(t, ok)
	require.Equal(t, elliptic.P256(), pub.Curve)
	require.Positive(t, leaf.SerialNumber.Sign())
	require.LessOrEqual(t, leaf.SerialNumber.BitLen(), 128)

	require.True(t, leaf.NotBefore.Before(before.Add(-time.Minute)), "backdated for clock skew")
	require.WithinDuration(t, before.Add(certs.DefaultValidity), leaf.NotAfter, time.Minute)
}

func TestIssueSerialsDiffer(t *testing.T) {
	ca := newCA(t, "strife-ca")
	a, b := issue(t, ca, certs.RoleClient, "a"), issue(t, ca, certs.RoleClient, "a")
	require.NotEqual(t, a.Leaf.SerialNumber, b.Leaf.SerialNumber)
}

func TestIssueNeverOutlivesCA(t *testing.T) {
	ca, err := certs.NewCA("short-ca", time.Hour)
	require.NoError(t, err)
	id := issueFor(t, ca, certs.RoleGateway, "gateway-1", 0)
	require.Equal(t, ca.Certificate().NotAfter, id.Leaf.NotAfter)
}

func TestLocalhostSANs(t *testing.T) {
	dns, ips := certs.LocalhostSANs()
	require.Equal(t, []string{"localhost"}, dns)
	require.Len(t, ips, 2)
	require.True(t, ips[0].Equal(net.ParseIP("127.0.0.1")))
	require.True(t, ips[1].Equal(net.IPv6loopback))
}

func TestIssueRejects(t *testing.T) {
	ca := newCA(t, "strife-ca")
	tests := []struct {
		name string
		req  certs.Request
		want error
	}{
		{"no role", certs.Request{Name: "BankA"}, certs.ErrUnknownRole},
		{"unknown role", certs.Request{Role: "root", Name: "BankA"}, certs.ErrUnknownRole},
		{"no name", certs.Request{Role: certs.RoleBank}, certs.ErrInvalidName},
		{"slash in name", certs.Request{Role: certs.RoleBank, Name: "Bank/A"}, certs.ErrInvalidName},
		{"path in name", certs.Request{Role: certs.RoleBank, Name: "../BankA"}, certs.ErrInvalidName},
		{"space in name", certs.Request{Role: certs.RoleBank, Name: "Bank A"}, certs.ErrInvalidName},
		{"long name", certs.Request{Role: certs.RoleBank, Name: string(make([]byte, 65))}, certs.ErrInvalidName},
		{"negative validity", certs.Request{Role: certs.RoleBank, Name: "BankA", Validity: -time.Hour}, certs.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ca.Issue(tt.req)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestKeyFilePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	ca := newCA(t, "strife-ca")
	require.NoError(t, ca.WriteFiles(dir))
	require.NoError(t, issue(t, ca, certs.RoleBank, "BankA").WriteFiles(dir, "BankA"))
	tests := []struct {
		file string
		perm os.FileMode
	}{
		{"ca.key", 0o600},
		{"BankA.key", 0o600},
		{"ca.crt", 0o644},
		{"BankA.crt", 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			fi, err := os.Stat(filepath.Join(dir, tt.file))
			require.NoError(t, err)
			require.Equal(t, tt.perm, fi.Mode().Perm())
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, len(tests), "no temporary files left behind")
}

func TestIssuedWriteFilesRejectsBadName(t *testing.T) {
	id := issue(t, newCA(t, "strife-ca"), certs.RoleBank, "BankA")
	for _, name := range []string{"", "../BankA", "a/b", ".hidden"} {
		require.ErrorIs(t, id.WriteFiles(t.TempDir(), name), certs.ErrInvalidName, name)
	}
}

func TestLoadCARejects(t *testing.T) {
	ca, other := newCA(t, "strife-ca"), newCA(t, "other-ca")
	mismatched := t.TempDir()
	require.NoError(t, ca.WriteFiles(mismatched))
	otherDir := t.TempDir()
	require.NoError(t, other.WriteFiles(otherDir))
	require.NoError(t, os.Rename(filepath.Join(otherDir, "ca.key"), filepath.Join(mismatched, "ca.key")))

	leafDir := t.TempDir()
	require.NoError(t, ca.WriteFiles(leafDir))
	leaf := issue(t, ca, certs.RoleBank, "BankA")
	require.NoError(t, leaf.WriteFiles(leafDir, "ca"))

	tests := []struct {
		name, dir string
		want      error
	}{
		{"missing", filepath.Join(t.TempDir(), "nope"), os.ErrNotExist},
		{"key of another CA", mismatched, certs.ErrKeyMismatch},
		{"leaf as CA", leafDir, certs.ErrNotCA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certs.LoadCA(tt.dir)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestFilesValidate(t *testing.T) {
	tests := []struct {
		name  string
		files certs.Files
		ok    bool
	}{
		{"complete", certs.FilesIn("certs", "BankA"), true},
		{"empty", certs.Files{}, false},
		{"no key", certs.Files{CertFile: "a.crt", CAFile: "ca.crt"}, false},
		{"no CA", certs.Files{CertFile: "a.crt", KeyFile: "a.key"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.files.Validate()
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, certs.ErrMissingFile)
		})
	}
}

func TestFilesIn(t *testing.T) {
	require.Equal(t, certs.Files{
		CertFile: filepath.Join("d", "BankA.crt"),
		KeyFile:  filepath.Join("d", "BankA.key"),
		CAFile:   filepath.Join("d", "ca.crt"),
		CRLFile:  filepath.Join("d", "ca.crl"),
	}, certs.FilesIn("d", "BankA"))
}

func TestParseRole(t *testing.T) {
	for _, role := range []certs.Role{certs.RoleClient, certs.RoleAdmin, certs.RoleGateway, certs.RoleBank} {
		got, err := certs.ParseRole(string(role))
		require.NoError(t, err)
		require.Equal(t, role, got)
	}
	for _, junk := range []string{"", "Bank", "BANK", " bank", "bank ", "root", "customer", "bank,admin"} {
		_, err := certs.ParseRole(junk)
		require.ErrorIs(t, err, certs.ErrUnknownRole, "%q", junk)
	}
}

func TestPeerIdentityRejects(t *testing.T) {
	chain := func(cn string, ou ...string) tls.ConnectionState {
		leaf := &x509.Certificate{Subject: pkix.Name{CommonName: cn, OrganizationalUnit: ou}}
		return tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}}
	}
	tests := []struct {
		name  string
		state tls.ConnectionState
		want  error
	}{
		{"no verified chain", tls.ConnectionState{}, certs.ErrNoPeerCertificate},
		{"unverified certificate only", tls.ConnectionState{
			PeerCertificates: []*x509.Certificate{{Subject: pkix.Name{CommonName: "BankA", OrganizationalUnit: []string{"bank"}}}},
		}, certs.ErrNoPeerCertificate},
		{"unknown role", chain("BankA", "root"), certs.ErrUnknownRole},
		{"no role", chain("BankA"), certs.ErrUnknownRole},
		{"two roles", chain("BankA", "bank", "gateway"), certs.ErrUnknownRole},
		{"no name", chain("", "bank"), certs.ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := certs.PeerIdentity(tt.state)
			require.ErrorIs(t, err, tt.want)
		})
	}
}
