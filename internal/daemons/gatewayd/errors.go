package gatewayd

import (
	"errors"
	"fmt"

	"github.com/strife-pay/strife/users"
)

// Errors of the gateway, with the gRPC code statusRules gives them. The
// caller reads their text, with the detail wrapped around it, so the ones
// a caller gets are written for people, without a package prefix: they
// are the words a user of `strife` sees ("no user named mallory"). The
// errors only operators see, in the log, keep the "gatewayd: " prefix.
var (
	// ErrInvalid: a malformed request (INVALID_ARGUMENT); the user store's
	// own, so that its checks and the gateway's are one error.
	ErrInvalid = users.ErrInvalid
	// ErrUserExists: the username is taken (ALREADY_EXISTS).
	ErrUserExists = users.ErrUserExists
	// ErrAccountTaken: the account belongs to another user, at the gateway
	// or at its bank (ALREADY_EXISTS).
	ErrAccountTaken = users.ErrAccountTaken
	// ErrNoUser: no user by that name (NOT_FOUND), wrapped as noUser
	// words it: "no user named mallory".
	ErrNoUser = users.ErrNoUser
	// ErrNoAccount: the bank has no such account, or the user has none
	// (NOT_FOUND).
	ErrNoAccount = errors.New("no such account")
	// ErrDenied: the caller's role or ownership does not allow the call
	// (PERMISSION_DENIED).
	ErrDenied = errors.New("permission denied")
	// ErrBadLogin is the one answer to an unknown user and to a wrong
	// password (UNAUTHENTICATED).
	ErrBadLogin = errors.New("invalid username or password")
	// ErrWrongPassword: the current password given with a new one is wrong
	// (UNAUTHENTICATED). The client recognises "current password".
	ErrWrongPassword = errors.New("current password is wrong")
	// ErrLocked: the user gave the right password but an admin locked them
	// out (PERMISSION_DENIED). A wrong password gets ErrBadLogin first, so
	// only someone who knows the password learns of the lock.
	ErrLocked = errors.New("user is locked by an admin")
	// ErrTokenEnded ends a WatchPayments stream whose login token expired or
	// was revoked (UNAUTHENTICATED): the client should log in again and
	// catch up with ListPayments.
	ErrTokenEnded = errors.New("login token expired or revoked; log in again")
	// ErrBankUnavailable: a bank is not configured, could not be reached, or
	// did not answer in time (UNAVAILABLE).
	ErrBankUnavailable = errors.New("bank unavailable")
	// ErrWatchBehind ends a WatchPayments stream that fell too far behind
	// the changes (UNAVAILABLE): the client should watch again and catch up
	// with ListPayments.
	ErrWatchBehind = errors.New("watcher fell behind; watch again")
	// ErrShuttingDown ends WatchPayments streams when the gateway stops
	// (UNAVAILABLE).
	ErrShuttingDown = errors.New("gateway is shutting down; watch again")
	// ErrUnknownBank: an account address names a bank that has never
	// existed as far as the gateway knows (NOT_FOUND): not given with
	// --bank, never registered in etcd, named by nothing in the log. Its
	// error's text is a sentence of its own ("no bank named BankZ is known
	// to this gateway"). A known bank that is away is not this: a payment
	// to it is held PENDING.
	ErrUnknownBank = errors.New("no bank by that name is known to this gateway")
	// ErrBanksNotRead: a bank not known yet, while etcd has not answered
	// since the gateway started, so that it may have registered while the
	// gateway was away (UNAVAILABLE): try again later.
	ErrBanksNotRead = errors.New("the banks have not been read from etcd yet")
	// ErrInconsistent: the user projection disagrees with the log's records
	// (see users.Store.Verify). Operators only: it is INTERNAL, never sent.
	ErrInconsistent = users.ErrInconsistent
)

// noUser is ErrNoUser for name: "no user named mallory".
func noUser(name string) error {
	return fmt.Errorf("%w named %s", ErrNoUser, name)
}
