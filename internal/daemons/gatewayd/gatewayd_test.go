package gatewayd_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/gatewayd"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

func TestRestartKeepsUsersAndPayments(t *testing.T) {
	e := newEnv(t)
	admin, alice := e.login(t, "admin", adminPassword), e.login(t, "alice", alicePassword)
	_, err := admin.RegisterClient(admin.ctx, &strifev1.RegisterClientRequest{
		Username: "dave", Password: "dave password", Role: strifev1.UserRole_USER_ROLE_CUSTOMER, Account: "BankB/2002", OpeningBalance: 50,
	})
	require.NoError(t, err)
	id := ulid.Make()
	paid := alice.pay(t, toUser(id, "dave", 25))
	require.Equal(t, committed, paid.GetStatus())

	e.restart(t)

	dave := e.login(t, "dave", "dave password")
	got, err := dave.GetPayment(dave.ctx, &strifev1.GetPaymentRequest{TransactionId: id.String()})
	require.NoError(t, err)
	require.True(t, sameButSettled(paid, got.GetPayment()))
	list, err := dave.ListPayments(dave.ctx, &strifev1.ListPaymentsRequest{})
	require.NoError(t, err)
	require.Equal(t, []string{id.String()}, txIDs(list.GetPayments()))

	alice = e.login(t, "alice", alicePassword)
	again := alice.pay(t, toUser(id, "dave", 25))
	require.True(t, sameButSettled(paid, again), "a retry after the restart gets the stored payment")
	e.settled(t)
	require.Len(t, e.entries(t, "BankA/1001", id), 1)
	require.Equal(t, int64(75), e.posted(t, "BankB/2002"))
}

func TestUsersSeedIsAppliedOnlyToANewStore(t *testing.T) {
	e := newEnv(t)
	require.Contains(t, e.logs.String(), `"message":"new user store seeded"`)
	require.Equal(t, int64(100000), e.posted(t, "BankA/1001"), "the seed opened the accounts")

	require.NoError(t, e.gw.Stop())
	e.cfg.UsersFile = writeFile(t, "users.yaml", `
users:
  - username: alice
    password: "another password"
    role: customer
    account: BankA/1001
  - username: zed
    password: "zed password"
    role: customer
    account: BankB/2009
`)
	e.start(t)
	e.login(t, "alice", alicePassword)
	c := e.client(t, certs.RoleClient, "zed-laptop")
	_, err := c.Login(t.Context(), &strifev1.LoginRequest{Username: "zed", Password: "zed password"})
	requireCode(t, codes.Unauthenticated, err, "the second seed file is ignored")
	_, err = e.bankClients["BankB"].GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: "2009"})
	requireCode(t, codes.NotFound, err)
}

// A seed that fails halfway stores no user, so the next start applies the
// whole file; accounts the failed seed opened are linked, not opened twice.
func TestSeedThatFailsStoresNothing(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.gw.Stop())
	e.cfg.DataDir = t.TempDir()
	seed := `
users:
  - username: erin
    password: "erin password"
    role: customer
    account: BankB/2005
    opening_balance: 40
  - username: frank
    password: "frank password"
    role: customer
    account: %s
`
	e.cfg.UsersFile = writeFile(t, "users.yaml", fmt.Sprintf(seed, "BankA/1003")) // mallory's at the bank
	_, err := gatewayd.Start(e.cfg)
	require.ErrorIs(t, err, gatewayd.ErrAccountTaken)
	require.Equal(t, int64(40), e.posted(t, "BankB/2005"))

	e.cfg.UsersFile = writeFile(t, "users.yaml", fmt.Sprintf(seed, "BankA/1005"))
	e.start(t)
	e.login(t, "erin", "erin password")
	e.login(t, "frank", "frank password")
	require.Equal(t, int64(40), e.posted(t, "BankB/2005"), "opened once")
}

