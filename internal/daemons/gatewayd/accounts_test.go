package gatewayd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/certs"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, certs.RoleClient, "alice-laptop")

	resp, err := c.Login(t.Context(), &strifev1.LoginRequest{Username: "alice", Password: alicePassword})
	require.NoError(t, err)
	require.NotEmpty(t, resp.GetToken())
	require.WithinDuration(t, time.Now().Add(15*time.Minute), resp.GetExpiresAt().AsTime(), time.Minute)
	require.Equal(t, "alice", resp.GetUser().GetUsername())
	require.Equal(t, strifev1.UserRole_USER_ROLE_CUSTOMER, resp.GetUser().GetRole())
	require.Equal(t, []string{"BankA/1001"}, resp.GetUser().GetAccounts())
	require.Equal(t, "BankA/1001", resp.GetUser().GetDefaultAccount())

	_, unknownErr := c.Login(t.Context(), &strifev1.LoginRequest{Username: "nobody", Password: alicePassword})
	_, wrongErr := c.Login(t.Context(), &strifev1.LoginRequest{Username: "alice", Password: "wrong password"})
	_, invalidErr := c.Login(t.Context(), &strifev1.LoginRequest{Username: "Not A Username", Password: alicePassword})
	requireCode(t, codes.Unauthenticated, wrongErr)
	require.Equal(t, "invalid username or password", status.Convert(wrongErr).Message())
	require.True(t, proto.Equal(status.Convert(wrongErr).Proto(), status.Convert(unknownErr).Proto()), "unknown user and wrong password look the same")
	require.True(t, proto.Equal(status.Convert(wrongErr).Proto(), status.Convert(invalidErr).Proto()))

	logs := e.logs.String()
	require.NotContains(t, logs, alicePassword)
	require.NotContains(t, logs, resp.GetToken())
	require.Len(t, e.logs.calls(t, "Login"), 4, "every login is audited")
}

func TestTokenIsBoundToTheCertificateItWasIssuedOver(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	other := e.client(t, certs.RoleClient, "mallory-laptop")
	_, err := other.GetBalance(alice.ctx, &strifev1.GetBalanceRequest{})
	requireCode(t, codes.Unauthenticated, err)
	require.Contains(t, e.logs.String(), `"error":"auth: login token was issued over another certificate"`,
		"only the log tells a stolen token from a bad one")
}

func TestRegisterClientThenTheUserLogsInAndSeesTheOpeningBalance(t *testing.T) {
	e := newEnv(t)
	admin := e.login(t, "admin", adminPassword)

	resp, err := admin.RegisterClient(admin.ctx, &strifev1.RegisterClientRequest{
		Username: "dave", Password: "dave password", Role: strifev1.UserRole_USER_ROLE_CUSTOMER, Account: "BankB/2002", OpeningBalance: 777,
	})
	require.NoError(t, err)
	require.Equal(t, []string{"BankB/2002"}, resp.GetUser().GetAccounts())
	require.Equal(t, "dave", e.account(t, "BankB/2002").GetOwner(), "opened at the bank with the username as owner")

	dave := e.login(t, "dave", "dave password")
	balance, err := dave.GetBalance(dave.ctx, &strifev1.GetBalanceRequest{})
	require.NoError(t, err)
	require.Len(t, balance.GetAccounts(), 1)
	got := balance.GetAccounts()[0]
	require.Equal(t, [4]any{"BankB", "2002", int64(777), int64(777)}, [4]any{got.GetBank(), got.GetNumber(), got.GetPostedBalance(), got.GetAvailableBalance()})

	// Registering dave again is refused before the bank is asked: his
	// balance is not deposited twice.
	_, err = admin.RegisterClient(admin.ctx, &strifev1.RegisterClientRequest{
		Username: "dave", Password: "dave password", Role: strifev1.UserRole_USER_ROLE_CUSTOMER, Account: "BankB/2003", OpeningBalance: 777,
	})
	requireCode(t, codes.AlreadyExists, err)
	_, err = e.bankClients["BankB"].GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: "2003"})
	requireCode(t, codes.NotFound, err, "no account opened for a refused registration")
}

