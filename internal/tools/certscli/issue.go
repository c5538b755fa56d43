package certscli

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/strife-pay/strife/certs"
)

// IssueOptions are the flags of `strife-certs issue`.
type IssueOptions struct {
	Dir  string     // required; must hold ca.crt and ca.key
	Role certs.Role // required
	Name string     // required; the CN and the file name
	// Hosts are the certificate's DNS names and IP addresses, used as
	// given: a server needs them (see DefaultHosts), a pure client none.
	Hosts    []string
	Validity time.Duration // certs.DefaultValidity if zero
	// Force replaces an existing <Name>.crt and <Name>.key: a renewal.
	Force bool
}

// Issue loads the CA from o.Dir and writes a new certificate and key for
// o.Name there. Without Force it refuses a name whose files exist.
func Issue(o IssueOptions) (*Result, error) {
	req, err := o.request()
	if err != nil {
		return nil, err
	}
	files := certs.FilesIn(o.Dir, o.Name)
	if !o.Force {
		for _, p := range []string{files.CertFile, files.KeyFile} {
			if err := refuseFile(p); err != nil {
				if errors.Is(err, ErrExists) {
					return nil, &refusal{ErrExists, fmt.Sprintf("%s already exists; use --force to renew it", p)}
				}
				return nil, err
			}
		}
	}
	ca, err := certs.LoadCA(o.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (run `strife-certs init --dir %s` first)", err, o.Dir)
	}
	if err != nil {
		return nil, err
	}
	id, err := ca.Issue(req)
	if err != nil {
		return nil, err
	}
	if err := id.WriteFiles(o.Dir, o.Name); err != nil {
		return nil, err
	}
	res := &Result{Dir: o.Dir}
	res.addIssued(req, id)
	return res, nil
}

func (o IssueOptions) request() (certs.Request, error) {
	switch {
	case o.Dir == "":
		return certs.Request{}, fmt.Errorf("%w: no directory", ErrInvalidOptions)
	case o.Validity < 0:
		return certs.Request{}, fmt.Errorf("%w: negative validity %v", ErrInvalidOptions, o.Validity)
	}
	if _, err := parseRole(string(o.Role)); err != nil {
		return certs.Request{}, err
	}
	if err := checkName(o.Name); err != nil {
		return certs.Request{}, err
	}
	dns, ips, err := parseHosts(o.Hosts)
	if err != nil {
		return certs.Request{}, err
	}
	return certs.Request{Role: o.Role, Name: o.Name, DNSNames: dns, IPAddresses: ips, Validity: o.Validity}, nil
}
