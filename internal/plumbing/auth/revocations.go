package auth

import (
	"fmt"
	"sync"
	"time"
)

// Revocations is what takes tokens back before they expire, held in memory
// so that checking a token costs no disk read: the owner (the gateway's
// user store) loads it at start from its durable state and updates it
// after each durable change.
//
//   - Each user has a credential version, moved on by every change of
//     password, role or lock. A token names the version it was issued
//     under (the "ver" claim) and is refused once the user's differs.
//   - A locked user's tokens are refused, whatever their version.
//   - The deny list holds the IDs of tokens revoked one by one (logout),
//     each until the token would have expired: after that its expiry
//     refuses it anyway, and Prune drops the entry.
//
// A token of a user it does not know is refused: users are never deleted,
// so that is a token of a user not loaded yet, or of another gateway's.
//
// Every change closes the channel Changed returned before it, so that a
// stream opened with a token can end as soon as the token is revoked. It
// is safe for concurrent use; Check takes a read lock.
type Revocations struct {
	mu      sync.RWMutex
	users   map[string]credential
	denied  map[string]time.Time // token ID -> the token's expiry
	changed chan struct{}
}

type credential struct {
	version uint64
	locked  bool
}

// NewRevocations returns revocations that know no user and deny no token.
func NewRevocations() *Revocations {
	return &Revocations{users: map[string]credential{}, denied: map[string]time.Time{}, changed: make(chan struct{})}
}

// SetUser records a user's credential version and lock.
func (r *Revocations) SetUser(name string, version uint64, locked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, known := r.users[name]; known && c == (credential{version, locked}) {
		return
	}
	r.users[name] = credential{version, locked}
	r.notify()
}

// Deny adds a token ID to the deny list until expires.
func (r *Revocations) Deny(id string, expires time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.denied[id] = expires
	r.notify()
}

// Prune drops the deny list's entries of tokens expired at now. It changes
// no answer of Check for a token checked at now or later.
func (r *Revocations) Prune(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, exp := range r.denied {
		if !now.Before(exp) {
			delete(r.denied, id)
		}
	}
}

// Denied is the number of token IDs on the deny list.
func (r *Revocations) Denied() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.denied)
}

// Check returns an error wrapping ErrRevoked if t was revoked: its user is
// unknown or locked, their credential version is not t's, or t's ID is on
// the deny list. It does not check the expiry (the Signer does).
func (r *Revocations) Check(t Token) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, known := r.users[t.User]
	switch {
	case !known:
		return fmt.Errorf("%w: no user %q", ErrRevoked, t.User)
	case c.locked:
		return fmt.Errorf("%w: %w: %q", ErrRevoked, ErrUserLocked, t.User)
	case c.version != t.Version:
		return fmt.Errorf("%w: the credentials of %q changed (version %d, token's %d)", ErrRevoked, t.User, c.version, t.Version)
	}
	if _, denied := r.denied[t.ID]; denied {
		return fmt.Errorf("%w: logged out", ErrRevoked)
	}
	return nil
}

// Changed returns a channel closed at the next change (SetUser that
// changes something, Deny): check again then.
func (r *Revocations) Changed() <-chan struct{} {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.changed
}

// notify closes the current Changed channel. r.mu is held.
func (r *Revocations) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}
