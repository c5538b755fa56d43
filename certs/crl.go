package certs

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"
)

// CACRLFile is the file name of the CA's revocation list, next to ca.crt.
const CACRLFile = "ca.crl"

// crlPEMType is the PEM block type of a revocation list (RFC 7468).
const crlPEMType = "X509 CRL"

// CRL is a certificate revocation list whose signature verified against a
// CA. It is immutable and safe for concurrent use.
type CRL struct {
	list    *x509.RevocationList
	revoked map[string]bool // FormatSerial of each revoked serial
}

// Number is the list's CRL number, one more at each revocation: a server
// refuses to replace its list with one of a lower number.
func (c *CRL) Number() *big.Int { return new(big.Int).Set(c.list.Number) }

// Entries returns the revoked serials with the time of each revocation,
// in the order they were revoked.
func (c *CRL) Entries() []x509.RevocationListEntry {
	entries := make([]x509.RevocationListEntry, len(c.list.RevokedCertificateEntries))
	for i, e := range c.list.RevokedCertificateEntries {
		entries[i] = x509.RevocationListEntry{SerialNumber: e.SerialNumber, RevocationTime: e.RevocationTime}
	}
	return entries
}

// Revoked reports whether cert is on the list: issued by the list's CA
// (same authority key) with a revoked serial. A certificate of another CA
// is never revoked by this list, even with the same serial.
func (c *CRL) Revoked(cert *x509.Certificate) bool {
	return bytes.Equal(cert.AuthorityKeyId, c.list.AuthorityKeyId) && c.revoked[FormatSerial(cert.SerialNumber)]
}

// WriteFile writes the list as one PEM "X509 CRL" block, atomically and
// 0644 (it is public, like ca.crt), so that a server reloading it never
// reads a torn file.
func (c *CRL) WriteFile(path string) error {
	data := pem.EncodeToMemory(&pem.Block{Type: crlPEMType, Bytes: c.list.Raw})
	return WriteFileAtomic(path, data, certPerm)
}

// Revoke returns a new list signed by ca that holds prev's entries (if
// prev is not nil) and serials, each once: a serial already on prev keeps
// its first revocation time. Its number is prev's plus one, or 1.
func (ca *CA) Revoke(prev *CRL, serials ...*big.Int) (*CRL, error) {
	now := time.Now()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(1),
		ThisUpdate: now,
		// Servers do not enforce NextUpdate (see doc.go); it is the CA's
		// own end of validity so that the field is meaningful to others.
		NextUpdate: ca.cert.NotAfter,
	}
	if prev != nil {
		tmpl.Number.Add(prev.list.Number, big.NewInt(1))
		tmpl.RevokedCertificateEntries = prev.Entries()
	}
	seen := map[string]bool{}
	for _, e := range tmpl.RevokedCertificateEntries {
		seen[FormatSerial(e.SerialNumber)] = true
	}
	for _, s := range serials {
		if s == nil || seen[FormatSerial(s)] {
			continue
		}
		seen[FormatSerial(s)] = true
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: now})
	}
	if !tmpl.NextUpdate.After(now) {
		tmpl.NextUpdate = now.Add(time.Minute)
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("certs: create revocation list: %w", err)
	}
	return parseCRL(der, []*x509.Certificate{ca.cert})
}

// ReadCRL reads the PEM file path (an "X509 CRL" block, as CRL.WriteFile
// writes) and verifies its signature against one of cas. A file that does
// not parse, or is not signed by one of cas, is ErrBadCRL.
func ReadCRL(path string, cas []*x509.Certificate) (*CRL, error) {
	der, err := readPEM(path, crlPEMType)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCRL, err)
	}
	crl, err := parseCRL(der, cas)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return crl, nil
}

func parseCRL(der []byte, cas []*x509.Certificate) (*CRL, error) {
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCRL, err)
	}
	if err := checkCRLSignature(list, cas); err != nil {
		return nil, err
	}
	crl := &CRL{list: list, revoked: map[string]bool{}}
	for _, e := range list.RevokedCertificateEntries {
		crl.revoked[FormatSerial(e.SerialNumber)] = true
	}
	return crl, nil
}

// checkCRLSignature accepts list if one of cas, named as its issuer,
// signed it.
func checkCRLSignature(list *x509.RevocationList, cas []*x509.Certificate) error {
	for _, ca := range cas {
		if bytes.Equal(ca.RawSubject, list.RawIssuer) && list.CheckSignatureFrom(ca) == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: not signed by the CA (issuer %s)", ErrBadCRL, list.Issuer)
}

// LoadCAs reads every certificate of the PEM file path, the CAs a
// revocation list may be signed by (see LoadPool). A file without a
// certificate is ErrBadPEM.
func LoadCAs(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	var cas []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadPEM, path, err)
		}
		cas = append(cas, cert)
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("%w: no certificate in %s", ErrBadPEM, path)
	}
	return cas, nil
}

// FormatSerial writes a serial number as `strife-certs show` prints it and
// `strife-certs revoke` reads it: lowercase hex bytes joined by colons,
// e.g. "5f:0a:c3".
func FormatSerial(n *big.Int) string {
	b := n.Bytes()
	if len(b) == 0 {
		b = []byte{0}
	}
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = hex.EncodeToString([]byte{c})
	}
	return strings.Join(parts, ":")
}

// ParseSerial reads a serial number written by FormatSerial, in either
// case. A colon is what tells a serial from a certificate name (names have
// none), so a serial must have at least one: "00:2a" for 42.
func ParseSerial(s string) (*big.Int, error) {
	parts := strings.Split(s, ":")
	b := make([]byte, 0, len(parts))
	for _, part := range parts {
		c, err := hex.DecodeString(part)
		if len(parts) < 2 || len(part) != 2 || err != nil {
			return nil, fmt.Errorf("%w: %q (want hex bytes joined by colons, e.g. 5f:0a:c3)", ErrInvalidSerial, s)
		}
		b = append(b, c...)
	}
	return new(big.Int).SetBytes(b), nil
}
