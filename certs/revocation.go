package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/rs/zerolog"
)

// crlFile serves the revocation list in a file, reloading it when the file
// changes on disk, as keyPairFile does for a key pair: a revocation written
// by `strife-certs revoke` takes effect at the next handshake. It costs one
// stat per handshake.
//
// An absent file is an empty list, and is looked for again at every
// handshake, so that the first revocation of a deployment needs no
// restart. A file that appears or changes but is refused (it does not
// parse, is not signed by the CA, has a lower number than the list in use,
// or was removed) is logged once as an error, and the last good list stays
// in use: a broken or rolled-back file never un-revokes anyone.
type crlFile struct {
	path string
	cas  []*x509.Certificate
	log  zerolog.Logger

	mu      sync.Mutex
	stat    os.FileInfo // of the file crl was loaded from; nil if none
	badStat os.FileInfo // of the last file refused, not read again...
	badErr  error       // ...and why
	logged  string      // the last refusal logged, not logged again
	crl     *CRL        // nil: nothing revoked
}

// newCRLFile loads the list once if the file exists: a present but bad
// list fails at startup rather than letting revoked peers in.
func newCRLFile(path string, cas []*x509.Certificate, log zerolog.Logger) (*crlFile, error) {
	c := &crlFile{path: path, cas: cas, log: log}
	if err := c.refresh(); err != nil {
		return nil, err
	}
	return c, nil
}

// current returns the list in use, reloading it first if the file changed.
func (c *crlFile) current() *CRL {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.refresh()
	switch {
	case err == nil:
		c.logged = ""
	case err.Error() != c.logged:
		c.logged = err.Error()
		c.log.Error().Err(err).Str("crl", c.path).
			Msg("revocation list refused; the last good one stays in use")
	}
	return c.crl
}

// refresh reloads the list if the file changed; on error it leaves the
// list in use untouched.
func (c *crlFile) refresh() error {
	stat, err := os.Stat(c.path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && c.crl == nil:
		return nil
	case err != nil:
		return fmt.Errorf("%w: %w", ErrBadCRL, err)
	case sameFile(c.stat, stat):
		return nil
	case sameFile(c.badStat, stat):
		return c.badErr
	}
	crl, err := ReadCRL(c.path, c.cas)
	if err == nil && c.crl != nil && crl.list.Number.Cmp(c.crl.list.Number) < 0 {
		err = fmt.Errorf("%w: number %v is lower than %v in use (%s)", ErrBadCRL, crl.list.Number, c.crl.list.Number, c.path)
	}
	if err != nil {
		c.badStat, c.badErr = stat, err
		return err
	}
	c.crl, c.stat, c.badStat, c.badErr = crl, stat, nil, nil
	return nil
}

// verify is a tls.Config's VerifyConnection: it refuses a peer whose
// certificate is on the list. It runs on every handshake, resumed ones
// included (VerifyPeerCertificate would skip those), after the chain was
// verified.
func (c *crlFile) verify(state tls.ConnectionState) error {
	if len(state.PeerCertificates) == 0 {
		return nil // the chain check already refused or did not ask
	}
	crl := c.current()
	leaf := state.PeerCertificates[0]
	if crl == nil || !crl.Revoked(leaf) {
		return nil
	}
	c.log.Warn().Str("peer", leaf.Subject.CommonName).Str("serial", FormatSerial(leaf.SerialNumber)).
		Msg("refused a revoked certificate")
	return fmt.Errorf("%w: %s, serial %s", ErrRevoked, leaf.Subject.CommonName, FormatSerial(leaf.SerialNumber))
}
