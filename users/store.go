package users

import (
	"bytes"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/internal/plumbing/auth"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// checkUser checks the invariants of a stored user: a valid name and role,
// a password hash, well-formed distinct accounts, and a default account
// that is one of them (empty only if there are none).
func checkUser(u *storagev1.UserState) error {
	if err := ValidUsername(u.GetUsername()); err != nil {
		return err
	}
	if auth.RoleName(u.GetRole()) == "" || len(u.GetPasswordHash()) == 0 {
		return fmt.Errorf("%w: user %q has no role or no password", ErrInvalid, u.GetUsername())
	}
	for i, a := range u.GetAccounts() {
		if _, _, err := SplitAccount(a); err != nil {
			return err
		}
		if slices.Contains(u.GetAccounts()[:i], a) {
			return fmt.Errorf("%w: account %s listed twice", ErrInvalid, a)
		}
	}
	if d := u.GetDefaultAccount(); (d != "" || len(u.GetAccounts()) > 0) && !slices.Contains(u.GetAccounts(), d) {
		return fmt.Errorf("%w: default account %q is not one of the user's accounts", ErrInvalid, d)
	}
	return nil
}

// Store is the gateway's user store, event-sourced in the gateway's log:
// every change is a USER_REGISTERED or USER_UPDATED record whose payload is
// the user after the change, written in the same transaction as the
// projection (the users and account_owners buckets). It is safe for
// concurrent use; changes are serialized by the log's committer, so the
// checks a change makes (a free username, a free account) hold when it is
// written.
//
// A store that Tracks an auth.Revocations keeps it up to date: each user's
// credential version and lock, and the deny list (see revocation.go).
type Store struct {
	log   *wal.Log
	creds *auth.Revocations // nil unless Track was called
}

// New returns the user store in log.
func New(log *wal.Log) *Store { return &Store{log: log} }

// Get returns a user, or an error wrapping ErrNoUser.
func (s *Store) Get(name string) (*storagev1.UserState, error) {
	var u *storagev1.UserState
	err := s.log.View(func(tx *wal.Tx) (err error) {
		u, err = getUser(tx, name)
		return err
	})
	if err == nil && u == nil {
		err = noUser(name)
	}
	return u, err
}

// Owner returns the user who owns an account, or "" if no user does.
func (s *Store) Owner(account string) (string, error) {
	var owner string
	err := s.log.View(func(tx *wal.Tx) error {
		b, err := tx.Bucket(OwnersBucket)
		if b != nil {
			owner = string(b.Get([]byte(account)))
		}
		return err
	})
	return owner, err
}

// Empty reports whether there is no user at all.
func (s *Store) Empty() (bool, error) {
	empty := true
	err := s.log.View(func(tx *wal.Tx) error {
		b, err := tx.Bucket(UsersBucket)
		if b != nil {
			k, _ := b.Cursor().First()
			empty = k == nil
		}
		return err
	})
	return empty, err
}

// Register adds users, all in one transaction or none: ErrUserExists if a
// username is taken, ErrAccountTaken if an account belongs to another user,
// ErrInvalid if a user breaks the invariants of checkUser.
func (s *Store) Register(users ...*storagev1.UserState) error {
	for _, u := range users {
		if err := checkUser(u); err != nil {
			return err
		}
	}
	err := s.log.Append(func(tx *wal.Tx) error {
		for _, u := range users {
			old, err := getUser(tx, u.GetUsername())
			if err != nil {
				return err
			}
			if old != nil {
				return fmt.Errorf("%w: %q", ErrUserExists, u.GetUsername())
			}
			if err := putUser(tx, TypeUserRegistered, nil, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.tracked(users...)
	}
	return err
}

// Update applies change to a copy of the stored user and stores the result
// if it differs, returning the user as stored. change runs inside the log's
// transaction, possibly more than once: it must only edit the user it is
// given. Accounts it adds must not belong to another user
// (ErrAccountTaken); the result must pass checkUser. A change of password,
// role or lock moves the user's credential version on, which revokes every
// token issued before (change must not set the version itself).
func (s *Store) Update(name string, change func(*storagev1.UserState) error) (*storagev1.UserState, error) {
	var out *storagev1.UserState
	err := s.log.Append(func(tx *wal.Tx) error {
		old, err := getUser(tx, name)
		if err != nil {
			return err
		}
		if old == nil {
			return noUser(name)
		}
		u := proto.CloneOf(old)
		if err := change(u); err != nil {
			return err
		}
		if err := checkUser(u); err != nil {
			return err
		}
		if u.GetUsername() != name {
			return fmt.Errorf("%w: a user cannot be renamed", ErrInvalid)
		}
		out = u
		if proto.Equal(old, u) {
			return nil
		}
		if credentialsChanged(old, u) {
			u.CredentialVersion = old.GetCredentialVersion() + 1
		}
		return putUser(tx, TypeUserUpdated, old, u)
	})
	if err == nil {
		s.tracked(out)
	}
	return out, err
}

// credentialsChanged reports whether a change from old to u changes what a
// token of the user stands for: the password that proved it, the role it
// carries, or the lock.
func credentialsChanged(old, u *storagev1.UserState) bool {
	return !bytes.Equal(old.GetPasswordHash(), u.GetPasswordHash()) || old.GetRole() != u.GetRole() ||
		old.GetLocked() != u.GetLocked() || old.GetCredentialVersion() != u.GetCredentialVersion()
}

func getUser(tx *wal.Tx, name string) (*storagev1.UserState, error) {
	b, err := tx.Bucket(UsersBucket)
	if err != nil || b == nil {
		return nil, err
	}
	v := b.Get([]byte(name))
	if v == nil {
		return nil, nil
	}
	u := &storagev1.UserState{}
	if err := proto.Unmarshal(v, u); err != nil {
		return nil, fmt.Errorf("users: user %q: %w", name, err)
	}
	return u, nil
}

// putUser appends the record of a change from old (nil for a new user) to
// u and updates the projection: the user, and an owner entry for each
// account u gained.
func putUser(tx *wal.Tx, typ wal.Type, old, u *storagev1.UserState) error {
	return putRecord(tx, typ, u, func(v []byte) error {
		users, err := tx.Bucket(UsersBucket)
		if err != nil {
			return err
		}
		if err := users.Put([]byte(u.GetUsername()), v); err != nil {
			return err
		}
		return claimAccounts(tx, u.GetUsername(), newAccounts(old, u))
	})
}

// newAccounts returns the accounts of u that old does not have.
func newAccounts(old, u *storagev1.UserState) []string {
	var out []string
	for _, a := range u.GetAccounts() {
		if !slices.Contains(old.GetAccounts(), a) {
			out = append(out, a)
		}
	}
	return out
}

// claimAccounts records user as the owner of accounts, none of which may
// belong to anyone else.
func claimAccounts(tx *wal.Tx, user string, accounts []string) error {
	owners, err := tx.Bucket(OwnersBucket)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		if o := owners.Get([]byte(a)); o != nil && string(o) != user {
			return fmt.Errorf("%w: %s", ErrAccountTaken, a)
		}
		if err := owners.Put([]byte(a), []byte(user)); err != nil {
			return err
		}
	}
	return nil
}
