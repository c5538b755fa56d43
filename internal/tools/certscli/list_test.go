package certscli_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/tools/certscli"
)

func TestList(t *testing.T) {
	dir := initDir(t)
	// A certificate of another CA, and a file that is not a certificate.
	other := initDir(t)
	for _, ext := range []string{".crt", ".key"} {
		data, err := os.ReadFile(filepath.Join(other, "BankA"+ext))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "BankZ"+ext), data, 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.crt"), []byte("junk"), 0o644))

	entries, err := certscli.List(dir)
	require.NoError(t, err)
	var files []string
	for _, e := range entries {
		files = append(files, e.File)
	}
	require.Equal(t, []string{"ca.crt", "BankA.crt", "BankB.crt", "BankC.crt", "BankZ.crt",
		"admin.crt", "alice.crt", "bob.crt", "carol.crt", "gateway-1.crt", "junk.crt"}, files)

	byFile := map[string]certscli.Entry{}
	for _, e := range entries {
		byFile[e.File] = e
	}
	require.Equal(t, "ca", byFile["ca.crt"].Role())
	require.NoError(t, byFile["ca.crt"].Chain)
	require.Equal(t, "bank", byFile["BankA.crt"].Role())
	require.Equal(t, []string{"localhost", "127.0.0.1", "::1"}, byFile["BankA.crt"].SANs())
	require.NoError(t, byFile["BankA.crt"].Chain)
	require.Equal(t, "client", byFile["alice.crt"].Role())
	require.Empty(t, byFile["alice.crt"].SANs())
	require.ErrorAs(t, byFile["BankZ.crt"].Chain, new(x509.UnknownAuthorityError))
	require.ErrorIs(t, byFile["junk.crt"].Err, certs.ErrBadPEM)
}

func TestListWithoutCA(t *testing.T) {
	dir := initDir(t)
	require.NoError(t, os.Remove(filepath.Join(dir, certs.CACertFile)))
	entries, err := certscli.List(dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		require.ErrorIs(t, e.Chain, certscli.ErrNoCA, e.File)
	}

	_, err = certscli.List(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
