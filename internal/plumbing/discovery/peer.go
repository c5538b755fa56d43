package discovery

import (
	"crypto/tls"
	"fmt"

	"github.com/strife-pay/strife/certs"
)

// ExpectPeer returns base, accepting only a server whose verified
// certificate has role and name. etcd says where a name is, never who is
// there: whoever can write to etcd can point a name at any address, and
// only a certificate the CA issued for that name is let through.
func ExpectPeer(base *tls.Config, role certs.Role, name string) *tls.Config {
	c := base.Clone()
	verifyBase := base.VerifyConnection // the revocation check, kept
	c.VerifyConnection = func(state tls.ConnectionState) error {
		if verifyBase != nil {
			if err := verifyBase(state); err != nil {
				return err
			}
		}
		got, gotRole, err := certs.PeerIdentity(state)
		if err != nil {
			return err
		}
		if gotRole != role || got != name {
			return fmt.Errorf("discovery: expected %s %q, the server is %s %q", role, name, gotRole, got)
		}
		return nil
	}
	return c
}