func TestStopEndsWatchStreams(t *testing.T) {
	e := newEnv(t)
	bob := e.login(t, "bob", bobPassword)
	stream, err := bob.WatchPayments(bob.ctx, &strifev1.WatchPaymentsRequest{})
	require.NoError(t, err)
	_, err = stream.Header()
	require.NoError(t, err)

	stopped := make(chan error)
	go func() { stopped <- e.gw.Stop() }()
	_, err = stream.Recv()
	requireCode(t, codes.Unavailable, err)
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Stop waited for the watch stream")
	}
}

func TestServesCoordinatorServiceAndHealth(t *testing.T) {
	e := newEnv(t)
	bank := e.pki.Dial(t, e.gw.Addr(), certs.RoleBank, "BankA")
	resp, err := strifev1.NewCoordinatorServiceClient(bank).GetDecision(t.Context(), &strifev1.GetDecisionRequest{TransactionId: ulid.Make().String(), Attempt: 1})
	require.NoError(t, err)
	require.Equal(t, strifev1.Decision_DECISION_ABORT, resp.GetDecision(), "presumed abort")

	health, err := healthpb.NewHealthClient(bank).Check(t.Context(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, health.GetStatus())

	client := e.pki.Dial(t, e.gw.Addr(), certs.RoleClient, "alice-laptop")
	_, err = strifev1.NewCoordinatorServiceClient(client).GetDecision(t.Context(), &strifev1.GetDecisionRequest{TransactionId: ulid.Make().String(), Attempt: 1})
	requireCode(t, codes.PermissionDenied, err, "only banks ask for decisions")
}

// A bank address that reaches another bank is refused at the handshake: a
// payment's legs never go to the wrong bank.
func TestABankMustPresentItsOwnName(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.gw.Stop())
	e.cfg.DataDir = t.TempDir()
	e.cfg.UsersFile = writeFile(t, "users.yaml", "users: [{username: admin, password: admin password, role: admin}]")
	e.cfg.Banks = map[string]string{"BankA": e.banks["BankB"].Addr(), "BankB": e.banks["BankB"].Addr()}
	e.start(t)

	admin := e.login(t, "admin", adminPassword)
	_, err := admin.RegisterClient(admin.ctx, &strifev1.RegisterClientRequest{
		Username: "dave", Password: "dave password", Role: strifev1.UserRole_USER_ROLE_CUSTOMER, Account: "BankA/3001",
	})
	requireCode(t, codes.Unavailable, err)
	_, err = e.bankClients["BankB"].GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: "3001"})
	requireCode(t, codes.NotFound, err, "BankB opened nothing meant for BankA")
}

func TestConfigValidate(t *testing.T) {
	valid := gatewayd.Config{
		Config: daemon.Config{
			Name: "gateway-1", Listen: "127.0.0.1:0", DataDir: "data",
			TLS: certs.Files{CertFile: "g.crt", KeyFile: "g.key", CAFile: "ca.crt"},
		},
		TokenKeyFile: "token.key", Banks: map[string]string{"BankA": "127.0.0.1:7001"},
	}
	require.NoError(t, valid.Validate())
	cases := map[string]func(*gatewayd.Config){
		"bad name":          func(c *gatewayd.Config) { c.Name = "gate way" },
		"no listen":         func(c *gatewayd.Config) { c.Listen = "" },
		"no data dir":       func(c *gatewayd.Config) { c.DataDir = "" },
		"no token key":      func(c *gatewayd.Config) { c.TokenKeyFile = "" },
		"no bank":           func(c *gatewayd.Config) { c.Banks = nil },
		"bad bank name":     func(c *gatewayd.Config) { c.Banks = map[string]string{"Bank/A": "x:1"} },
		"bank no address":   func(c *gatewayd.Config) { c.Banks = map[string]string{"BankA": ""} },
		"negative timeout":  func(c *gatewayd.Config) { c.Coordinator.PrepareTimeout = -time.Second },
		"negative max hold": func(c *gatewayd.Config) { c.Coordinator.MaxHold = -time.Second },
		"bcrypt cost":       func(c *gatewayd.Config) { c.BcryptCost = 99 },
		"no certificate":    func(c *gatewayd.Config) { c.TLS.CertFile = "" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := valid
			mutate(&c)
			require.Error(t, c.Validate())
		})
	}
}
