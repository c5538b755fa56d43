package bankd_test

import (
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

func TestOnlyTheGatewayMayCallTheBank(t *testing.T) {
	pki := banktest.NewPKI(t)
	bank := startBank(t, pki, bankFlags{DataDir: banktest.DataDir(t), Seed: seedPath(t)})
	tests := []struct {
		role certs.Role
		name string
		want codes.Code
	}{
		{certs.RoleGateway, "gateway-1", codes.OK},
		{certs.RoleClient, "alice", codes.PermissionDenied},
		{certs.RoleAdmin, "ops", codes.PermissionDenied},
		{certs.RoleBank, "BankB", codes.PermissionDenied},
	}
	for _, tc := range tests {
		t.Run(string(tc.role), func(t *testing.T) {
			c := strifev1.NewBankServiceClient(pki.Dial(t, bank.Addr, tc.role, tc.name))
			_, err := c.GetAccount(callContext(t), &strifev1.GetAccountRequest{Number: alice})
			requireCode(t, tc.want, err)
			_, err = c.Prepare(callContext(t), &strifev1.PrepareRequest{TransactionId: ulid.Make().String(), Attempt: 1, Legs: []*strifev1.Leg{debit(alice, 1)}})
			requireCode(t, tc.want, err)
		})
	}
	require.Equal(t, int64(1), getAccount(t, bank.Client(), alice).GetHeld(), "only the gateway's Prepare placed a hold")
}
