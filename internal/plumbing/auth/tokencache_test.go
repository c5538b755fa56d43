package auth_test

import (
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/plumbing/auth"
)

// cacheWorld is a Signer with a clock the test moves, a cache in front of
// it, and two client certificates.
type cacheWorld struct {
	now          time.Time
	signer       *auth.Signer
	cache        *auth.TokenCache
	certA, certB *x509.Certificate
}

func newCacheWorld(t *testing.T, max int) *cacheWorld {
	w := &cacheWorld{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	var err error
	w.signer, err = auth.NewSigner(newKey(t), 0, func() time.Time { return w.now })
	require.NoError(t, err)
	w.cache = auth.NewTokenCache(w.signer, nil, max)
	w.certA, w.certB = clientCert(t, "alice-laptop"), clientCert(t, "mallory-laptop")
	return w
}

func (w *cacheWorld) issue(t *testing.T, user, role string, cert *x509.Certificate) (string, time.Time) {
	token, exp, err := w.signer.Issue(user, role, 0, cert)
	require.NoError(t, err)
	return token, exp
}

func TestTokenCacheAnswersAsTheSigner(t *testing.T) {
	w := newCacheWorld(t, 0)
	for _, who := range [][2]string{{"alice", auth.RoleCustomer}, {"root", auth.RoleAdmin}} {
		token, _ := w.issue(t, who[0], who[1], w.certA)
		for range 3 {
			got, err := w.cache.Verify(token, w.certA)
			user, role := got.User, got.Role
			require.NoError(t, err)
			require.Equal(t, who, [2]string{user, role})
		}
	}
	require.Equal(t, 2, w.cache.Len(), "one entry per token, whatever the number of calls")
}

// A hit does not ask the Signer. Behind the cache, a Signer of another key
// refuses the token; the cache still accepts it, until its expiry, over
// the certificate it was accepted over. A miss goes to the new Signer.
func TestTokenCacheHitSkipsTheSigner(t *testing.T) {
	w := newCacheWorld(t, 0)
	token, exp := w.issue(t, "alice", auth.RoleCustomer, w.certA)
	_, err := w.cache.Verify(token, w.certA)
	require.NoError(t, err)
	other, err := auth.NewSigner(newKey(t), 0, func() time.Time { return w.now })
	require.NoError(t, err)
	_, err = other.Verify(token, w.certA)
	require.ErrorIs(t, err, auth.ErrBadToken)
	w.cache.SetSigner(other)

	w.now = exp.Add(-time.Second)
	got, err := w.cache.Verify(token, w.certA)
	user, role := got.User, got.Role
	require.NoError(t, err, "a hit")
	require.Equal(t, [2]string{"alice", auth.RoleCustomer}, [2]string{user, role})
	_, err = w.cache.Verify(token, w.certB)
	require.ErrorIs(t, err, auth.ErrBadToken, "a miss, over another certificate")
	w.now = exp
	_, err = w.cache.Verify(token, w.certA)
	require.ErrorIs(t, err, auth.ErrBadToken, "a miss, at its expiry")
}

func TestTokenCacheRefuses(t *testing.T) {
	cases := []struct {
		name string
		// setup presents tokens to w.cache and returns a call that must be
		// refused with want, every time.
		setup func(t *testing.T, w *cacheWorld) (refused func() error)
		want  error
	}{
		{"over another certificate after hits over the right one", func(t *testing.T, w *cacheWorld) func() error {
			token, _ := w.issue(t, "alice", auth.RoleCustomer, w.certA)
			verifyTwice(t, w, token, w.certA)
			return func() error { _, err := w.cache.Verify(token, w.certB); return err }
		}, auth.ErrWrongCertificate},
		{"at its expiry though cached", func(t *testing.T, w *cacheWorld) func() error {
			token, exp := w.issue(t, "alice", auth.RoleCustomer, w.certA)
			verifyTwice(t, w, token, w.certA)
			w.now = exp.Add(-time.Second)
			verifyTwice(t, w, token, w.certA)
			w.now = exp
			return func() error { _, err := w.cache.Verify(token, w.certA); return err }
		}, jwt.ErrTokenExpired},
		{"after its expiry though cached", func(t *testing.T, w *cacheWorld) func() error {
			token, exp := w.issue(t, "alice", auth.RoleCustomer, w.certA)
			verifyTwice(t, w, token, w.certA)
			w.now = exp.Add(time.Hour)
			return func() error { _, err := w.cache.Verify(token, w.certA); return err }
		}, jwt.ErrTokenExpired},
		{"before it was issued (clock set back) though cached", func(t *testing.T, w *cacheWorld) func() error {
			token, _ := w.issue(t, "alice", auth.RoleCustomer, w.certA)
			verifyTwice(t, w, token, w.certA)
			w.now = w.now.Add(-time.Minute)
			return func() error { _, err := w.cache.Verify(token, w.certA); return err }
		}, jwt.ErrTokenUsedBeforeIssued},
		{"signed with another key", func(t *testing.T, w *cacheWorld) func() error {
			other, err := auth.NewSigner(newKey(t), 0, func() time.Time { return w.now })
			require.NoError(t, err)
			token, _, err := other.Issue("alice", auth.RoleAdmin, 0, w.certA)
			require.NoError(t, err)
			return func() error { _, err := w.cache.Verify(token, w.certA); return err }
		}, auth.ErrBadToken},
		{"garbage", func(t *testing.T, w *cacheWorld) func() error {
			return func() error { _, err := w.cache.Verify("not.a.token", w.certA); return err }
		}, auth.ErrBadToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newCacheWorld(t, 0)
			refused := tc.setup(t, w)
			held := w.cache.Len()
			for range 3 {
				require.ErrorIs(t, refused(), tc.want)
				require.LessOrEqual(t, w.cache.Len(), held, "a refused token is not cached")
			}
		})
	}
}

