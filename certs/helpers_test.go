package certs_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
)

// result is what each end of one real TLS connection saw.
type result struct {
	server    tls.ConnectionState
	client    tls.ConnectionState
	serverErr error
	clientErr error
}

// err is both ends' errors, for matching a refusal's reason on either side.
func (r result) err() error { return errors.Join(r.serverErr, r.clientErr) }

// handshake runs one TLS connection over loopback TCP. The server writes a
// byte after its handshake and the client reads it: in TLS 1.3 the client
// finishes its handshake before the server has checked the client's
// certificate, so a refusal reaches the client only as an alert on read.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) result {
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

	var r result
	r.client, r.clientErr = dial(ln.Addr(), clientCfg)
	s := <-done
	r.server, r.serverErr = s.state, s.err
	return r
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
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", addr.String(), cfg)
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

func newCA(t *testing.T, name string) *certs.CA {
	t.Helper()
	ca, err := certs.NewCA(name, 0)
	require.NoError(t, err)
	return ca
}

// issue issues a certificate with the loopback SANs.
func issue(t *testing.T, ca *certs.CA, role certs.Role, name string) *certs.Issued {
	t.Helper()
	return issueFor(t, ca, role, name, 0)
}

func issueFor(t *testing.T, ca *certs.CA, role certs.Role, name string, validity time.Duration) *certs.Issued {
	t.Helper()
	dns, ips := certs.LocalhostSANs()
	id, err := ca.Issue(certs.Request{Role: role, Name: name, DNSNames: dns, IPAddresses: ips, Validity: validity})
	require.NoError(t, err)
	return id
}

// expired issues a certificate and waits until it has expired.
func expired(t *testing.T, ca *certs.CA, role certs.Role, name string) *certs.Issued {
	t.Helper()
	id := issueFor(t, ca, role, name, time.Millisecond)
	time.Sleep(time.Until(id.Leaf.NotAfter) + 10*time.Millisecond)
	return id
}

// requireIdentity checks the verified peer identity in st.
func requireIdentity(t *testing.T, st tls.ConnectionState, name string, role certs.Role) {
	t.Helper()
	gotName, gotRole, err := certs.PeerIdentity(st)
	require.NoError(t, err)
	require.Equal(t, name, gotName)
	require.Equal(t, role, gotRole)
}
