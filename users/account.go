package users

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/ledger"
)

// MaxUsernameLen is the longest username.
const MaxUsernameLen = 32

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)

// ValidUsername checks a username: 1-32 of [a-z0-9._-], starting with a
// letter or a digit. Usernames are bank account owners and log fields, so
// they are kept to plain, case-free text.
func ValidUsername(name string) error {
	if !usernamePattern.MatchString(name) {
		return fmt.Errorf("%w: username %q must be 1-%d of a-z 0-9 . _ -, starting with a letter or digit", ErrInvalid, name, MaxUsernameLen)
	}
	return nil
}

// SplitAccount parses an account address "<bank>/<number>" and checks both
// parts: the bank is a valid program name (certs.CheckName), the number a
// valid account number (ledger.ValidNumber). Every address that comes from
// outside (a request, a seed file) goes through it.
func SplitAccount(account string) (bank, number string, err error) {
	bank, number, ok := Split(account)
	if !ok || certs.CheckName(bank) != nil || ledger.ValidNumber(number) != nil {
		return "", "", fmt.Errorf("%w: account %q is not <bank>/<number>", ErrInvalid, account)
	}
	return bank, number, nil
}

// Split cuts an account address at its first "/" into bank and number,
// without checking either; ok is false if there is no "/". It is for
// addresses already checked by SplitAccount (a stored payment's, a
// deployment's own), which it splits the same way.
func Split(account string) (bank, number string, ok bool) {
	return strings.Cut(account, "/")
}
