package certs

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DefaultValidity is used by Issue when Request.Validity is zero.
const DefaultValidity = 365 * 24 * time.Hour

// maxNameLen is the X.509 upper bound for a CommonName.
const maxNameLen = 64

// Request describes the certificate of one program.
type Request struct {
	Role Role   // required
	Name string // required; the CN, e.g. "BankA"; see ErrInvalidName
	// DNSNames and IPAddresses are the names a server answers to. Issue
	// adds none of its own; see LocalhostSANs. A pure client needs none.
	DNSNames    []string
	IPAddresses []net.IP
	// Validity counts from now (DefaultValidity if zero). The certificate
	// never outlives the CA: NotAfter is capped at the CA's NotAfter.
	Validity time.Duration
}

// Issued is a certificate with its private key.
type Issued struct {
	// Certificate holds the leaf and the key, ready for a tls.Config.
	Certificate tls.Certificate
	// Leaf is the parsed certificate (also Certificate.Leaf).
	Leaf *x509.Certificate
}

// LocalhostSANs returns the SANs of a server reached on the loopback
// interface, for tests and dev deployments.
func LocalhostSANs() ([]string, []net.IP) {
	return []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
}

// Issue creates a key and a certificate for req, usable both to serve
// (ServerAuth) and to call (ClientAuth): every program is both somewhere.
func (ca *CA) Issue(req Request) (*Issued, error) {
	validity, err := checkRequest(req.Name, req.Validity, DefaultValidity)
	if err != nil {
		return nil, err
	}
	if !req.Role.Valid() {
		return nil, fmt.Errorf("%w: %q", ErrUnknownRole, req.Role)
	}
	key, der, err := sign(ca.leafTemplate(req, validity), ca.cert, ca.key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	return &Issued{
		Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		Leaf:        leaf,
	}, nil
}

func (ca *CA) leafTemplate(req Request, validity time.Duration) *x509.Certificate {
	now := time.Now()
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	return &x509.Certificate{
		Subject: pkix.Name{
			CommonName:         req.Name,
			OrganizationalUnit: []string{string(req.Role)},
		},
		NotBefore:   now.Add(-clockSkew),
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    req.DNSNames,
		IPAddresses: req.IPAddresses,
	}
}

// WriteFiles writes dir/<name>.key (0600) and dir/<name>.crt (0644), each
// replaced atomically, so that a running server reloading them (see
// ServerConfig) never reads a torn file. The key goes first: a reader
// between the two renames sees a mismatched pair and keeps its old one.
func (id *Issued) WriteFiles(dir, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	keyPEM, err := encodeKey(id.Certificate.PrivateKey)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, name+".key"), keyPEM, keyPerm); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, name+".crt"), encodeCert(id.Leaf.Raw), certPerm)
}

// checkRequest validates a name and a validity, returning the validity to
// use (def if zero).
func checkRequest(name string, validity, def time.Duration) (time.Duration, error) {
	if err := CheckName(name); err != nil {
		return 0, err
	}
	switch {
	case validity < 0:
		return 0, fmt.Errorf("%w: negative validity %v", ErrInvalidRequest, validity)
	case validity == 0:
		return def, nil
	}
	return validity, nil
}

// CheckName reports whether name is a valid program name (1-64 letters,
// digits, dots, dashes and underscores, not starting with a dot): safe as a
// file name, as the <bank> of an account address "<bank>/<number>", and in
// logs.
func CheckName(name string) error {
	if name == "" || len(name) > maxNameLen || name[0] == '.' {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	for _, c := range name {
		if !nameChar(c) {
			return fmt.Errorf("%w: %q", ErrInvalidName, name)
		}
	}
	return nil
}

func nameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}
