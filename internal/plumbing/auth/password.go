package auth

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/strife-pay/strife/internal/plumbing/freetext"
)

// Password rules.
const (
	MinPasswordLen = 8
	// MaxPasswordLen is bcrypt's limit: it ignores bytes past 72, which would
	// make long passwords silently weaker than they look.
	MaxPasswordLen = 72
	DefaultCost    = 12
)

// ErrWeakPassword is returned by Hash for a password outside the length
// rules.
var ErrWeakPassword = fmt.Errorf("auth: password must be %d to %d bytes", MinPasswordLen, MaxPasswordLen)

// ErrPasswordText is returned by Hash for a password that is not free text
// (package freetext): one with a control character, such as a tab or a
// newline, or an invisible format character. Such a password could not be
// typed back at a terminal. The error does not say which character, so
// that nothing of the password reaches a message.
var ErrPasswordText = errors.New("auth: password must be printable text, without control or invisible characters")

// Hasher hashes and checks passwords with bcrypt. Make one with NewHasher.
type Hasher struct {
	cost int
	// dummy is a hash of the same cost, for Check to compare against when
	// the user is unknown.
	dummy []byte
}

// NewHasher returns a Hasher of the given bcrypt cost (0: DefaultCost;
// tests use bcrypt.MinCost to stay fast).
func NewHasher(cost int) (*Hasher, error) {
	if cost == 0 {
		cost = DefaultCost
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("auth: bcrypt cost %d is not in %d-%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("no such user, no such password"), cost)
	if err != nil {
		return nil, err
	}
	return &Hasher{cost: cost, dummy: dummy}, nil
}

// Hash returns the bcrypt hash of a new password that meets the length and
// text rules. Check applies neither: a password set under older rules still
// logs in.
func (h *Hasher) Hash(password string) ([]byte, error) {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return nil, ErrWeakPassword
	}
	if freetext.Check("password", password, 0) != nil {
		return nil, ErrPasswordText
	}
	return bcrypt.GenerateFromPassword([]byte(password), h.cost)
}

// Check reports whether password matches hash. A nil hash (unknown user)
// never matches, after the same amount of work as a real comparison.
func (h *Hasher) Check(hash []byte, password string) bool {
	if hash == nil {
		_ = bcrypt.CompareHashAndPassword(h.dummy, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
}
