package banktest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// PKI is a CA whose files live in Dir, issuing certificates for 127.0.0.1.
type PKI struct {
	Dir string
	CA  *certs.CA
}

// NewPKI creates a CA in a temporary directory.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca, err := certs.NewCA("strife-test-ca", time.Hour)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, ca.WriteFiles(dir))
	return &PKI{Dir: dir, CA: ca}
}

// Files issues a certificate for role and name (once per name) and returns
// its files.
func (p *PKI) Files(t testing.TB, role certs.Role, name string) certs.Files {
	t.Helper()
	files := certs.FilesIn(p.Dir, name)
	if _, err := os.Stat(files.CertFile); err == nil {
		return files
	}
	dns, ips := certs.LocalhostSANs()
	id, err := p.CA.Issue(certs.Request{Role: role, Name: name, DNSNames: dns, IPAddresses: ips, Validity: time.Hour})
	require.NoError(t, err)
	require.NoError(t, id.WriteFiles(p.Dir, name))
	return files
}

// Dial connects to addr over mutual TLS with a certificate of role and name.
func (p *PKI) Dial(t testing.TB, addr string, role certs.Role, name string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	tlsConfig, err := certs.ClientConfig(p.Files(t, role, name), "")
	require.NoError(t, err)
	conn, err := rpc.Dial(addr, tlsConfig, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Config returns a bank configuration with its certificate, a data dir
// under dataDir and port 0; the logs go to the test log.
func (p *PKI) Config(t testing.TB, name, dataDir string) bankd.Config {
	return bankd.Config{Config: daemon.Config{
		Name:    name,
		Listen:  "127.0.0.1:0",
		DataDir: dataDir,
		TLS:     p.Files(t, certs.RoleBank, name),
		Log:     zerolog.New(zerolog.NewTestWriter(t)).With().Str("bank", name).Logger(),
	}}
}

// Start starts a bank in-process and stops it when the test ends.
func Start(t testing.TB, cfg bankd.Config) *bankd.Bank {
	t.Helper()
	b, err := bankd.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { b.Stop() })
	return b
}

// GatewayClient is a BankService client with a gateway certificate.
func (p *PKI) GatewayClient(t testing.TB, addr string) strifev1.BankServiceClient {
	return strifev1.NewBankServiceClient(p.Dial(t, addr, certs.RoleGateway, "gateway-1"))
}

// DataDir returns a fresh data directory.
func DataDir(t testing.TB) string { return filepath.Join(t.TempDir(), "data") }
