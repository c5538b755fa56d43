package gatewayd_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/daemons/gatewayd"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
	"github.com/strife-pay/strife/ledger"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// The world of every test, from testdata/users.yaml and bankAccounts:
//
//	admin   admin, no account
//	alice   BankA/1001  100000      (BankA/1004 is hers at the bank, not linked)
//	bob     BankB/2001   50000
//	carol   BankA/1002   20000
//	        BankA/1003     300      owned by mallory at the bank; no such user
const (
	adminPassword = "admin password"
	alicePassword = "alice password"
	bobPassword   = "bob password"
	carolPassword = "carol password"
)

// bankAccounts are opened directly at the banks, before the gateway starts.
var bankAccounts = map[string][]struct {
	number, owner string
	opening       int64
}{
	"BankA": {{"1003", "mallory", 300}, {"1004", "alice", 700}},
	"BankB": {},
}

// allAccounts are the accounts whose balances must add up to the same sum
// before and after every payment.
var allAccounts = []string{"BankA/1001", "BankA/1002", "BankA/1003", "BankA/1004", "BankB/2001"}

// env is a gateway and two banks in-process, over mutual TLS on 127.0.0.1.
type env struct {
	pki   *banktest.PKI
	banks map[string]*bankd.Bank
	// bank clients hold a gateway certificate, to look at the banks directly.
	bankClients map[string]strifev1.BankServiceClient
	cfg         gatewayd.Config
	gw          *gatewayd.Gateway
	logs        *logBuffer
	// bankLogs collect each bank's log lines (they also go to the test log).
	bankLogs map[string]*logBuffer
	bankCfgs map[string]bankd.Config // to restart a bank
}

// newEnv starts two banks and a gateway seeded with testdata/users.yaml.
// When the test ends, after everything has stopped, the user store and the
// banks' ledgers are verified against their logs.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvFrom(t, "")
}

// newEnvFrom is newEnv on copies of the data files in the directory
// fixture (gateway.db, BankA.db, BankB.db), if it is not empty. Their
// ledgers are not verified when the test ends: a fixture may hold what
// Verify reports.
func newEnvFrom(t *testing.T, fixture string) *env {
	t.Helper()
	return newEnvWith(t, fixture, false)
}

// newEnvWith is newEnvFrom, with every daemon serving its metrics on a
// port of its own if metrics is set.
func newEnvWith(t *testing.T, fixture string, metrics bool) *env {
	t.Helper()
	e := &env{pki: banktest.NewPKI(t), banks: map[string]*bankd.Bank{}, bankClients: map[string]strifev1.BankServiceClient{}, logs: &logBuffer{}, bankLogs: map[string]*logBuffer{}, bankCfgs: map[string]bankd.Config{}}
	e.cfg = gatewayd.Config{
		Config: daemon.Config{
			Name: "gateway-1", Listen: "127.0.0.1:0", DataDir: banktest.DataDir(t),
			TLS: e.pki.Files(t, certs.RoleGateway, "gateway-1"),
			Log: zerolog.New(io.MultiWriter(e.logs, zerolog.NewTestWriter(t))).With().Timestamp().Logger(),
		},
		TokenKeyFile: banktest.TokenKey(t), Banks: map[string]string{},
		UsersFile: banktest.Testdata(t, "users.yaml"), BcryptCost: bcrypt.MinCost,
	}
	if metrics {
		e.cfg.MetricsListen = "127.0.0.1:0"
	}
	t.Cleanup(func() { verifyUsers(t, e.walPath()) })
	if fixture != "" {
		copyFile(t, filepath.Join(fixture, "gateway.db"), e.walPath())
	}
	for name, accounts := range bankAccounts {
		cfg := e.pki.Config(t, name, banktest.DataDir(t))
		e.bankLogs[name] = &logBuffer{}
		cfg.Log = zerolog.New(io.MultiWriter(e.bankLogs[name], zerolog.NewTestWriter(t))).With().Str("bank", name).Logger()
		if metrics {
			cfg.MetricsListen = "127.0.0.1:0"
		}
		if fixture != "" {
			copyFile(t, filepath.Join(fixture, name+".db"), filepath.Join(cfg.DataDir, name+".db"))
		} else {
			t.Cleanup(func() { verifyLedger(t, filepath.Join(cfg.DataDir, name+".db")) })
		}
		b := banktest.Start(t, cfg)
		cfg.Listen = b.Addr()
		e.bankCfgs[name] = cfg
		e.banks[name], e.bankClients[name], e.cfg.Banks[name] = b, e.pki.GatewayClient(t, b.Addr()), b.Addr()
		for _, a := range accounts {
			_, err := e.bankClients[name].OpenAccount(t.Context(), &strifev1.OpenAccountRequest{Number: a.number, Owner: a.owner, OpeningBalance: a.opening})
			require.NoError(t, err)
		}
	}
	e.start(t)
	return e
}

// start starts the gateway with e.cfg; it is stopped when the test ends.
func (e *env) start(t *testing.T) {
	t.Helper()
	gw, err := gatewayd.Start(e.cfg)
	require.NoError(t, err)
	e.gw = gw
	t.Cleanup(func() { gw.Stop() })
}

// restart stops the gateway and starts it again on the same data dir.
// Sessions must log in again: the address changes.
func (e *env) restart(t *testing.T) {
	t.Helper()
	require.NoError(t, e.gw.Stop())
	e.start(t)
}

func (e *env) walPath() string { return filepath.Join(e.cfg.DataDir, e.cfg.Name+".db") }

