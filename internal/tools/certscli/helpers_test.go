package certscli_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/tools/certscli"
)

// output is what one in-process run of the command printed.
type output struct {
	stdout, stderr string
	err            error
}

// run executes strife-certs with args and checks that it printed no key.
func run(t *testing.T, args ...string) output {
	t.Helper()
	cmd := certscli.Command()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.Execute()
	for _, s := range []string{stdout.String(), stderr.String()} {
		require.NotContains(t, s, "PRIVATE KEY")
	}
	return output{stdout.String(), stderr.String(), err}
}

// initDir runs Init with the default options in a new directory.
func initDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	_, err := certscli.Init(certscli.DefaultInitOptions(dir))
	require.NoError(t, err)
	return dir
}

// snapshot returns the contents of every file in dir, by name.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		files[e.Name()] = data
	}
	return files
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	block, _ := pem.Decode(data)
	require.NotNil(t, block, path)
	require.Equal(t, "CERTIFICATE", block.Type)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return cert
}

func requirePerm(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, info.Mode().Perm(), path)
}

// requireChains checks that cert verifies against dir/ca.crt for both
// serving and calling.
func requireChains(t *testing.T, dir string, cert *x509.Certificate) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, filepath.Join(dir, certs.CACertFile)))
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:     roots,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	require.NoError(t, err)
}

// handshake runs one TLS connection over loopback and returns what the
// server and the client saw. The server writes a byte after its handshake
// so that a refusal of the client's certificate reaches the client.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (server, client tls.ConnectionState) {
	t.Helper()
	var serverErr, clientErr error
	server, client, serverErr, clientErr = handshakeStates(t, serverCfg, clientCfg)
	require.NoError(t, serverErr)
	require.NoError(t, clientErr)
	return server, client
}

// handshakeErr is handshake for a connection that may be refused: it
// returns what each end saw go wrong.
func handshakeErr(t *testing.T, serverCfg, clientCfg *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	_, _, serverErr, clientErr = handshakeStates(t, serverCfg, clientCfg)
	return serverErr, clientErr
}

func handshakeStates(t *testing.T, serverCfg, clientCfg *tls.Config) (server, client tls.ConnectionState, serverErr, clientErr error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	type served struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan served, 1)
	go func() {
		st, err := serve(ln)
		done <- served{st, err}
	}()
	client, clientErr = dial(ln.Addr(), clientCfg)
	s := <-done
	return s.state, client, s.err, clientErr
}

func serve(ln net.Listener) (tls.ConnectionState, error) {
	conn, err := ln.Accept()
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	tc := conn.(*tls.Conn)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return tls.ConnectionState{}, err
	}
	_, err = tc.Write([]byte{1})
	return tc.ConnectionState(), err
}

func dial(addr net.Addr, cfg *tls.Config) (tls.ConnectionState, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr.String(), cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
		return tls.ConnectionState{}, err
	}
	return conn.ConnectionState(), nil
}

func requireIdentity(t *testing.T, st tls.ConnectionState, name string, role certs.Role) {
	t.Helper()
	gotName, gotRole, err := certs.PeerIdentity(st)
	require.NoError(t, err)
	require.Equal(t, name, gotName)
	require.Equal(t, role, gotRole)
}
