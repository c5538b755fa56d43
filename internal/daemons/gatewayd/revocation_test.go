package gatewayd_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/auth"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// A logout is durable: the token stays refused after the gateway restarts,
// and logging in again gives a token that works.
func TestLogoutSurvivesARestart(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	token := bearerOf(t, alice)
	_, err := alice.Logout(alice.ctx, &strifev1.LogoutRequest{})
	require.NoError(t, err)
	_, err = alice.GetBalance(alice.ctx, &strifev1.GetBalanceRequest{})
	requireCode(t, codes.Unauthenticated, err, "right after logout")

	e.restart(t)
	c := e.client(t, certs.RoleClient, "alice-laptop")
	_, err = c.GetBalance(withToken(t, token), &strifev1.GetBalanceRequest{})
	requireCode(t, codes.Unauthenticated, err, "after a restart")
	again := e.login(t, "alice", alicePassword)
	_, err = again.GetBalance(again.ctx, &strifev1.GetBalanceRequest{})
	require.NoError(t, err, "a new login")
}

// The deny list keeps a token only until it would have expired: the next
// logout prunes it, and so does a start.
func TestDenyListPrunedAfterExpiry(t *testing.T) {
	e := newEnv(t)
	e.cfg.TokenLifetime = 2 * time.Second
	e.restart(t)

	first := logout(t, e)
	require.Equal(t, []string{first.GetTokenId()}, revoked(t, e), "a logout is stored")
	waitPast(t, first.GetExpiresUnixNano())
	second := logout(t, e)
	require.Equal(t, []string{second.GetTokenId()}, revoked(t, e), "the next logout prunes the expired entry")

	waitPast(t, second.GetExpiresUnixNano())
	e.restart(t)
	require.Empty(t, revoked(t, e), "a start prunes the expired entry")
}

// logout logs alice in and out, and returns her entry in the deny list.
func logout(t *testing.T, e *env) *storagev1.TokenRevoked {
	alice := e.login(t, "alice", alicePassword)
	before := map[string]bool{}
	for _, id := range revoked(t, e) {
		before[id] = true
	}
	_, err := alice.Logout(alice.ctx, &strifev1.LogoutRequest{})
	require.NoError(t, err)
	for _, r := range revokedEntries(t, e) {
		if !before[r.GetTokenId()] {
			require.Equal(t, "alice", r.GetUsername())
			return r
		}
	}
	require.FailNow(t, "the logout stored nothing")
	return nil
}

// revoked returns the token IDs of the gateway's deny list, as stored.
func revoked(t *testing.T, e *env) []string {
	var ids []string
	for _, r := range revokedEntries(t, e) {
		ids = append(ids, r.GetTokenId())
	}
	return ids
}

func revokedEntries(t *testing.T, e *env) []*storagev1.TokenRevoked {
	entries, err := e.gw.Users().Revoked()
	require.NoError(t, err)
	return entries
}

// waitPast sleeps until the clock is past a time in unix nanoseconds.
func waitPast(t *testing.T, unixNano int64) {
	for deadline := time.Now().Add(10 * time.Second); !time.Now().After(time.Unix(0, unixNano)); {
		require.True(t, time.Now().Before(deadline), "the clock does not move")
		time.Sleep(50 * time.Millisecond)
	}
}

// A locked user cannot log in, even with the right password; unlocked,
// they can. The lock is in the user record the admin gets back.
func TestLockedUserCannotLogIn(t *testing.T) {
	e := newEnv(t)
	admin := e.login(t, "admin", adminPassword)
	c := e.client(t, certs.RoleClient, "carol-laptop")
	login := func() error {
		_, err := c.Login(t.Context(), &strifev1.LoginRequest{Username: "carol", Password: carolPassword})
		return err
	}
	resp, err := admin.LockUser(admin.ctx, &strifev1.LockUserRequest{Username: "carol", Locked: true})
	require.NoError(t, err)
	require.True(t, resp.GetUser().GetLocked())
	requireCode(t, codes.PermissionDenied, login(), "locked")
	_, err = c.Login(t.Context(), &strifev1.LoginRequest{Username: "carol", Password: "wrong password"})
	requireCode(t, codes.Unauthenticated, err, "a wrong password does not learn of the lock")

	_, err = admin.LockUser(admin.ctx, &strifev1.LockUserRequest{Username: "carol"})
	require.NoError(t, err)
	require.NoError(t, login(), "unlocked")

	_, err = admin.LockUser(admin.ctx, &strifev1.LockUserRequest{Username: "admin", Locked: true})
	requireCode(t, codes.PermissionDenied, err, "an admin locking themself")
	carol := e.login(t, "carol", carolPassword)
	_, err = carol.LockUser(carol.ctx, &strifev1.LockUserRequest{Username: "bob", Locked: true})
	requireCode(t, codes.PermissionDenied, err, "a customer locking someone")

	lines := e.logs.calls(t, "LockUser")
	require.Equal(t, "carol", lines[0]["target"], "the audit line names the locked user: %v", lines[0])
}

// A token issued before revocation existed (no jti, no ver claim) still
// works for a user stored before it (credential version 0), until a
// change; and it can be logged out, by the digest of the token.
func TestTokenWithoutIDOrVersion(t *testing.T) {
	e := newEnv(t)
	w := &attackWorld{e: e}
	var err error
	w.key, err = auth.LoadKey(e.cfg.TokenKeyFile)
	require.NoError(t, err)
	alice := e.login(t, "alice", alicePassword)
	w.aliceCert = certOf(t, e, "alice-laptop")
	old, err := jwt.NewWithClaims(jwt.SigningMethodHS256, w.claims("alice", auth.RoleCustomer, time.Now())).SignedString(w.key)
	require.NoError(t, err)

	ctx := withToken(t, old)
	_, err = alice.GetBalance(ctx, &strifev1.GetBalanceRequest{})
	require.NoError(t, err, "an old token of an old user")
	_, err = alice.Logout(ctx, &strifev1.LogoutRequest{})
	require.NoError(t, err)
	_, err = alice.GetBalance(ctx, &strifev1.GetBalanceRequest{})
	requireCode(t, codes.Unauthenticated, err, "an old token logged out")
	ids := revoked(t, e)
	require.Len(t, ids, 1)
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, ids[0], "named by its digest, not stored")
}

// withToken is a context that carries token.
func withToken(t *testing.T, token string) context.Context {
	return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
}

// certOf returns the certificate of a client program.
func certOf(t *testing.T, e *env, name string) *x509.Certificate {
	files := e.pki.Files(t, certs.RoleClient, name)
	pair, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	require.NoError(t, err)
	return pair.Leaf
}
