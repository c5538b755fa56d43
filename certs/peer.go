package certs

import (
	"crypto/tls"
	"fmt"
)

// PeerIdentity returns the name (CN) and role (OU) of the peer of a
// completed handshake, taken from the verified chain only: an unverified
// certificate proves nothing. It fails with ErrNoPeerCertificate if there
// is no verified chain, ErrInvalidName if the CN is not a valid name, and
// ErrUnknownRole unless the certificate has exactly one OU that is a role.
func PeerIdentity(state tls.ConnectionState) (string, Role, error) {
	if len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) == 0 {
		return "", "", ErrNoPeerCertificate
	}
	subject := state.VerifiedChains[0][0].Subject
	if err := CheckName(subject.CommonName); err != nil {
		return "", "", err
	}
	if len(subject.OrganizationalUnit) != 1 {
		return "", "", fmt.Errorf("%w: OU %q", ErrUnknownRole, subject.OrganizationalUnit)
	}
	role, err := ParseRole(subject.OrganizationalUnit[0])
	if err != nil {
		return "", "", err
	}
	return subject.CommonName, role, nil
}
