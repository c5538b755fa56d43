package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// ServerConfig returns a TLS 1.3 server config that presents the key pair
// in f.CertFile and f.KeyFile and requires every client to present a
// certificate that chains to f.CAFile. The key pair is reloaded when its
// files change (see Issued.WriteFiles); the CA file is read once, so a new
// CA needs a restart.
func ServerConfig(f Files) (*tls.Config, error) {
	pair, pool, err := load(f)
	if err != nil {
		return nil, err
	}
	return serverConfig(pair.get, pool), nil
}

// ClientConfig returns a TLS 1.3 client config that presents the key pair
// in f.CertFile and f.KeyFile and accepts only a server whose certificate
// chains to f.CAFile and names serverName (a DNS name or an IP address;
// if empty, tls.Dial and gRPC take the host of the dialed address).
// The key pair is reloaded as for ServerConfig.
func ClientConfig(f Files, serverName string) (*tls.Config, error) {
	pair, pool, err := load(f)
	if err != nil {
		return nil, err
	}
	return clientConfig(pair.get, pool, serverName), nil
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

func load(f Files) (*keyPairFile, *x509.CertPool, error) {
	if err := f.Validate(); err != nil {
		return nil, nil, err
	}
	pool, err := LoadPool(f.CAFile)
	if err != nil {
		return nil, nil, err
	}
	pair, err := newKeyPairFile(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	return pair, pool, nil
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