func TestRegisterClientAccountRules(t *testing.T) {
	e := newEnv(t)
	admin := e.login(t, "admin", adminPassword)
	register := func(user, account string, opening int64) (*strifev1.RegisterClientResponse, error) {
		return admin.RegisterClient(admin.ctx, &strifev1.RegisterClientRequest{
			Username: user, Password: user + " password", Role: strifev1.UserRole_USER_ROLE_CUSTOMER, Account: account, OpeningBalance: opening,
		})
	}

	_, err := register("erin", "BankA/1001", 0)
	requireCode(t, codes.AlreadyExists, err, "alice's account")
	_, err = register("erin", "BankA/1004", 0)
	requireCode(t, codes.AlreadyExists, err, "alice's at the bank")

	// mallory's account exists at the bank with mallory as owner: linked,
	// and the opening balance is not deposited again.
	resp, err := register("mallory", "BankA/1003", 5000)
	require.NoError(t, err)
	require.Equal(t, "BankA/1003", resp.GetUser().GetDefaultAccount())
	require.Equal(t, int64(300), e.posted(t, "BankA/1003"))

	resp, err = admin.RegisterClient(admin.ctx, &strifev1.RegisterClientRequest{Username: "root2", Password: "root2 password", Role: strifev1.UserRole_USER_ROLE_ADMIN})
	require.NoError(t, err, "an admin needs no account")
	require.Empty(t, resp.GetUser().GetAccounts())
}

func TestRegisterClientRejectsMalformedRequests(t *testing.T) {
	e := newEnv(t)
	admin := e.login(t, "admin", adminPassword)
	valid := func() *strifev1.RegisterClientRequest {
		return &strifev1.RegisterClientRequest{Username: "dave", Password: "dave password", Role: strifev1.UserRole_USER_ROLE_CUSTOMER, Account: "BankB/2002", OpeningBalance: 10}
	}
	cases := map[string]func(*strifev1.RegisterClientRequest){
		"upper-case username":         func(r *strifev1.RegisterClientRequest) { r.Username = "Dave" },
		"username starting with dash": func(r *strifev1.RegisterClientRequest) { r.Username = "-dave" },
		"username of 33 bytes":        func(r *strifev1.RegisterClientRequest) { r.Username = strings.Repeat("d", 33) },
		"short password":              func(r *strifev1.RegisterClientRequest) { r.Password = "short" },
		"password over 72 bytes":      func(r *strifev1.RegisterClientRequest) { r.Password = strings.Repeat("p", 73) },
		"no role":                     func(r *strifev1.RegisterClientRequest) { r.Role = strifev1.UserRole_USER_ROLE_UNSPECIFIED },
		"no bank":                     func(r *strifev1.RegisterClientRequest) { r.Account = "2002" },
		"bad number":                  func(r *strifev1.RegisterClientRequest) { r.Account = "BankB/20 02" },
		"negative opening balance":    func(r *strifev1.RegisterClientRequest) { r.OpeningBalance = -1 },
		"customer without account":    func(r *strifev1.RegisterClientRequest) { r.Account, r.OpeningBalance = "", 0 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			req := valid()
			mutate(req)
			_, err := admin.RegisterClient(admin.ctx, req)
			requireCode(t, codes.InvalidArgument, err)
		})
	}
	req := valid()
	req.Account = "BankZ/2002"
	_, err := admin.RegisterClient(admin.ctx, req)
	requireCode(t, codes.NotFound, err, "a bank never known")
	require.ErrorContains(t, err, "no bank named BankZ is known to this gateway")
	_, err = e.bankClients["BankB"].GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: "2002"})
	requireCode(t, codes.NotFound, err, "the bank was never asked")
}

func TestCustomerCannotRegisterClients(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	_, err := alice.RegisterClient(alice.ctx, &strifev1.RegisterClientRequest{
		Username: "dave", Password: "dave password", Role: strifev1.UserRole_USER_ROLE_ADMIN, Account: "BankB/2002",
	})
	requireCode(t, codes.PermissionDenied, err)
	_, err = e.bankClients["BankB"].GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: "2002"})
	requireCode(t, codes.NotFound, err)
}

