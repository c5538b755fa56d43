package certs

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rs/zerolog"
)

// Files names the PEM files a daemon is given on its command line.
type Files struct {
	CertFile string // this program's certificate, e.g. certs/BankA.crt
	KeyFile  string // its private key, e.g. certs/BankA.key (keep 0600)
	CAFile   string // the CA certificate(s) that peers must chain to
	// CRLFile is the CA's revocation list, e.g. certs/ca.crl. Default: the
	// ca.crl next to CAFile. It may be absent (nothing is revoked) and
	// appear later; see ServerConfig.
	CRLFile string
	// Log receives what the TLS configs cannot return: a changed
	// revocation list refused, a revoked peer refused. The zero Logger
	// discards.
	Log zerolog.Logger
}

// FilesIn returns the Files of name in a directory laid out by
// CA.WriteFiles and Issued.WriteFiles.
func FilesIn(dir, name string) Files {
	return Files{
		CertFile: filepath.Join(dir, name+".crt"),
		KeyFile:  filepath.Join(dir, name+".key"),
		CAFile:   filepath.Join(dir, CACertFile),
		CRLFile:  filepath.Join(dir, CACRLFile),
	}
}

// crlPath is CRLFile, or the ca.crl next to CAFile.
func (f Files) crlPath() string {
	if f.CRLFile != "" {
		return f.CRLFile
	}
	return filepath.Join(filepath.Dir(f.CAFile), CACRLFile)
}

// Validate reports every empty field, wrapping ErrMissingFile. It does not
// touch the disk: ServerConfig and ClientConfig report unreadable files.
func (f Files) Validate() error {
	var errs []error
	for _, field := range []struct{ name, value string }{
		{"CertFile", f.CertFile}, {"KeyFile", f.KeyFile}, {"CAFile", f.CAFile},
	} {
		if field.value == "" {
			errs = append(errs, fmt.Errorf("%w: %s is empty", ErrMissingFile, field.name))
		}
	}
	return errors.Join(errs...)
}
