package certscli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"path/filepath"
	"strings"

	"github.com/strife-pay/strife/certs"
)

// RevokeOptions are the arguments of `strife-certs revoke`.
type RevokeOptions struct {
	Dir string // required; must hold ca.crt and ca.key
	// Targets are what to revoke, each a name or a serial. A name revokes
	// every certificate of Dir with that CN signed by the CA (the CA keeps
	// no other record of what it issued: the .crt files are the record).
	// A serial, as `show` prints it (hex bytes joined by colons), revokes
	// that certificate even if its file is gone, e.g. renewed over.
	Targets []string
}

// Revocation is one certificate Revoke put on the list, or found there.
type Revocation struct {
	Serial *big.Int
	Name   string // the CN, if a file of Dir has that serial
	// Already is true if the serial was on the list before.
	Already bool
}

// RevokeResult is what Revoke did.
type RevokeResult struct {
	Path    string // Dir/ca.crl
	Revoked []Revocation
	// Written is false if every target was already revoked: the list is
	// left as it was, so running revoke twice changes nothing.
	Written bool
	Number  *big.Int // of the list in Path now
}

// Revoke adds the certificates of o.Targets to the CA's revocation list,
// Dir/ca.crl, creating it if needed. Servers given that file (by default,
// the ca.crl next to their --ca) refuse those certificates from their next
// handshake on. It refuses an existing list that does not verify against
// the CA rather than replace it and lose its revocations.
func Revoke(o RevokeOptions) (*RevokeResult, error) {
	if o.Dir == "" || len(o.Targets) == 0 {
		return nil, fmt.Errorf("%w: revoke needs a directory and a name or serial", ErrInvalidOptions)
	}
	ca, err := certs.LoadCA(o.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (run `strife-certs init --dir %s` first)", err, o.Dir)
	}
	if err != nil {
		return nil, err
	}
	res := &RevokeResult{Path: filepath.Join(o.Dir, certs.CACRLFile)}
	prev, err := readCRL(res.Path, ca)
	if err != nil {
		return nil, err
	}
	if res.Revoked, err = resolve(o, ca); err != nil {
		return nil, err
	}
	crl, err := ca.Revoke(prev, serials(res.Revoked)...)
	if err != nil {
		return nil, err
	}
	markAlready(res.Revoked, prev)
	if prev != nil && len(crl.Entries()) == len(prev.Entries()) {
		res.Number = prev.Number()
		return res, nil
	}
	if err := crl.WriteFile(res.Path); err != nil {
		return nil, err
	}
	res.Written, res.Number = true, crl.Number()
	return res, nil
}

// readCRL reads the CA's list at path, nil if there is none yet.
func readCRL(path string, ca *certs.CA) (*certs.CRL, error) {
	crl, err := certs.ReadCRL(path, []*x509.Certificate{ca.Certificate()})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w; refusing to replace it (move it aside to start a new list)", err)
	}
	return crl, nil
}

// resolve turns names and serials into the serials to revoke.
func resolve(o RevokeOptions, ca *certs.CA) ([]Revocation, error) {
	issued, err := issuedBy(o.Dir, ca)
	if err != nil {
		return nil, err
	}
	var out []Revocation
	for _, target := range o.Targets {
		if strings.Contains(target, ":") {
			serial, err := certs.ParseSerial(target)
			if err != nil {
				return nil, err
			}
			out = append(out, Revocation{Serial: serial, Name: nameOf(issued, serial)})
			continue
		}
		found, err := byName(issued, target, o.Dir)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// issuedBy lists the readable certificates of dir that ca signed.
func issuedBy(dir string, ca *certs.CA) ([]Entry, error) {
	entries, err := List(dir)
	if err != nil {
		return nil, err
	}
	var issued []Entry
	for _, e := range entries {
		if e.Cert != nil && !e.Cert.IsCA && e.Cert.CheckSignatureFrom(ca.Certificate()) == nil {
			issued = append(issued, e)
		}
	}
	return issued, nil
}

func byName(issued []Entry, name, dir string) ([]Revocation, error) {
	if err := certs.CheckName(name); err != nil {
		return nil, fmt.Errorf("%w (want a certificate name, or a serial as show prints it)", err)
	}
	var found []Revocation
	for _, e := range issued {
		if e.Cert.Subject.CommonName == name {
			found = append(found, Revocation{Serial: e.Cert.SerialNumber, Name: name})
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%w: no certificate named %q signed by the CA in %s", ErrNotFound, name, dir)
	}
	return found, nil
}

func nameOf(issued []Entry, serial *big.Int) string {
	for _, e := range issued {
		if e.Cert.SerialNumber.Cmp(serial) == 0 {
			return e.Cert.Subject.CommonName
		}
	}
	return ""
}

func serials(rs []Revocation) []*big.Int {
	out := make([]*big.Int, len(rs))
	for i, r := range rs {
		out[i] = r.Serial
	}
	return out
}

func markAlready(rs []Revocation, prev *certs.CRL) {
	if prev == nil {
		return
	}
	on := map[string]bool{}
	for _, e := range prev.Entries() {
		on[certs.FormatSerial(e.SerialNumber)] = true
	}
	for i := range rs {
		rs[i].Already = on[certs.FormatSerial(rs[i].Serial)]
	}
}
