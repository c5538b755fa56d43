package certscli_test

import (
	"crypto/x509"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/tools/certscli"
)

// TestRevokeByName revokes the gateway's certificate under a running bank
// config, then gives the gateway a new certificate.
func TestRevokeByName(t *testing.T) {
	dir := initDir(t)
	bank, err := certs.ServerConfig(certs.FilesIn(dir, "BankA"))
	require.NoError(t, err)
	gateway, err := certs.ClientConfig(certs.FilesIn(dir, "gateway-1"), "localhost")
	require.NoError(t, err)
	handshake(t, bank, gateway)
	old := readCert(t, filepath.Join(dir, "gateway-1.crt"))

	out := run(t, "revoke", "--dir", dir, "gateway-1")
	require.NoError(t, out.err)
	require.Contains(t, out.stdout, "revoked  gateway-1  "+certs.FormatSerial(old.SerialNumber))
	require.Contains(t, out.stdout, "list number 1")
	serverErr, _ := handshakeErr(t, bank, gateway)
	require.ErrorIs(t, serverErr, certs.ErrRevoked, "the bank refuses the revoked gateway")
	require.Contains(t, run(t, "show", "--dir", dir).stdout, "REVOKED")

	// Again: nothing changes.
	before := snapshot(t, dir)
	out = run(t, "revoke", "--dir", dir, "gateway-1")
	require.NoError(t, out.err)
	require.Contains(t, out.stdout, "already revoked")
	require.Contains(t, out.stdout, "unchanged (list number 1)")
	require.Equal(t, before, snapshot(t, dir))

	// A new certificate for the name has a new serial, not revoked.
	require.NoError(t, run(t, "issue", "--dir", dir, "--role", "gateway", "--name", "gateway-1", "--force").err)
	renewed := readCert(t, filepath.Join(dir, "gateway-1.crt"))
	require.NotEqual(t, old.SerialNumber, renewed.SerialNumber)
	handshake(t, bank, gateway)

	// Revoking the name again revokes the new certificate too.
	res, err := certscli.Revoke(certscli.RevokeOptions{Dir: dir, Targets: []string{"gateway-1"}})
	require.NoError(t, err)
	require.True(t, res.Written)
	require.Equal(t, int64(2), res.Number.Int64())
	require.Equal(t, renewed.SerialNumber, res.Revoked[0].Serial)
	serverErr, _ = handshakeErr(t, bank, gateway)
	require.ErrorIs(t, serverErr, certs.ErrRevoked)
}

// TestRevokeBySerial revokes a certificate whose file was renewed over:
// only its serial is left to name it.
func TestRevokeBySerial(t *testing.T) {
	dir := initDir(t)
	stolen := readCert(t, filepath.Join(dir, "alice.crt"))
	require.NoError(t, run(t, "issue", "--dir", dir, "--role", "client", "--name", "alice", "--force").err)

	out := run(t, "revoke", "--dir", dir, certs.FormatSerial(stolen.SerialNumber))
	require.NoError(t, out.err)
	require.Contains(t, out.stdout, "revoked  -  "+certs.FormatSerial(stolen.SerialNumber))
	crl, err := certs.ReadCRL(filepath.Join(dir, certs.CACRLFile), []*x509.Certificate{readCert(t, filepath.Join(dir, certs.CACertFile))})
	require.NoError(t, err)
	require.True(t, crl.Revoked(stolen))
	require.False(t, crl.Revoked(readCert(t, filepath.Join(dir, "alice.crt"))), "the renewed one is good")
}

func TestRevokeRefuses(t *testing.T) {
	dir := initDir(t)
	foreign, err := certs.NewCA("strife-ca", 0)
	require.NoError(t, err)
	tests := []struct {
		name    string
		prepare func()
		args    []string
		want    error
	}{
		{"unknown name", func() {}, []string{"BankZ"}, certscli.ErrNotFound},
		{"bad name", func() {}, []string{"a/b"}, certs.ErrInvalidName},
		{"bad serial", func() {}, []string{"zz:01"}, certs.ErrInvalidSerial},
		{"a list of another CA", func() {
			crl, err := foreign.Revoke(nil)
			require.NoError(t, err)
			require.NoError(t, crl.WriteFile(filepath.Join(dir, certs.CACRLFile)))
		}, []string{"alice"}, certs.ErrBadCRL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.prepare()
			before := snapshot(t, dir)
			out := run(t, append([]string{"revoke", "--dir", dir}, tt.args...)...)
			require.ErrorIs(t, out.err, tt.want)
			require.Equal(t, before, snapshot(t, dir))
		})
	}
	_, err = certscli.List(dir)
	require.ErrorIs(t, err, certs.ErrBadCRL, "show refuses a list of another CA too")
}
