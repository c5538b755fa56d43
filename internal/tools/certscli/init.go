package certscli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strife-pay/strife/certs"
)

// CAName is the CommonName of the CA that Init creates.
const CAName = "strife-ca"

// InitOptions are the flags of `strife-certs init`.
type InitOptions struct {
	Dir     string   // required; created 0700 if missing
	Banks   []string // role bank; may be empty
	Gateway string   // role gateway; required (token.key is its)
	Admin   string   // role admin; empty for none
	Clients []string // role client: client programs, not users; may be empty
	// Hosts are the DNS names and IP addresses of the gateway and the banks;
	// admin and client certificates get none.
	Hosts []string
	// Validity of each certificate (certs.DefaultValidity if zero). The CA
	// gets certs.DefaultCAValidity, or Validity if that is longer.
	Validity time.Duration
	// Force replaces an existing CA and any other file Init writes.
	Force bool
}

// DefaultInitOptions returns the options of a local demo deployment in dir:
// banks BankA, BankB and BankC, gateway-1, admin, clients alice, bob and
// carol, loopback SANs, certificates valid for a year.
func DefaultInitOptions(dir string) InitOptions {
	return InitOptions{
		Dir:      dir,
		Banks:    []string{"BankA", "BankB", "BankC"},
		Gateway:  "gateway-1",
		Admin:    "admin",
		Clients:  []string{"alice", "bob", "carol"},
		Hosts:    DefaultHosts(),
		Validity: certs.DefaultValidity,
	}
}

// Validate reports the first bad option: a missing Dir or Gateway, a
// negative Validity, an invalid, reserved or repeated name, a bad host.
func (o InitOptions) Validate() error {
	_, err := o.requests()
	return err
}

// Init creates a CA in o.Dir, a certificate for every program named in o,
// and the gateway's token key. It creates everything in memory before it
// writes anything, so a bad option or a crypto failure leaves o.Dir as it
// was; it writes the CA first and the token key last.
func Init(o InitOptions) (*Result, error) {
	reqs, err := o.requests()
	if err != nil {
		return nil, err
	}
	if !o.Force {
		if err := refuseExisting(o.Dir, reqs); err != nil {
			return nil, err
		}
	}
	ca, err := certs.NewCA(CAName, max(certs.DefaultCAValidity, o.Validity))
	if err != nil {
		return nil, err
	}
	issued := make([]*certs.Issued, len(reqs))
	for i, req := range reqs {
		if issued[i], err = ca.Issue(req); err != nil {
			return nil, err
		}
	}
	token, err := newTokenKey()
	if err != nil {
		return nil, err
	}
	return write(o.Dir, ca, reqs, issued, token)
}

func write(dir string, ca *certs.CA, reqs []certs.Request, issued []*certs.Issued, token []byte) (*Result, error) {
	res := &Result{Dir: dir}
	if err := ca.WriteFiles(dir); err != nil {
		return nil, err
	}
	res.addCA(ca)
	for i, req := range reqs {
		if err := issued[i].WriteFiles(dir, req.Name); err != nil {
			return nil, err
		}
		res.addIssued(req, issued[i])
	}
	if err := certs.WriteFileAtomic(filepath.Join(dir, TokenKeyFile), token, 0o600); err != nil {
		return nil, err
	}
	res.addTokenKey()
	return res, nil
}

// requests validates o and returns the certificates to issue, gateway
// first, then banks, admin and clients.
func (o InitOptions) requests() ([]certs.Request, error) {
	switch {
	case o.Dir == "":
		return nil, fmt.Errorf("%w: no directory", ErrInvalidOptions)
	case o.Gateway == "":
		return nil, fmt.Errorf("%w: no gateway name", ErrInvalidOptions)
	case o.Validity < 0:
		return nil, fmt.Errorf("%w: negative validity %v", ErrInvalidOptions, o.Validity)
	}
	dns, ips, err := parseHosts(o.Hosts)
	if err != nil {
		return nil, err
	}
	var reqs []certs.Request
	add := func(role certs.Role, names ...string) {
		for _, name := range names {
			req := certs.Request{Role: role, Name: name, Validity: o.Validity}
			if serves(role) {
				req.DNSNames, req.IPAddresses = dns, ips
			}
			reqs = append(reqs, req)
		}
	}
	add(certs.RoleGateway, o.Gateway)
	add(certs.RoleBank, o.Banks...)
	if o.Admin != "" {
		add(certs.RoleAdmin, o.Admin)
	}
	add(certs.RoleClient, o.Clients...)
	return reqs, checkNames(reqs)
}

func checkNames(reqs []certs.Request) error {
	seen := make(map[string]string, len(reqs))
	for _, req := range reqs {
		if err := checkName(req.Name); err != nil {
			return err
		}
		if prev, ok := seen[strings.ToLower(req.Name)]; ok {
			return fmt.Errorf("%w: %q and %q", ErrDuplicateName, prev, req.Name)
		}
		seen[strings.ToLower(req.Name)] = req.Name
	}
	return nil
}

// refuseExisting fails if dir has a CA or any file Init would write.
func refuseExisting(dir string, reqs []certs.Request) error {
	if err := refuseFile(filepath.Join(dir, certs.CACertFile)); err != nil {
		if errors.Is(err, ErrExists) {
			return &refusal{ErrExists, fmt.Sprintf(
				"%s already has a CA; use --force to replace it or `issue` to add a certificate", dir)}
		}
		return err
	}
	paths := []string{filepath.Join(dir, certs.CAKeyFile), filepath.Join(dir, TokenKeyFile)}
	for _, req := range reqs {
		f := certs.FilesIn(dir, req.Name)
		paths = append(paths, f.CertFile, f.KeyFile)
	}
	for _, p := range paths {
		if err := refuseFile(p); err != nil {
			return err
		}
	}
	return nil
}

// refuseFile fails with ErrExists if path exists, and with the error of
// Lstat if it cannot tell.
func refuseFile(path string) error {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return &refusal{ErrExists, fmt.Sprintf("%s already exists; use --force to replace it", path)}
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return fmt.Errorf("certscli: %w", err)
}
