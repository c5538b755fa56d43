package certscli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/strife-pay/strife/certs"
)

// ErrNoCA is Entry.Chain when the directory has no readable ca.crt.
var ErrNoCA = errors.New("certscli: no CA certificate")

// Entry is one certificate file of a directory.
type Entry struct {
	File string            // base name, e.g. "BankA.crt"
	Cert *x509.Certificate // nil if Err is set
	Err  error             // why the file could not be read
	// Chain is nil if Cert verifies now against the directory's ca.crt,
	// else why not: an *x509.CertificateInvalidError (expired, say), an
	// x509.UnknownAuthorityError (another CA), or ErrNoCA.
	Chain error
	// Revoked is true if the certificate is on the CA's revocation list,
	// dir/ca.crl.
	Revoked bool
}

// Role is the role the certificate claims in its OU, "ca" for a CA, or
// the OU as written if it is not exactly one role.
func (e Entry) Role() string {
	switch {
	case e.Cert == nil:
		return ""
	case e.Cert.IsCA:
		return "ca"
	}
	return strings.Join(e.Cert.Subject.OrganizationalUnit, "+")
}

// SANs are the DNS names and then the IP addresses of the certificate.
func (e Entry) SANs() []string {
	if e.Cert == nil {
		return nil
	}
	sans := slices.Clone(e.Cert.DNSNames)
	for _, ip := range e.Cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	return sans
}

// List reads every *.crt file in dir, ca.crt first and the rest by name,
// and checks each against dir/ca.crt and its revocation list dir/ca.crl.
// A revocation list that does not verify against ca.crt is an error
// (certs.ErrBadCRL): servers would refuse to start with it.
func List(dir string) ([]Entry, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("certscli: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.crt"))
	if err != nil {
		return nil, fmt.Errorf("certscli: %w", err)
	}
	slices.SortFunc(paths, func(a, b string) int {
		return strings.Compare(sortKey(a), sortKey(b))
	})
	ca, roots, rootsErr := readPool(filepath.Join(dir, certs.CACertFile))
	var crl *certs.CRL
	if rootsErr == nil {
		crl, err = certs.ReadCRL(filepath.Join(dir, certs.CACRLFile), []*x509.Certificate{ca})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	entries := make([]Entry, 0, len(paths))
	for _, p := range paths {
		e := Entry{File: filepath.Base(p)}
		e.Cert, e.Err = certs.ReadCert(p)
		if e.Err == nil {
			e.Chain = rootsErr
			if rootsErr == nil {
				e.Chain = verify(e.Cert, roots)
			}
			e.Revoked = crl != nil && crl.Revoked(e.Cert)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// sortKey puts ca.crt before every other file.
func sortKey(path string) string {
	if filepath.Base(path) == certs.CACertFile {
		return ""
	}
	return filepath.Base(path)
}

func verify(cert *x509.Certificate, roots *x509.CertPool) error {
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:     roots,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}

func readPool(path string) (*x509.Certificate, *x509.CertPool, error) {
	ca, err := certs.ReadCert(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrNoCA, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return ca, pool, nil
}

// chainStatus says in a word or two whether an entry chains to the CA.
func chainStatus(e Entry) string {
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case e.Revoked:
		return "REVOKED"
	case e.Chain == nil:
		return "yes"
	case errors.Is(e.Chain, ErrNoCA):
		return "no CA"
	case errors.As(e.Chain, &invalid) && invalid.Reason == x509.Expired:
		return "expired"
	case errors.As(e.Chain, &unknown):
		return "NO: another CA"
	}
	return "NO: " + e.Chain.Error()
}
