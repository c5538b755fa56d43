package auth

import (
	"container/list"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrThrottled is wrapped by every *ThrottledError.
var ErrThrottled = errors.New("too many failed logins")

// ThrottledError refuses a login attempt without checking its password:
// the user or certificate failed too often, too recently.
type ThrottledError struct {
	// RetryAt is the earliest time the next attempt will be checked.
	RetryAt time.Time
	// Wait is RetryAt less the time of the refusal, rounded up to a second.
	Wait time.Duration
}

// Error is the same text for a known and an unknown user: it names
// neither, and says only when to try again.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v: try again in %v (at %s)", ErrThrottled, e.Wait, e.RetryAt.UTC().Format(time.RFC3339))
}

func (e *ThrottledError) Unwrap() error { return ErrThrottled }

// ThrottleConfig is the policy of a Throttle. Zero fields take the
// defaults of DefaultUserThrottle.
type ThrottleConfig struct {
	// Free is how many failures in a row cost no delay.
	Free int
	// Delay is the wait after the Free-th failure; it doubles with each
	// further one, up to MaxDelay.
	Delay, MaxDelay time.Duration
	// LockAfter failures lock the key for LockFor after the last one.
	// A key with no failure for LockFor is forgotten: a lock ends, and so
	// does an old run of failures.
	LockAfter int
	LockFor   time.Duration
	// MaxKeys bounds the keys remembered; past it, the key whose last
	// failure is the oldest is forgotten.
	MaxKeys int
	// Now is the clock (nil: time.Now); tests pass their own.
	Now func() time.Time
}

// The default policies of the gateway. A user gets 3 free failures, then
// waits 1s, 2s, 4s… (at most a minute) between attempts, and is locked for
// 15 minutes at the 10th failure: about 10 guesses per 17 minutes. A
// certificate, which may be an admin tool shared by people who mistype,
// gets 10 free failures and is locked at the 30th.
var (
	DefaultUserThrottle = ThrottleConfig{Free: 3, Delay: time.Second, MaxDelay: time.Minute, LockAfter: 10, LockFor: 15 * time.Minute, MaxKeys: 100_000}
	DefaultCertThrottle = ThrottleConfig{Free: 10, Delay: time.Second, MaxDelay: time.Minute, LockAfter: 30, LockFor: 15 * time.Minute, MaxKeys: 10_000}
)

// WithDefaults returns c with each zero field taken from def.
func (c ThrottleConfig) WithDefaults(def ThrottleConfig) ThrottleConfig {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	set(&c.Free, def.Free)
	set(&c.LockAfter, def.LockAfter)
	set(&c.MaxKeys, def.MaxKeys)
	setD(&c.Delay, def.Delay)
	setD(&c.MaxDelay, def.MaxDelay)
	setD(&c.LockFor, def.LockFor)
	if c.Now == nil {
		c.Now = def.Now
	}
	return c
}

// Validate rejects a policy that could not throttle anything.
func (c ThrottleConfig) Validate() error {
	switch {
	case c.Free < 0 || c.LockAfter < 0 || c.MaxKeys < 0:
		return errors.New("auth: throttle counts must not be negative")
	case c.Delay < 0 || c.MaxDelay < 0 || c.LockFor < 0:
		return errors.New("auth: throttle durations must not be negative")
	case c.LockAfter != 0 && c.LockAfter < c.Free:
		return errors.New("auth: throttle locks before its free failures are spent")
	}
	return nil
}

// Throttle counts failed logins by key (a username as given, or a client
// certificate; see UserKey and CertKey) and says when the next attempt may
// be checked. It is an in-memory, bounded LRU, safe for concurrent use. A
// key is created only by a failure, so refusals and successes cost no
// memory; an attacker spraying names fills at most MaxKeys entries, and
// the per-certificate throttle limits how fast one certificate can spray.
type Throttle struct {
	cfg ThrottleConfig

	mu    sync.Mutex
	keys  map[string]*list.Element // of *failures
	order *list.List               // most recent failure first
}

type failures struct {
	key   string
	count int
	last  time.Time
}

// NewThrottle returns a Throttle with policy cfg (zero fields: the
// defaults of DefaultUserThrottle).
func NewThrottle(cfg ThrottleConfig) (*Throttle, error) {
	cfg = cfg.WithDefaults(DefaultUserThrottle)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Throttle{cfg: cfg, keys: map[string]*list.Element{}, order: list.New()}, nil
}

// UserKey is the throttle key of a username exactly as given, known or
// not (so an unknown user is throttled like a known one), cut to a bound.
func UserKey(name string) string {
	const max = 64
	if len(name) > max {
		name = name[:max]
	}
	return "user:" + name
}

// CertKey is the throttle key of a client certificate: its serial number,
// unique under the one CA.
func CertKey(cert *x509.Certificate) string {
	return "cert:" + cert.SerialNumber.Text(16)
}

// Allow returns nil if an attempt under key may be checked now, or a
// *ThrottledError saying when it may.
func (t *Throttle) Allow(key string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	f := t.get(key, now)
	if f == nil {
		return nil
	}
	if at := t.blockedUntil(f); now.Before(at) {
		return &ThrottledError{RetryAt: at, Wait: (at.Sub(now) + time.Second - 1).Truncate(time.Second)}
	}
	return nil
}

// Failed counts a failed attempt under key.
func (t *Throttle) Failed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	f := t.get(key, now)
	if f == nil {
		if t.order.Len() >= t.cfg.MaxKeys {
			delete(t.keys, t.order.Remove(t.order.Back()).(*failures).key)
		}
		f = &failures{key: key}
		t.keys[key] = t.order.PushFront(f)
	}
	f.count++
	f.last = now
	t.order.MoveToFront(t.keys[key])
}

// Forget drops key's failures: the user just proved their password.
func (t *Throttle) Forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.keys[key]; ok {
		t.order.Remove(e)
		delete(t.keys, key)
	}
}

// Len is the number of keys remembered.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}

// get returns key's failures, or nil if there are none or they are older
// than LockFor (then they are forgotten).
func (t *Throttle) get(key string, now time.Time) *failures {
	e, ok := t.keys[key]
	if !ok {
		return nil
	}
	f := e.Value.(*failures)
	if now.Sub(f.last) >= t.cfg.LockFor {
		t.order.Remove(e)
		delete(t.keys, key)
		return nil
	}
	return f
}

// blockedUntil is when the next attempt after f may be checked.
func (t *Throttle) blockedUntil(f *failures) time.Time {
	c := t.cfg
	switch {
	case f.count >= c.LockAfter:
		return f.last.Add(c.LockFor)
	case f.count < c.Free:
		return f.last
	}
	delay := c.MaxDelay
	if shift := f.count - c.Free; shift < 30 {
		delay = min(c.Delay<<shift, c.MaxDelay)
	}
	return f.last.Add(delay)
}
