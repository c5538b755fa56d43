package gatewayd_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/auth"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// TestLogsNeverContainSecrets captures every log line of a gateway and two
// banks, from start to stop, through a run that exercises every method,
// successes and failures, and checks that no password, login token or key
// is in them.
func TestLogsNeverContainSecrets(t *testing.T) {
	level := zerolog.GlobalLevel()
	zerolog.SetGlobalLevel(zerolog.TraceLevel) // every level
	t.Cleanup(func() { zerolog.SetGlobalLevel(level) })

	const (
		daveFirst  = "dave first secret"
		daveSecond = "dave second secret"
		mistyped   = "alice passwrod typo"
	)
	passwords := []string{adminPassword, alicePassword, daveFirst, daveSecond, mistyped, "eve password"}
	var tokens []string // every token Login returned, and one forged from them
	e := newEnv(t)
	login := func(user, password string) *session {
		s := e.login(t, user, password)
		tokens = append(tokens, bearerOf(t, s))
		return s
	}

	admin := login("admin", adminPassword)
	_, err := admin.RegisterClient(admin.ctx, &strifev1.RegisterClientRequest{
		Username: "dave", Password: daveFirst, Role: strifev1.UserRole_USER_ROLE_CUSTOMER, Account: "BankB/2002", OpeningBalance: 5000,
	})
	require.NoError(t, err)
	dave, alice := login("dave", daveFirst), login("alice", alicePassword)

	watch, err := dave.WatchPayments(dave.ctx, &strifev1.WatchPaymentsRequest{})
	require.NoError(t, err)
	_, err = watch.Header()
	require.NoError(t, err)

	id := ulid.Make()
	require.Equal(t, committed, dave.pay(t, toUser(id, "alice", 100)).GetStatus(), "across banks")
	require.Equal(t, committed, dave.pay(t, toUser(id, "alice", 100)).GetStatus(), "a retry")
	require.Equal(t, committed, dave.pay(t, toAccount(ulid.Make(), "BankB/2001", 50)).GetStatus(), "inside one bank")
	require.Equal(t, failed, dave.pay(t, toUser(ulid.Make(), "carol", 1_000_000)).GetStatus(), "refused: insufficient funds")
	require.Equal(t, committed, alice.pay(t, toUser(ulid.Make(), "dave", 70)).GetStatus(), "to dave")
	refused := toAccount(ulid.Make(), "BankA/1002", 1)
	refused.FromAccount = "BankA/1001"
	_, err = dave.Pay(dave.ctx, refused)
	requireCode(t, codes.PermissionDenied, err, "alice's account")
	for range 3 {
		_, err := watch.Recv()
		require.NoError(t, err)
	}

	_, err = dave.ListPayments(dave.ctx, &strifev1.ListPaymentsRequest{})
	require.NoError(t, err)
	_, err = admin.ListPayments(admin.ctx, &strifev1.ListPaymentsRequest{Username: "dave"})
	require.NoError(t, err)
	_, err = dave.GetPayment(dave.ctx, &strifev1.GetPaymentRequest{TransactionId: id.String()})
	require.NoError(t, err)
	_, err = dave.GetBalance(dave.ctx, &strifev1.GetBalanceRequest{})
	require.NoError(t, err)

	_, err = dave.UpdateClientDetails(dave.ctx, &strifev1.UpdateClientDetailsRequest{NewPassword: daveSecond, CurrentPassword: mistyped})
	requireCode(t, codes.Unauthenticated, err, "a wrong current password")
	_, err = dave.UpdateClientDetails(dave.ctx, &strifev1.UpdateClientDetailsRequest{NewPassword: daveSecond, CurrentPassword: daveFirst})
	require.NoError(t, err)
	dave = login("dave", daveSecond)
	_, err = dave.GetBalance(dave.ctx, &strifev1.GetBalanceRequest{})
	require.NoError(t, err)

	// Failures that carry secrets in the request: a wrong password, the
	// old one, a password typed as a username, a token over another
	// certificate and a tampered one.
	c := e.client(t, certs.RoleClient, "alice-laptop")
	for _, req := range []*strifev1.LoginRequest{
		{Username: "alice", Password: mistyped},
		{Username: "dave", Password: daveFirst},
		{Username: alicePassword, Password: alicePassword},
	} {
		_, err := c.Login(t.Context(), req)
		requireCode(t, codes.Unauthenticated, err)
	}
	stolen := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+bearerOf(t, dave))
	_, err = c.GetBalance(stolen, &strifev1.GetBalanceRequest{})
	requireCode(t, codes.Unauthenticated, err)
	tampered := tamper(t, bearerOf(t, alice), func(c map[string]any) { c["role"] = auth.RoleAdmin })
	forged := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tampered)
	_, err = c.RegisterClient(forged, &strifev1.RegisterClientRequest{Username: "eve", Password: "eve password", Role: strifev1.UserRole_USER_ROLE_ADMIN})
	requireCode(t, codes.Unauthenticated, err)
	tokens = append(tokens, tampered)

	// Revocation (issue 14): a lock ends alice's stream and refuses her
	// token and her right password; unlocked, she logs in again; a role
	// change; dave logs out and his token is replayed.
	aliceWatch, err := alice.WatchPayments(alice.ctx, &strifev1.WatchPaymentsRequest{})
	require.NoError(t, err)
	_, err = aliceWatch.Header()
	require.NoError(t, err)
	_, err = admin.LockUser(admin.ctx, &strifev1.LockUserRequest{Username: "alice", Locked: true})
	require.NoError(t, err)
	_, err = aliceWatch.Recv()
	requireCode(t, codes.Unauthenticated, err, "a stream of a locked user")
	_, err = alice.GetBalance(alice.ctx, &strifev1.GetBalanceRequest{})
	requireCode(t, codes.Unauthenticated, err, "a token of a locked user")
	_, err = c.Login(t.Context(), &strifev1.LoginRequest{Username: "alice", Password: alicePassword})
	requireCode(t, codes.PermissionDenied, err, "a locked user's right password")
	_, err = admin.LockUser(admin.ctx, &strifev1.LockUserRequest{Username: "alice"})
	require.NoError(t, err)
	login("alice", alicePassword)
	_, err = admin.UpdateClientDetails(admin.ctx, &strifev1.UpdateClientDetailsRequest{Username: "carol", Role: strifev1.UserRole_USER_ROLE_ADMIN})
	require.NoError(t, err)
	_, err = dave.Logout(dave.ctx, &strifev1.LogoutRequest{})
	require.NoError(t, err)
	_, err = dave.GetBalance(dave.ctx, &strifev1.GetBalanceRequest{})
	requireCode(t, codes.Unauthenticated, err, "a token logged out")

	e.settled(t)
	require.NoError(t, e.gw.Stop())
	for _, b := range e.banks {
		require.NoError(t, b.Stop())
	}

	logs := map[string]string{"gateway": e.logs.String()}
	for name, buf := range e.bankLogs {
		logs[name] = buf.String()
	}

	// The capture holds the run: without it, this test would prove nothing.
	calls := map[string]int{"Login": 9, "RegisterClient": 2, "Pay": 6, "WatchPayments": 2, "ListPayments": 2, "GetPayment": 1, "GetBalance": 5,
		"UpdateClientDetails": 3, "LockUser": 2, "Logout": 1}
	for method, n := range calls {
		require.Len(t, e.logs.calls(t, method), n, "audit lines of %s", method)
	}
	require.Contains(t, logs["gateway"], `"retry":true`)
	require.Contains(t, logs["gateway"], `"message":"user lock changed"`)
	require.Contains(t, logs["gateway"], `"message":"gateway stopped"`)
	for _, bank := range []string{"BankA", "BankB"} {
		require.Contains(t, logs[bank], `"method":"/strife.v1.BankService/Batch"`)
		require.Contains(t, logs[bank], `"message":"bank stopped"`)
	}

	// The secrets, each with what it is.
	type secret struct{ what, text string }
	var secrets []secret
	for _, p := range passwords {
		secrets = append(secrets, secret{"password " + p, p})
	}
	require.Len(t, tokens, 6)
	for n, token := range tokens {
		parts := strings.Split(token, ".")
		require.Len(t, parts, 3)
		secrets = append(secrets, secret{fmt.Sprintf("the signature of token %d", n), parts[2]})
		for i := 0; i+20 <= len(token); i++ {
			secrets = append(secrets, secret{fmt.Sprintf("20 bytes of token %d at %d", n, i), token[i : i+20]})
		}
	}
	key, err := auth.LoadKey(e.cfg.TokenKeyFile)
	require.NoError(t, err)
	for _, form := range []string{hex.EncodeToString(key), strings.ToUpper(hex.EncodeToString(key)),
		base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key), string(key)} {
		secrets = append(secrets, secret{"the token key", form})
	}
	// The private keys of the certificates: any 32 characters of their PEM.
	keyFiles, err := filepath.Glob(filepath.Join(e.pki.Dir, "*.key"))
	require.NoError(t, err)
	require.NotEmpty(t, keyFiles)
	for _, f := range keyFiles {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		block, _ := pem.Decode(data)
		require.NotNil(t, block, f)
		b64 := base64.StdEncoding.EncodeToString(block.Bytes)
		for i := 0; i+32 <= len(b64); i += 16 {
			secrets = append(secrets, secret{"the private key " + filepath.Base(f), b64[i : i+32]})
		}
	}
	for _, s := range secrets {
		requireAbsent(t, logs, s.what, s.text)
	}
}

// requireAbsent fails if secret is in any of the logs.
func requireAbsent(t *testing.T, logs map[string]string, what, secret string) {
	t.Helper()
	require.NotEmpty(t, secret)
	for name, text := range logs {
		if i := strings.Index(text, secret); i >= 0 {
			start, end := max(0, i-200), min(len(text), i+len(secret)+200)
			t.Fatalf("the %s log contains %s:\n...%s...", name, what, text[start:end])
		}
	}
}