// client dials the gateway with a certificate of role and name.
func (e *env) client(t *testing.T, role certs.Role, name string) strifev1.GatewayServiceClient {
	return strifev1.NewGatewayServiceClient(e.pki.Dial(t, e.gw.Addr(), role, name))
}

// session is a logged-in user: a client program with its own certificate
// (an admin tool for admin, a client for everyone else) and the token.
type session struct {
	strifev1.GatewayServiceClient
	ctx  context.Context // carries the token
	user *strifev1.User
}

// program returns the certificate role and name a user's program dials with.
func program(user string) (certs.Role, string) {
	if user == "admin" {
		return certs.RoleAdmin, "admin-tool"
	}
	return certs.RoleClient, user + "-laptop"
}

func (e *env) login(t *testing.T, user, password string) *session {
	t.Helper()
	role, name := program(user)
	c := e.client(t, role, name)
	resp, err := c.Login(t.Context(), &strifev1.LoginRequest{Username: user, Password: password})
	require.NoError(t, err)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+resp.GetToken())
	return &session{GatewayServiceClient: c, ctx: ctx, user: resp.GetUser()}
}

func (s *session) pay(t *testing.T, req *strifev1.PayRequest) *strifev1.Payment {
	t.Helper()
	resp, err := s.Pay(s.ctx, req)
	require.NoError(t, err)
	return resp.GetPayment()
}

func toAccount(id ulid.ULID, account string, amount int64) *strifev1.PayRequest {
	return &strifev1.PayRequest{TransactionId: id.String(), Payee: &strifev1.PayRequest_ToAccount{ToAccount: account}, Amount: amount}
}

func toUser(id ulid.ULID, user string, amount int64) *strifev1.PayRequest {
	return &strifev1.PayRequest{TransactionId: id.String(), Payee: &strifev1.PayRequest_ToUser{ToUser: user}, Amount: amount}
}

// account is an account as its bank reports it.
func (e *env) account(t *testing.T, address string) *strifev1.Account {
	t.Helper()
	bank, number, err := users.SplitAccount(address)
	require.NoError(t, err)
	resp, err := e.bankClients[bank].GetAccount(context.Background(), &strifev1.GetAccountRequest{Number: number})
	require.NoError(t, err)
	return resp.GetAccount()
}

func (e *env) posted(t *testing.T, address string) int64 {
	return e.account(t, address).GetPostedBalance()
}

// total is the sum of the posted balances of allAccounts, and of their
// holds and pending credits.
func (e *env) total(t *testing.T) (posted, held int64) {
	for _, a := range allAccounts {
		acct := e.account(t, a)
		posted += acct.GetPostedBalance()
		held += acct.GetHeld() + acct.GetPendingCredits()
	}
	return posted, held
}

// settled waits until no hold is left on allAccounts.
func (e *env) settled(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { _, held := e.total(t); return held == 0 }, 10*time.Second, 10*time.Millisecond, "holds released")
}

// entries returns the posted entries of an account for one transaction.
func (e *env) entries(t *testing.T, address string, id ulid.ULID) []*strifev1.Entry {
	t.Helper()
	bank, number, err := users.SplitAccount(address)
	require.NoError(t, err)
	resp, err := e.bankClients[bank].ListEntries(context.Background(), &strifev1.ListEntriesRequest{Number: number, PageSize: 1000})
	require.NoError(t, err)
	var out []*strifev1.Entry
	for _, entry := range resp.GetEntries() {
		if entry.GetTransactionId() == id.String() {
			out = append(out, entry)
		}
	}
	return out
}

// requireCode asserts the gRPC code of err.
func requireCode(t *testing.T, want codes.Code, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.Equal(t, want.String(), status.Code(err).String(), append([]any{err.Error()}, msgAndArgs...)...)
}

// logBuffer collects the gateway's log lines; server goroutines write it
// while the test reads it.
type logBuffer struct{ banktest.LogBuffer }

// calls returns the audit lines of one gateway method ("Pay").
func (l *logBuffer) calls(t *testing.T, method string) []map[string]any {
	t.Helper()
	return l.lines(t, "grpc call", "/strife.v1.GatewayService/"+method)
}

// lines returns the log lines with this message and method.
func (l *logBuffer) lines(t *testing.T, message, method string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(l.String()) {
		var e map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		if e["message"] == message && e["method"] == method {
			out = append(out, e)
		}
	}
	return out
}

// writeFile writes a file in a temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// copyFile copies a file, creating the directory of the copy.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o700))
	require.NoError(t, os.WriteFile(to, data, 0o600))
}

func openWAL(t *testing.T, path string) *wal.Log {
	log, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	return log
}

// verifyUsers checks the gateway's user projection against its records.
func verifyUsers(t *testing.T, path string) {
	if _, err := os.Stat(path); err != nil {
		return // the gateway never started
	}
	log := openWAL(t, path)
	defer log.Close()
	require.NoError(t, users.New(log).Verify())
}

// verifyLedger checks a bank's invariants: money conserved, no orphan hold.
func verifyLedger(t *testing.T, path string) {
	log := openWAL(t, path)
	defer log.Close()
	l, err := ledger.New(log, nil)
	require.NoError(t, err)
	require.NoError(t, l.Verify())
}

// sameButSettled reports whether two answers about a payment are the same
// but for settled_at, which a COMMITTED payment gains once every bank has
// applied it, after the first answer.
func sameButSettled(a, b *strifev1.Payment) bool {
	a, b = proto.CloneOf(a), proto.CloneOf(b)
	a.SettledAt, b.SettledAt = nil, nil
	return proto.Equal(a, b)
}