func TestUpdateClientDetailsPassword(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	change := func(current, next string) error {
		_, err := alice.UpdateClientDetails(alice.ctx, &strifev1.UpdateClientDetailsRequest{CurrentPassword: current, NewPassword: next})
		return err
	}
	requireCode(t, codes.Unauthenticated, change("", "new alice password"), "no current password")
	requireCode(t, codes.Unauthenticated, change("wrong password", "new alice password"))
	requireCode(t, codes.InvalidArgument, change(alicePassword, "short"))
	require.NoError(t, change(alicePassword, "new alice password"))

	c := e.client(t, certs.RoleClient, "alice-laptop")
	_, err := c.Login(t.Context(), &strifev1.LoginRequest{Username: "alice", Password: alicePassword})
	requireCode(t, codes.Unauthenticated, err, "the old password stops working")
	e.login(t, "alice", "new alice password")
	require.NotContains(t, e.logs.String(), "new alice password")

	// An admin resets another user's password without knowing it.
	admin := e.login(t, "admin", adminPassword)
	_, err = admin.UpdateClientDetails(admin.ctx, &strifev1.UpdateClientDetailsRequest{Username: "carol", NewPassword: "carol's new password"})
	require.NoError(t, err)
	e.login(t, "carol", "carol's new password")
}

func TestUpdateClientDetailsAccounts(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	update := func(req *strifev1.UpdateClientDetailsRequest) (*strifev1.User, error) {
		resp, err := alice.UpdateClientDetails(alice.ctx, req)
		return resp.GetUser(), err
	}

	_, err := update(&strifev1.UpdateClientDetailsRequest{DefaultAccount: "BankB/2001"})
	requireCode(t, codes.InvalidArgument, err, "bob's account cannot be alice's default")
	_, err = update(&strifev1.UpdateClientDetailsRequest{LinkAccount: "BankA/1003"})
	requireCode(t, codes.PermissionDenied, err, "mallory's at the bank")
	_, err = update(&strifev1.UpdateClientDetailsRequest{LinkAccount: "BankB/2001"})
	requireCode(t, codes.PermissionDenied, err, "bob's")
	_, err = update(&strifev1.UpdateClientDetailsRequest{LinkAccount: "BankA/9999"})
	requireCode(t, codes.NotFound, err)
	_, err = update(&strifev1.UpdateClientDetailsRequest{LinkAccount: "BankZ/1"})
	requireCode(t, codes.NotFound, err, "a bank never known")
	_, err = update(&strifev1.UpdateClientDetailsRequest{Username: "bob", DefaultAccount: "BankB/2001"})
	requireCode(t, codes.PermissionDenied, err, "a customer changes only themself")

	u, err := update(&strifev1.UpdateClientDetailsRequest{LinkAccount: "BankA/1004", DefaultAccount: "BankA/1004"})
	require.NoError(t, err)
	require.Equal(t, []string{"BankA/1001", "BankA/1004"}, u.GetAccounts())
	require.Equal(t, "BankA/1004", u.GetDefaultAccount())

	balance, err := alice.GetBalance(alice.ctx, &strifev1.GetBalanceRequest{})
	require.NoError(t, err)
	var got [][2]any
	for _, a := range balance.GetAccounts() {
		got = append(got, [2]any{a.GetBank() + "/" + a.GetNumber(), a.GetAvailableBalance()})
	}
	require.Equal(t, [][2]any{{"BankA/1001", int64(100000)}, {"BankA/1004", int64(700)}}, got, "in the order of the user's accounts")

	// Linked, BankA/1004 is now alice's at the gateway too: nobody else
	// can register with it.
	admin := e.login(t, "admin", adminPassword)
	_, err = admin.RegisterClient(admin.ctx, &strifev1.RegisterClientRequest{Username: "erin", Password: "erin password", Role: strifev1.UserRole_USER_ROLE_CUSTOMER, Account: "BankA/1004"})
	requireCode(t, codes.AlreadyExists, err)
}
