package certscli

import (
	"path/filepath"
	"time"

	"github.com/strife-pay/strife/certs"
)

// Kind says what a written file holds.
type Kind string

// The kinds of files Init and Issue write.
const (
	KindCACert   Kind = "CA certificate"
	KindCAKey    Kind = "CA private key"
	KindCert     Kind = "certificate"
	KindKey      Kind = "private key"
	KindTokenKey Kind = "token signing key"
)

// Result lists the files Init or Issue wrote, in the order written.
type Result struct {
	Dir   string
	Files []File
}

// File is one file written. It never holds key material.
type File struct {
	Path string
	Kind Kind
	// Name and NotAfter are those of the certificate the file belongs to;
	// Role is empty for the CA. All three are empty for the token key.
	Name     string
	Role     certs.Role
	NotAfter time.Time
}

func (r *Result) addCA(ca *certs.CA) {
	c := ca.Certificate()
	r.Files = append(r.Files,
		File{Path: filepath.Join(r.Dir, certs.CACertFile), Kind: KindCACert, Name: c.Subject.CommonName, NotAfter: c.NotAfter},
		File{Path: filepath.Join(r.Dir, certs.CAKeyFile), Kind: KindCAKey, Name: c.Subject.CommonName, NotAfter: c.NotAfter})
}

// addIssued adds the files of certs.FilesIn(r.Dir, req.Name), in the order
// Issued.WriteFiles writes them.
func (r *Result) addIssued(req certs.Request, id *certs.Issued) {
	f := certs.FilesIn(r.Dir, req.Name)
	r.Files = append(r.Files,
		File{Path: f.KeyFile, Kind: KindKey, Name: req.Name, Role: req.Role, NotAfter: id.Leaf.NotAfter},
		File{Path: f.CertFile, Kind: KindCert, Name: req.Name, Role: req.Role, NotAfter: id.Leaf.NotAfter})
}

func (r *Result) addTokenKey() {
	r.Files = append(r.Files, File{Path: filepath.Join(r.Dir, TokenKeyFile), Kind: KindTokenKey})
}
