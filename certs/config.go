package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// ServerConfig returns a TLS 1.3 server config that presents the key pair
// in f.CertFile and f.KeyFile and requires every client to present a
// certificate that chains to f.CAFile and is not on the revocation list
// (f.CRLFile, by default ca.crl next to f.CAFile). The key pair and the
// list are reloaded when their files change (see Issued.WriteFiles and
// CRL.WriteFile); the CA file is read once, so a new CA needs a restart.
//
// A revocation list that exists but does not parse or is not signed by a
// CA of f.CAFile is an ErrBadCRL here; once running, such a file is logged
// to f.Log and the last good list stays in use.
func ServerConfig(f Files) (*tls.Config, error) {
	l, err := load(f)
	if err != nil {
		return nil, err
	}
	cfg := serverConfig(l.pair.get, l.pool)
	cfg.VerifyConnection = l.crl.verify
	return cfg, nil
}

// ClientConfig returns a TLS 1.3 client config that presents the key pair
// in f.CertFile and f.KeyFile and accepts only a server whose certificate
// chains to f.CAFile and names serverName (a DNS name or an IP address;
// if empty, tls.Dial and gRPC take the host of the dialed address).
// The server's certificate must not be on the revocation list. The key
// pair and the list are reloaded as for ServerConfig.
//
// A caller that sets VerifyConnection on a clone must call the one it
// replaces (see discovery.ExpectPeer), or revoked servers get through.
func ClientConfig(f Files, serverName string) (*tls.Config, error) {
	l, err := load(f)
	if err != nil {
		return nil, err
	}
	cfg := clientConfig(l.pair.get, l.pool, serverName)
	cfg.VerifyConnection = l.crl.verify
	return cfg, nil
}

// ServerConfigFrom is ServerConfig for an in-memory certificate, trusting
// the CAs in pool (see CA.Pool). Neither may be nil.
func ServerConfigFrom(id *Issued, pool *x509.CertPool) *tls.Config {
	return serverConfig(fixed(id), pool)
}

// ClientConfigFrom is ClientConfig for an in-memory certificate, trusting
// the CAs in pool (see CA.Pool). Neither may be nil.
func ClientConfigFrom(id *Issued, pool *x509.CertPool, serverName string) *tls.Config {
	return clientConfig(fixed(id), pool, serverName)
}

func serverConfig(get func() (*tls.Certificate, error), pool *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return get()
		},
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  pool,
	}
}

func clientConfig(get func() (*tls.Certificate, error), pool *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return get()
		},
		RootCAs:    pool,
		ServerName: serverName,
	}
}

func fixed(id *Issued) func() (*tls.Certificate, error) {
	return func() (*tls.Certificate, error) { return &id.Certificate, nil }
}

// loaded is what ServerConfig and ClientConfig build on.
type loaded struct {
	pool *x509.CertPool
	pair *keyPairFile
	crl  *crlFile
}

func load(f Files) (*loaded, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	pool, err := LoadPool(f.CAFile)
	if err != nil {
		return nil, err
	}
	cas, err := LoadCAs(f.CAFile)
	if err != nil {
		return nil, err
	}
	pair, err := newKeyPairFile(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, err
	}
	crl, err := newCRLFile(f.crlPath(), cas, f.Log)
	if err != nil {
		return nil, err
	}
	return &loaded{pool: pool, pair: pair, crl: crl}, nil
}

// LoadPool reads the one or more CA certificates of the PEM file path into
// a pool; several let a deployment trust an old and a new CA while it
// rotates. A file without a certificate is ErrBadPEM.
func LoadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%w: no certificate in %s", ErrBadPEM, path)
	}
	return pool, nil
}
