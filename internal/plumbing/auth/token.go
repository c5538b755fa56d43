package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oklog/ulid/v2"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// User roles carried in tokens.
const (
	RoleCustomer = "customer"
	RoleAdmin    = "admin"
)

// RoleName is the token role of a user role: RoleCustomer, RoleAdmin, or ""
// for none.
func RoleName(r strifev1.UserRole) string {
	switch r {
	case strifev1.UserRole_USER_ROLE_CUSTOMER:
		return RoleCustomer
	case strifev1.UserRole_USER_ROLE_ADMIN:
		return RoleAdmin
	}
	return ""
}

// DefaultTokenLifetime is how long a login token is valid.
const DefaultTokenLifetime = 15 * time.Minute

const issuer = "strife"

// Errors of Verify. All of them mean UNAUTHENTICATED to a caller; they are told
// apart only in the server's log, where the policy interceptors of
// internal/plumbing/rpc write Verify's error (never the token) at warn, as
// "login token refused".
var (
	ErrBadToken         = errors.New("auth: invalid login token")
	ErrWrongCertificate = errors.New("auth: login token was issued over another certificate")
	ErrRevoked          = errors.New("auth: login token revoked")
	// ErrUserLocked is wrapped, with ErrRevoked, in the refusal of a token
	// of a locked user.
	ErrUserLocked = errors.New("user is locked")
)

// Claims are the claims of a login token.
type Claims struct {
	jwt.RegisteredClaims
	Role string       `json:"role"`
	Cnf  Confirmation `json:"cnf"`
	// Ver is the user's credential version when the token was issued
	// (Revocations). Tokens issued before revocation existed have none,
	// which reads as 0: the version of users stored before it too.
	Ver uint64 `json:"ver,omitempty"`
}

// Token is what a verified login token says.
type Token struct {
	User, Role string
	// ID names the token in a deny list: its jti claim or, for a token
	// issued before tokens had one, "sha256:" and the hex SHA-256 of the
	// token (never the token itself, which would be a credential at rest).
	ID      string
	Version uint64    // the user's credential version it was issued under
	Expires time.Time // its exp claim
}

// Confirmation binds a token to a certificate (RFC 8705 section 3.1).
type Confirmation struct {
	X5tS256 string `json:"x5t#S256"`
}

// Thumbprint is the RFC 8705 thumbprint of a certificate: base64url (no
// padding) of the SHA-256 of its DER encoding.
func Thumbprint(cert *x509.Certificate) string {
	return thumbprint(sha256.Sum256(cert.Raw))
}

// thumbprint is the thumbprint of a certificate whose SHA-256 is sum.
func thumbprint(sum [sha256.Size]byte) string {
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Signer issues and verifies login tokens with one HMAC key.
type Signer struct {
	key      []byte
	lifetime time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

// MinKeyLen is the shortest signing key accepted: HS256 wants 256 bits.
const MinKeyLen = 32

// NewSigner returns a Signer. lifetime 0 means DefaultTokenLifetime; now nil
// means time.Now.
func NewSigner(key []byte, lifetime time.Duration, now func() time.Time) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("auth: signing key of %d bytes is shorter than %d", len(key), MinKeyLen)
	}
	if lifetime <= 0 {
		lifetime = DefaultTokenLifetime
	}
	if now == nil {
		now = time.Now
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(issuer),
		jwt.WithTimeFunc(now),
	)
	return &Signer{key: key, lifetime: lifetime, now: now, parser: parser}, nil
}

// LoadKey reads a signing key file: hex text, as `strife-certs init` writes it.
func LoadKey(path string) ([]byte, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		return nil, fmt.Errorf("auth: signing key %s is not hex", path)
	}
	return key, nil
}

// Issue returns a token for user with role, issued under the user's
// credential version, bound to cert, and its expiry. Its jti is a fresh
// ULID.
func (s *Signer) Issue(user, role string, version uint64, cert *x509.Certificate) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(s.lifetime)
	id, err := ulid.New(ulid.Timestamp(now), rand.Reader)
	if err != nil {
		return "", time.Time{}, err
	}
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        id.String(),
			Subject:   user,
			Issuer:    issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		Role: role,
		Cnf:  Confirmation{X5tS256: Thumbprint(cert)},
		Ver:  version,
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
	return token, exp, err
}

// Verify checks a token presented over a connection whose client
// certificate is cert, and returns what it says. It knows nothing of
// revocation: a TokenCache with Revocations does (the gateway uses one).
func (s *Signer) Verify(token string, cert *x509.Certificate) (Token, error) {
	claims, err := s.verify(token, sha256.Sum256(cert.Raw))
	if err != nil {
		return Token{}, err
	}
	return claims.token(token), nil
}

// token is what claims, verified, say of the token they came in.
func (c *Claims) token(token string) Token {
	id := c.ID
	if id == "" {
		sum := sha256.Sum256([]byte(token))
		id = "sha256:" + hex.EncodeToString(sum[:])
	}
	return Token{User: c.Subject, Role: c.Role, ID: id, Version: c.Ver, Expires: c.ExpiresAt.Time}
}

// verify is Verify for a certificate whose SHA-256 is certSum, returning
// the token's claims.
func (s *Signer) verify(token string, certSum [sha256.Size]byte) (*Claims, error) {
	var claims Claims
	_, err := s.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.key, nil })
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	if claims.Subject == "" || (claims.Role != RoleCustomer && claims.Role != RoleAdmin) {
		return nil, fmt.Errorf("%w: no user or role", ErrBadToken)
	}
	if subtle.ConstantTimeCompare([]byte(claims.Cnf.X5tS256), []byte(thumbprint(certSum))) != 1 {
		return nil, ErrWrongCertificate
	}
	return &claims, nil
}

// validity is the span [from, until) of times at which the parser of
// NewSigner accepts claims that passed it once: from the later of iat and
// nbf (either may be absent), until exp. It mirrors the parser's time checks
// with no leeway; a change to them (jwt.WithLeeway, say) must change it too.
func (c *Claims) validity() (from, until time.Time) {
	if c.IssuedAt != nil {
		from = c.IssuedAt.Time
	}
	if c.NotBefore != nil && c.NotBefore.After(from) {
		from = c.NotBefore.Time
	}
	return from, c.ExpiresAt.Time
}
