package certscli

import (
	"fmt"
	"net"
	"strings"

	"github.com/strife-pay/strife/certs"
)

// roles are the roles of package certs, in the order error messages list them.
var roles = []certs.Role{certs.RoleClient, certs.RoleAdmin, certs.RoleGateway, certs.RoleBank}

// reserved are the names whose files belong to the CA and the token key.
var reserved = []string{"ca", "token"}

// DefaultHosts are the SANs of servers reached on the loopback interface.
func DefaultHosts() []string { return []string{"localhost", "127.0.0.1", "::1"} }

// serves reports whether role is a server's, whose certificate needs SANs.
func serves(role certs.Role) bool { return role == certs.RoleGateway || role == certs.RoleBank }

func parseRole(s string) (certs.Role, error) {
	r, err := certs.ParseRole(s)
	if err != nil {
		return "", fmt.Errorf("%w (want one of %s)", err, joinRoles())
	}
	return r, nil
}

func joinRoles() string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// checkName accepts a valid program name that is not reserved.
func checkName(name string) error {
	if err := certs.CheckName(name); err != nil {
		return fmt.Errorf("%w (want 1 to 64 of A-Z a-z 0-9 . _ -, not starting with a dot)", err)
	}
	for _, r := range reserved {
		if strings.EqualFold(name, r) {
			return fmt.Errorf("%w: %q (%s.* files belong to strife-certs)", ErrReservedName, name, r)
		}
	}
	return nil
}

// parseHosts splits hosts into IP addresses and DNS names.
func parseHosts(hosts []string) ([]string, []net.IP, error) {
	var dns []string
	var ips []net.IP
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
			continue
		}
		if !validDNSName(h) {
			return nil, nil, fmt.Errorf("%w: %q (want a DNS name or an IP address)", ErrInvalidHost, h)
		}
		dns = append(dns, h)
	}
	return dns, ips, nil
}

// validDNSName accepts dot-separated labels of letters, digits, '-' and
// '_', the first of which may be a wildcard "*".
func validDNSName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for i, label := range strings.Split(h, ".") {
		if label == "*" && i == 0 {
			continue
		}
		if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return false
		}
	}
	return true
}
