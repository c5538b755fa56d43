package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// File names of a CA inside its directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// DefaultCAValidity is used by NewCA when validity is zero.
const DefaultCAValidity = 10 * 365 * 24 * time.Hour

// clockSkew backdates NotBefore so that a certificate issued on one machine
// is already valid on a peer whose clock is a little behind.
const clockSkew = 5 * time.Minute

// CA is a certificate authority: a self-signed certificate and its key.
// It is immutable and safe for concurrent use.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA creates a self-signed CA named name, valid for validity
// (DefaultCAValidity if zero). It signs leaves only, no intermediate CAs.
func NewCA(name string, validity time.Duration) (*CA, error) {
	validity, err := checkRequest(name, validity, DefaultCAValidity)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	key, der, err := sign(tmpl, nil, nil)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	return &CA{cert: cert, key: key}, nil
}

// LoadCA reads dir/ca.crt and dir/ca.key, as written by WriteFiles.
func LoadCA(dir string) (*CA, error) {
	cert, err := ReadCert(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, err
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotCA, cert.Subject)
	}
	key, err := readKey(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w: %s", ErrKeyMismatch, dir)
	}
	return &CA{cert: cert, key: key}, nil
}

// Certificate returns the CA certificate. Callers must not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Pool returns a new pool holding only the CA certificate, the trust anchor
// for ServerConfigFrom and ClientConfigFrom.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// WriteFiles writes dir/ca.crt (0644) and dir/ca.key (0600), creating dir
// (0700) if needed. Only the operator who issues certificates needs ca.key;
// hand out ca.crt alone.
func (ca *CA) WriteFiles(dir string) error {
	keyPEM, err := encodeKey(ca.key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, CAKeyFile), keyPEM, keyPerm); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, CACertFile), encodeCert(ca.cert.Raw), certPerm)
}

// sign creates a fresh P-256 key and a certificate for it from tmpl, signed
// by parent with parentKey, or self-signed if parent is nil.
func sign(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generate key: %w", err)
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, nil, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: create certificate: %w", err)
	}
	return key, der, nil
}

// randomSerial returns a random positive serial number below 2^128.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("certs: serial: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}