// verifyTwice requires token to be accepted over cert by w.cache twice,
// so that the second answer is a hit.
func verifyTwice(t *testing.T, w *cacheWorld, token string, cert *x509.Certificate) {
	t.Helper()
	for range 2 {
		_, err := w.cache.Verify(token, cert)
		require.NoError(t, err)
	}
	require.Equal(t, 1, w.cache.Len())
}

func TestTokenCacheBound(t *testing.T) {
	t.Run("never more than the bound", func(t *testing.T) {
		w := newCacheWorld(t, 4)
		for i := range 50 {
			token, _ := w.issue(t, fmt.Sprintf("user%d", i), auth.RoleCustomer, w.certA)
			got, err := w.cache.Verify(token, w.certA)
			user, _ := got.User, got.Role
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("user%d", i), user)
			require.LessOrEqual(t, w.cache.Len(), 4)
		}
	})
	t.Run("expired entries go first", func(t *testing.T) {
		w := newCacheWorld(t, 4)
		var exp time.Time
		for i := range 4 {
			var token string
			token, exp = w.issue(t, fmt.Sprintf("user%d", i), auth.RoleCustomer, w.certA)
			_, err := w.cache.Verify(token, w.certA)
			require.NoError(t, err)
		}
		require.Equal(t, 4, w.cache.Len())
		w.now = exp
		token, _ := w.issue(t, "late", auth.RoleCustomer, w.certA)
		_, err := w.cache.Verify(token, w.certA)
		require.NoError(t, err)
		require.Equal(t, 1, w.cache.Len(), "the four expired entries dropped, the new one kept")
	})
	t.Run("default bound", func(t *testing.T) {
		w := newCacheWorld(t, 4)
		require.Equal(t, 4, w.cache.Bound())
		for _, max := range []int{0, -1} {
			require.Equal(t, auth.DefaultTokenCacheSize, auth.NewTokenCache(w.signer, nil, max).Bound(), "max %d", max)
		}
	})
}

// Callers share a cache too small for their tokens, so hits, misses,
// refusals and evictions race; run under -race. The callers use assert:
// require may not stop a test from another goroutine.
func TestTokenCacheConcurrent(t *testing.T) {
	w := newCacheWorld(t, 3)
	type presented struct {
		token      string
		cert       *x509.Certificate
		user, role string
		err        error
	}
	var calls []presented
	for i := range 6 {
		user := fmt.Sprintf("user%d", i)
		token, _ := w.issue(t, user, auth.RoleCustomer, w.certA)
		calls = append(calls,
			presented{token: token, cert: w.certA, user: user, role: auth.RoleCustomer},
			presented{token: token, cert: w.certB, err: auth.ErrWrongCertificate})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				c := calls[(g+i)%len(calls)]
				got, err := w.cache.Verify(c.token, c.cert)
				user, role := got.User, got.Role
				if c.err != nil {
					assert.ErrorIs(t, err, c.err)
					continue
				}
				assert.NoError(t, err)
				assert.Equal(t, [2]string{c.user, c.role}, [2]string{user, role})
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, w.cache.Len(), 3)
}

// BenchmarkVerify compares a hit, a miss (the full check plus an insertion
// and an eviction) and the Signer alone:
//
//	go test -run '^$' -bench Verify ./internal/auth/
func BenchmarkVerify(b *testing.B) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	signer, err := auth.NewSigner(make([]byte, 32), 0, func() time.Time { return now })
	require.NoError(b, err)
	ca := clientCert(b, "alice-laptop")
	tokens := make([]string, 2)
	for i := range tokens {
		tokens[i], _, err = signer.Issue(fmt.Sprintf("user%d", i), auth.RoleCustomer, 0, ca)
		require.NoError(b, err)
	}
	verify := func(b *testing.B, v interface {
		Verify(string, *x509.Certificate) (auth.Token, error)
	}, tokens []string) {
		i := 0
		for b.Loop() {
			if _, err := v.Verify(tokens[i%len(tokens)], ca); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.Run("signer", func(b *testing.B) { verify(b, signer, tokens[:1]) })
	b.Run("hit", func(b *testing.B) { verify(b, auth.NewTokenCache(signer, nil, 0), tokens[:1]) })
	// A cache of one entry and two tokens in turn: every call misses.
	b.Run("miss", func(b *testing.B) { verify(b, auth.NewTokenCache(signer, nil, 1), tokens) })
	b.Run("hit-parallel", func(b *testing.B) {
		cache := auth.NewTokenCache(signer, nil, 0)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cache.Verify(tokens[0], ca); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
