package deploy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/tools/certscli"
)

// ensureCerts makes the demo CA, certificates and token key in dir unless
// it has a CA already; an existing directory must hold every file the
// children use. It reports whether it made them.
func ensureCerts(dir string) (bool, error) {
	opts := certscli.DefaultInitOptions(dir)
	_, err := os.Stat(filepath.Join(dir, certs.CACertFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := certscli.Init(opts); err != nil {
			return false, fmt.Errorf("deploy: making certificates: %w", err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("deploy: %w", err)
	}
	return false, checkCerts(opts)
}

// checkCerts fails, naming the file, if a certificate, key or the token key
// of the deployment is missing.
func checkCerts(opts certscli.InitOptions) error {
	paths := []string{filepath.Join(opts.Dir, certscli.TokenKeyFile)}
	for _, name := range append([]string{opts.Gateway, opts.Admin}, append(opts.Banks, opts.Clients...)...) {
		f := certs.FilesIn(opts.Dir, name)
		paths = append(paths, f.CertFile, f.KeyFile)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("deploy: %s has a CA but not every file of the deployment (%w); move the directory away to make new certificates", opts.Dir, err)
		}
	}
	return nil
}
