package certs

import "fmt"

// Role is what a program is allowed to be in the system. It travels in the
// certificate's Subject OrganizationalUnit; servers authorize on it.
type Role string

// The roles. There are no others: ParseRole and PeerIdentity reject
// anything else, so a typo in a certificate cannot grant access.
const (
	RoleClient  Role = "client"  // a user's client CLI, talks to the gateway
	RoleAdmin   Role = "admin"   // operator tools
	RoleGateway Role = "gateway" // the gateway, the only caller of BankService
	RoleBank    Role = "bank"    // a bank, the only caller of CoordinatorService
)

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	switch r {
	case RoleClient, RoleAdmin, RoleGateway, RoleBank:
		return true
	}
	return false
}

// ParseRole returns the role spelled exactly s (lower case, no spaces), or
// an error wrapping ErrUnknownRole.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownRole, s)
}
