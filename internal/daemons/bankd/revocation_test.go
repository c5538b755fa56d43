package bankd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// A gateway certificate revoked while the bank runs is refused at its next
// connection; another gateway's is not. On the old code the revoked one
// was served.
func TestBankRefusesRevokedGateway(t *testing.T) {
	pki := banktest.NewPKI(t)
	bank := banktest.Start(t, pki.Config(t, "BankA", banktest.DataDir(t)))
	get := func(name string) error {
		_, err := strifev1.NewBankServiceClient(pki.Dial(t, bank.Addr(), certs.RoleGateway, name)).
			GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: "1001"})
		return err
	}
	require.Equal(t, codes.NotFound, status.Code(get("gateway-1")), "served before the revocation")
	require.Equal(t, codes.NotFound, status.Code(get("gateway-2")))

	cert, err := certs.ReadCert(certs.FilesIn(pki.Dir, "gateway-1").CertFile)
	require.NoError(t, err)
	crl, err := pki.CA.Revoke(nil, cert.SerialNumber)
	require.NoError(t, err)
	require.NoError(t, crl.WriteFile(filepath.Join(pki.Dir, certs.CACRLFile)))

	require.Equal(t, codes.Unavailable, status.Code(get("gateway-1")), "refused at the handshake")
	require.Equal(t, codes.NotFound, status.Code(get("gateway-2")), "not revoked: still served")
}

// A revocation list that does not verify is a refusal to start.
func TestBankRefusesBadCRLAtStart(t *testing.T) {
	pki := banktest.NewPKI(t)
	cfg := pki.Config(t, "BankA", banktest.DataDir(t))
	cfg.TLS.CRLFile = filepath.Join(t.TempDir(), "bad.crl")
	require.NoError(t, os.WriteFile(cfg.TLS.CRLFile, []byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"), 0o644))
	_, err := bankd.Start(cfg)
	require.ErrorIs(t, err, certs.ErrBadCRL)
}
