package gatewayd

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/auth"
	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// Projection buckets in the gateway's log file (see wal.Tx.Bucket):
//
//	users           username            -> UserState
//	account_owners  "<bank>/<number>"   -> username
//	revoked_tokens  token ID (jti)      -> TokenRevoked
//
// and known_banks (known.go), rebuilt with them.
const (
	usersBucket   = "users"
	ownersBucket  = "account_owners"
	revokedBucket = "revoked_tokens"
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

// SplitAccount splits an account address "<bank>/<number>" and checks both
// parts: the bank is a valid program name, the number a valid account
// number.
func SplitAccount(account string) (bank, number string, err error) {
	bank, number, ok := strings.Cut(account, "/")
	if !ok || certs.CheckName(bank) != nil || ledger.ValidNumber(number) != nil {
		return "", "", fmt.Errorf("%w: account %q is not <bank>/<number>", ErrInvalid, account)
	}
	return bank, number, nil
}

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

// Users is the gateway's user store, event-sourced in the gateway's log:
// every change is a USER_REGISTERED or USER_UPDATED record whose payload is
// the user after the change, written in the same transaction as the
// projection (the users and account_owners buckets). It is safe for
// concurrent use; changes are serialized by the log's committer, so the
// checks a change makes (a free username, a free account) hold when it is
// written.
//
// A store that Tracks an auth.Revocations keeps it up to date: each user's
// credential version and lock, and the deny list (see revocation.go).
type Users struct {
	log   *wal.Log
	creds *auth.Revocations // nil unless Track was called
}

// NewUsers returns the user store in log.
func NewUsers(log *wal.Log) *Users { return &Users{log: log} }

// Get returns a user, or an error wrapping ErrNoUser.
func (s *Users) Get(name string) (*storagev1.UserState, error) {
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
func (s *Users) Owner(account string) (string, error) {
	var owner string
	err := s.log.View(func(tx *wal.Tx) error {
		b, err := tx.Bucket(ownersBucket)
		if b != nil {
			owner = string(b.Get([]byte(account)))
		}
		return err
	})
	return owner, err
}

// Empty reports whether there is no user at all.
func (s *Users) Empty() (bool, error) {
	empty := true
	err := s.log.View(func(tx *wal.Tx) error {
		b, err := tx.Bucket(usersBucket)
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
func (s *Users) Register(users ...*storagev1.UserState) error {
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
			if err := putUser(tx, wal.TypeUserRegistered, nil, u); err != nil {
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
func (s *Users) Update(name string, change func(*storagev1.UserState) error) (*storagev1.UserState, error) {
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
		return putUser(tx, wal.TypeUserUpdated, old, u)
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
	b, err := tx.Bucket(usersBucket)
	if err != nil || b == nil {
		return nil, err
	}
	v := b.Get([]byte(name))
	if v == nil {
		return nil, nil
	}
	u := &storagev1.UserState{}
	if err := proto.Unmarshal(v, u); err != nil {
		return nil, fmt.Errorf("gatewayd: user %q: %w", name, err)
	}
	return u, nil
}

// putUser appends the record of a change from old (nil for a new user) to
// u and updates the projection: the user, and an owner entry for each
// account u gained.
func putUser(tx *wal.Tx, typ wal.Type, old, u *storagev1.UserState) error {
	return putRecord(tx, typ, u, func(v []byte) error {
		users, err := tx.Bucket(usersBucket)
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
	owners, err := tx.Bucket(ownersBucket)
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

// Verify rebuilds the projection from the log's user, token and known-bank
// records and compares it with the stored one: every user, owner entry,
// revoked token and known bank must match, with nothing missing and
// nothing extra. An error wraps
// ErrInconsistent (or the log's read error).
func (s *Users) Verify() error {
	return s.log.View(func(tx *wal.Tx) error {
		p, err := replayUsers(tx)
		if err != nil {
			return err
		}
		for _, name := range projectionBuckets {
			if err := compareBucket(tx, name, p[name]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Replay rebuilds the user store's buckets from its records alone, in one
// durable transaction; the records are not touched. A record that cannot
// be replayed stops it (ErrInconsistent) and the old buckets stay. The
// known banks of a log written before BANK_KNOWN records come out empty,
// and the gateway seeds them from the log at its next start.
func (s *Users) Replay() error {
	return s.log.Append(func(tx *wal.Tx) error {
		p, err := replayUsers(tx)
		if err != nil {
			return err
		}
		for _, name := range projectionBuckets {
			if err := rewriteBucket(tx, name, p[name]); err != nil {
				return err
			}
		}
		return nil
	})
}

// projectionBuckets are the user store's buckets, rebuilt from its records.
var projectionBuckets = []string{usersBucket, ownersBucket, revokedBucket, knownBanksBucket}

// replayUsers rebuilds the contents of the user store's buckets, by
// bucket name, from the log's records.
func replayUsers(tx *wal.Tx) (map[string]map[string][]byte, error) {
	p := map[string]map[string][]byte{}
	for _, name := range projectionBuckets {
		p[name] = map[string][]byte{}
	}
	err := tx.Scan(1, func(r wal.Record) error {
		if err := replayUser(p[usersBucket], p[ownersBucket], r); err != nil {
			return err
		}
		if err := replayKnownBank(p[knownBanksBucket], r); err != nil {
			return err
		}
		return replayRevocation(p[revokedBucket], r)
	})
	return p, err
}

func rewriteBucket(tx *wal.Tx, name string, contents map[string][]byte) error {
	if err := tx.DeleteBucket(name); err != nil {
		return err
	}
	b, err := tx.Bucket(name)
	if err != nil {
		return err
	}
	for k, v := range contents {
		if err := b.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// replayUser folds one record into a rebuilt projection; records of other
// types are not the user store's.
func replayUser(users, owners map[string][]byte, r wal.Record) error {
	if r.Type != wal.TypeUserRegistered && r.Type != wal.TypeUserUpdated {
		return nil
	}
	u := &storagev1.UserState{}
	if err := proto.Unmarshal(r.Payload, u); err != nil {
		return fmt.Errorf("%w: record %d: %w", ErrInconsistent, r.Seq, err)
	}
	if _, exists := users[u.GetUsername()]; exists == (r.Type == wal.TypeUserRegistered) {
		return fmt.Errorf("%w: record %d is %v for user %q", ErrInconsistent, r.Seq, r.Type, u.GetUsername())
	}
	users[u.GetUsername()] = r.Payload
	for _, a := range u.GetAccounts() {
		owners[a] = []byte(u.GetUsername())
	}
	return nil
}

func compareBucket(tx *wal.Tx, name string, want map[string][]byte) error {
	b, err := tx.Bucket(name)
	if err != nil {
		return err
	}
	n := 0
	if b != nil {
		n = b.Stats().KeyN
		for k, v := range want {
			if got := b.Get([]byte(k)); !bytes.Equal(got, v) {
				return fmt.Errorf("%w: %s[%q] is %q, the log says %q", ErrInconsistent, name, k, got, v)
			}
		}
	}
	if n != len(want) {
		return fmt.Errorf("%w: %s has %d keys, the log says %d", ErrInconsistent, name, n, len(want))
	}
	return nil
}
