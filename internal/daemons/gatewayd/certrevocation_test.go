package gatewayd_test

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/daemons/gatewayd"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// A bank whose certificate is revoked while everything runs is refused by
// the gateway (its client side) at their next connection, without a
// restart of the gateway; BankB and the clients keep working; a new
// certificate for BankA (a new serial) is accepted again. On the old code
// the gateway paid through the revoked BankA.
func TestGatewayRefusesRevokedBank(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	require.Equal(t, committed, alice.pay(t, toUser(ulid.Make(), "bob", 100)).GetStatus())
	e.settled(t)

	e.revoke(t, "BankA")
	e.restartBank(t, "BankA") // the gateway must connect again
	p := alice.pay(t, toUser(ulid.Make(), "bob", 100))
	require.NotEqual(t, committed, p.GetStatus())
	e.requireRefusedRevoked(t, e.logs, "BankA")

	// Not revoked: BankB, on a new connection, and logins at the gateway.
	_, err := e.pki.GatewayClient(t, e.banks["BankB"].Addr()).GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: "2001"})
	require.NoError(t, err)
	e.login(t, "carol", carolPassword)

	// A new certificate for BankA: the bank and the gateway take it up at
	// their next handshake.
	dns, ips := certs.LocalhostSANs()
	id, err := e.pki.CA.Issue(certs.Request{Role: certs.RoleBank, Name: "BankA", DNSNames: dns, IPAddresses: ips, Validity: time.Hour})
	require.NoError(t, err)
	require.NoError(t, id.WriteFiles(e.pki.Dir, "BankA"))
	require.Eventually(t, func() bool {
		return alice.pay(t, toUser(ulid.Make(), "bob", 1)).GetStatus() == committed
	}, 15*time.Second, 100*time.Millisecond, "BankA's new certificate is accepted")
	e.settled(t)
}

// A gateway whose certificate is revoked cannot call a bank (the bank's
// server side refuses it) nor serve a client (the client refuses it). On
// the old code both went through.
func TestRevokedGatewayRefusedByBankAndClients(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	e.revoke(t, "gateway-1")
	e.restartBank(t, "BankA")

	p := alice.pay(t, toUser(ulid.Make(), "bob", 100)) // on alice's old connection
	require.NotEqual(t, committed, p.GetStatus())
	e.requireRefusedRevoked(t, e.bankLogs["BankA"], "gateway-1")

	_, err := e.client(t, certs.RoleClient, "carol-laptop").Login(t.Context(), &strifev1.LoginRequest{Username: "carol", Password: carolPassword})
	requireCode(t, codes.Unavailable, err, "a new client connection refuses the gateway")
}

// A revocation list the daemons cannot trust is a refusal to start; once
// running, it is logged and the last good list stays in use.
func TestGatewayRefusesForeignCRL(t *testing.T) {
	e := newEnv(t)
	// The clients do not read the gateway's ca.crl: only the gateway's
	// handling of it is under test.
	login := func(user, password string) error {
		files := e.pki.Files(t, certs.RoleClient, user+"-laptop")
		files.CRLFile = filepath.Join(t.TempDir(), "none.crl")
		tlsConfig, err := certs.ClientConfig(files, "")
		require.NoError(t, err)
		conn, err := rpc.Dial(e.gw.Addr(), tlsConfig)
		require.NoError(t, err)
		defer conn.Close()
		_, err = strifev1.NewGatewayServiceClient(conn).Login(t.Context(), &strifev1.LoginRequest{Username: user, Password: password})
		return err
	}
	require.NoError(t, login("alice", alicePassword))
	e.revoke(t, "alice-laptop")
	requireCode(t, codes.Unavailable, login("alice", alicePassword))

	foreign, err := banktest.NewPKI(t).CA.Revoke(nil) // another CA, nobody revoked
	require.NoError(t, err)
	require.NoError(t, foreign.WriteFile(filepath.Join(e.pki.Dir, certs.CACRLFile)))
	require.NoError(t, login("carol", carolPassword), "carol is not revoked")
	require.Contains(t, e.logs.String(), "revocation list refused")
	requireCode(t, codes.Unavailable, login("alice", alicePassword), "alice stays revoked")

	cfg := e.cfg
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", banktest.DataDir(t)
	_, err = gatewayd.Start(cfg)
	require.ErrorIs(t, err, certs.ErrBadCRL, "a gateway does not start with it")
}

// revoke puts the certificate in the file of name on the CA's list.
func (e *env) revoke(t *testing.T, name string) {
	t.Helper()
	cert, err := certs.ReadCert(certs.FilesIn(e.pki.Dir, name).CertFile)
	require.NoError(t, err)
	path := filepath.Join(e.pki.Dir, certs.CACRLFile)
	prev, err := certs.ReadCRL(path, []*x509.Certificate{e.pki.CA.Certificate()})
	if errors.Is(err, fs.ErrNotExist) {
		prev, err = nil, nil
	}
	require.NoError(t, err)
	crl, err := e.pki.CA.Revoke(prev, cert.SerialNumber)
	require.NoError(t, err)
	require.NoError(t, crl.WriteFile(path))
	_, err = os.Stat(path)
	require.NoError(t, err)
}

// restartBank stops a bank and starts it again on the same address, so
// that its peers connect to it again.
func (e *env) restartBank(t *testing.T, name string) {
	t.Helper()
	require.NoError(t, e.banks[name].Stop())
	e.banks[name] = banktest.Start(t, e.bankCfgs[name])
}

// requireRefusedRevoked waits for logs to say that peer's certificate was
// refused as revoked.
func (e *env) requireRefusedRevoked(t *testing.T, logs *logBuffer, peer string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, line := range logs.linesSince(0) {
			if line["message"] == "refused a revoked certificate" && line["peer"] == peer {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "no refusal of %s logged", peer)
}
