package auth_test

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/auth"
)

func clientCert(t testing.TB, name string) *x509.Certificate {
	ca, err := certs.NewCA("test-ca", time.Hour)
	require.NoError(t, err)
	id, err := ca.Issue(certs.Request{Role: certs.RoleClient, Name: name})
	require.NoError(t, err)
	return id.Leaf
}

func newKey(t *testing.T) []byte {
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return key
}

func TestPasswords(t *testing.T) {
	h, err := auth.NewHasher(bcrypt.MinCost)
	require.NoError(t, err)
	hash, err := h.Hash("correct horse")
	require.NoError(t, err)
	require.NotContains(t, string(hash), "correct horse")
	require.True(t, h.Check(hash, "correct horse"))
	require.False(t, h.Check(hash, "correct horsE"))
	require.False(t, h.Check(nil, "correct horse"), "unknown user")

	for _, weak := range []string{"", "short", strings.Repeat("x", 73)} {
		_, err := h.Hash(weak)
		require.ErrorIs(t, err, auth.ErrWeakPassword)
	}
	// A new password is free text; the error names no character of it.
	for _, odd := range []string{"correct\thorse", "correct horse\n", "\x1b[2Jcorrect horse", "correct\u202Ehorse"} {
		_, err := h.Hash(odd)
		require.ErrorIs(t, err, auth.ErrPasswordText, "%q", odd)
		require.NotContains(t, err.Error(), "U+")
	}
	_, err = auth.NewHasher(99)
	require.Error(t, err)
}

// A token forged by hand: header and claims as given, signed (or not) as
// the attacker likes.
func forge(t *testing.T, header, claims map[string]any, sign func(signingInput string) string) string {
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	return input + "." + sign(input)
}

func TestTokens(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key := newKey(t)
	signer, err := auth.NewSigner(key, 0, clock)
	require.NoError(t, err)
	certA, certB := clientCert(t, "alice-laptop"), clientCert(t, "mallory-laptop")

	token, exp, err := signer.Issue("alice", auth.RoleCustomer, 0, certA)
	require.NoError(t, err)
	require.Equal(t, now.Add(15*time.Minute), exp)

	got, err := signer.Verify(token, certA)
	user, role := got.User, got.Role
	require.NoError(t, err)
	require.Equal(t, [2]string{"alice", auth.RoleCustomer}, [2]string{user, role})

	parts := strings.Split(token, ".")
	var claims map[string]any
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(payload, &claims))
	require.Equal(t, auth.Thumbprint(certA), claims["cnf"].(map[string]any)["x5t#S256"], "RFC 8705 confirmation claim")

	otherKey, err := auth.NewSigner(newKey(t), 0, clock)
	require.NoError(t, err)
	foreign, _, err := otherKey.Issue("alice", auth.RoleAdmin, 0, certA)
	require.NoError(t, err)
	later, err := auth.NewSigner(key, 0, func() time.Time { return now.Add(16 * time.Minute) })
	require.NoError(t, err)

	escalated := map[string]any{}
	for k, v := range claims {
		escalated[k] = v
	}
	escalated["role"] = auth.RoleAdmin
	hmac := func(input string) string {
		s, err := jwt.SigningMethodHS256.Sign(input, key)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(s)
	}

	cases := []struct {
		name   string
		verify func() error
		want   error
	}{
		{"presented over another certificate", func() error { _, err := signer.Verify(token, certB); return err }, auth.ErrWrongCertificate},
		{"expired", func() error { _, err := later.Verify(token, certA); return err }, auth.ErrBadToken},
		{"signed with another key", func() error { _, err := signer.Verify(foreign, certA); return err }, auth.ErrBadToken},
		{"payload tampered", func() error {
			tampered := forge(t, map[string]any{"alg": "HS256", "typ": "JWT"}, escalated, func(string) string { return parts[2] })
			_, err := signer.Verify(tampered, certA)
			return err
		}, auth.ErrBadToken},
		{"alg none", func() error {
			none := forge(t, map[string]any{"alg": "none", "typ": "JWT"}, escalated, func(string) string { return "" })
			_, err := signer.Verify(none, certA)
			return err
		}, auth.ErrBadToken},
		{"HS512 with the right key", func() error {
			other := forge(t, map[string]any{"alg": "HS512", "typ": "JWT"}, claims, func(input string) string {
				s, err := jwt.SigningMethodHS512.Sign(input, key)
				require.NoError(t, err)
				return base64.RawURLEncoding.EncodeToString(s)
			})
			_, err := signer.Verify(other, certA)
			return err
		}, auth.ErrBadToken},
		{"no expiry", func() error {
			noExp := map[string]any{"sub": "alice", "role": "admin", "iss": "strife", "cnf": claims["cnf"]}
			_, err := signer.Verify(forge(t, map[string]any{"alg": "HS256", "typ": "JWT"}, noExp, hmac), certA)
			return err
		}, auth.ErrBadToken},
		{"unknown role", func() error {
			bad := map[string]any{}
			for k, v := range claims {
				bad[k] = v
			}
			bad["role"] = "root"
			_, err := signer.Verify(forge(t, map[string]any{"alg": "HS256", "typ": "JWT"}, bad, hmac), certA)
			return err
		}, auth.ErrBadToken},
		{"garbage", func() error { _, err := signer.Verify("not.a.token", certA); return err }, auth.ErrBadToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.verify(), tc.want)
		})
	}
}

func TestSignerNeedsALongKey(t *testing.T) {
	_, err := auth.NewSigner(make([]byte, 31), 0, nil)
	require.Error(t, err)
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token.key")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("ab", 32)+"\n"), 0o600))
	key, err := auth.LoadKey(path)
	require.NoError(t, err)
	require.Len(t, key, 32)
	require.NoError(t, os.WriteFile(path, []byte("zz"), 0o600))
	_, err = auth.LoadKey(path)
	require.ErrorContains(t, err, "not hex")
}

// The two benchmarks show that an unknown user costs as much as a wrong
// password (one bcrypt comparison each):
//
//	go test -run '^$' -bench Check ./internal/auth/
func BenchmarkCheckWrongPassword(b *testing.B) {
	h, _ := auth.NewHasher(0)
	hash, _ := h.Hash("correct horse")
	for b.Loop() {
		h.Check(hash, "wrong horse!")
	}
}

func BenchmarkCheckUnknownUser(b *testing.B) {
	h, _ := auth.NewHasher(0)
	for b.Loop() {
		h.Check(nil, "wrong horse!")
	}
}
