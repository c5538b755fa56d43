package auth

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"
)

// DefaultTokenCacheSize is the bound of a TokenCache made with max 0: one
// entry per client program logged in at once, for ten thousand of them.
const DefaultTokenCacheSize = 10_000

// TokenCache is a Signer's Verify that remembers the tokens it accepted, so
// that a client program presenting the same token call after call pays for
// parsing the JWT and checking its HMAC once, not on every call.
//
// It answers exactly as the Signer would. That is safe because:
//   - a token is immutable and signed: the same string always carries the
//     same claims, and only strings the Signer accepted are remembered;
//   - an entry is keyed by the token and the SHA-256 of the certificate it
//     was presented over, so the same token over another certificate misses
//     and the Signer refuses it with ErrWrongCertificate;
//   - the only other thing the Signer's answer depends on is the time, and
//     an entry is used only within the token's own validity (from iat and
//     nbf, until exp, on the Signer's clock): at or after exp it misses and
//     the Signer refuses the token;
//   - a refusal is never remembered, so every refusal goes through the
//     Signer and comes back with its reason.
//
// The lookup compares token strings in time that is not constant. That
// leaks nothing useful: a token is worth something only over the
// certificate it was issued over, that is with its private key.
//
// Revocation: what the cache remembers is only what never changes, the
// Signer's verdict on the token's signature, claims and certificate. A
// cache made with Revocations checks them on every call, hit or miss,
// after that verdict: a token whose user's credential version moved on
// (password, role, lock) or whose ID is on the deny list (logout) is
// refused with ErrRevoked the first call after the revocation, so no
// cached entry outlives it. The check reads two maps in memory under a
// read lock: no disk read on the hot path. (Dropping entries when a
// revocation happens would not do: the next call would miss, the Signer,
// which knows nothing of revocation, would accept the token again, and it
// would be remembered again.)
//
// A TokenCache holds at most its bound of entries. When it is full, a new
// entry first makes it drop the expired ones and then, if more than half
// the bound are left, arbitrary ones down to half: a dropped token that is
// still valid costs one more full check. It is safe for concurrent use; a
// hit takes a read lock.
type TokenCache struct {
	signer  *Signer
	revoked *Revocations // nil: no revocation
	max     int

	mu      sync.RWMutex
	entries map[tokenKey]tokenEntry
}

// tokenKey is a token as presented over a certificate with SHA-256 cert.
type tokenKey struct {
	token string
	cert  [sha256.Size]byte
}

// tokenEntry is what the Signer said of a token, valid at times in
// [from, until).
type tokenEntry struct {
	token       Token
	from, until time.Time
}

func (e tokenEntry) validAt(t time.Time) bool {
	return !t.Before(e.from) && t.Before(e.until)
}

// NewTokenCache returns an empty cache in front of s holding at most max
// entries; max 0 or less means DefaultTokenCacheSize. With r not nil, every
// token the Signer accepts is also checked against r (see Revocations).
func NewTokenCache(s *Signer, r *Revocations, max int) *TokenCache {
	if max <= 0 {
		max = DefaultTokenCacheSize
	}
	return &TokenCache{signer: s, revoked: r, max: max, entries: make(map[tokenKey]tokenEntry)}
}

// Verify is the Signer's Verify followed by the Revocations' Check: it
// returns what the token says, or the error of either, for a token
// presented over a connection whose client certificate is cert.
func (c *TokenCache) Verify(token string, cert *x509.Certificate) (Token, error) {
	t, err := c.verify(token, cert)
	if err == nil && c.revoked != nil {
		err = c.revoked.Check(t)
	}
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

// verify is the Signer's Verify, remembered.
func (c *TokenCache) verify(token string, cert *x509.Certificate) (Token, error) {
	key := tokenKey{token: token, cert: sha256.Sum256(cert.Raw)}
	now := c.signer.now()
	c.mu.RLock()
	e, cached := c.entries[key]
	c.mu.RUnlock()
	if cached && e.validAt(now) {
		return e.token, nil
	}
	claims, err := c.signer.verify(token, key.cert)
	if err != nil {
		if cached {
			c.drop(key)
		}
		return Token{}, err
	}
	e = tokenEntry{token: claims.token(token)}
	e.from, e.until = claims.validity()
	c.put(key, e, now)
	return e.token, nil
}

func (c *TokenCache) put(key tokenKey, e tokenEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.makeRoom(now)
	}
	c.entries[key] = e
}

// makeRoom drops the entries expired at now and then, if more than half the
// bound are left, arbitrary ones (in map order) down to half. Halving makes
// the scan happen at most once per max/2 new entries. c.mu is held.
func (c *TokenCache) makeRoom(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.until) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) <= c.max/2 {
			return
		}
		delete(c.entries, k)
	}
}

func (c *TokenCache) drop(key tokenKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}
