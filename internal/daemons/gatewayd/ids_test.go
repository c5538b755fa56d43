package gatewayd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/strife-pay/strife/certs"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// zeroID is the zero ULID: a valid ULID as text, but not a transaction ID,
// since the write-ahead logs do not index it (see wal.CheckTxID).
const zeroID = "00000000000000000000000000"

// The zero ID was answered COMMITTED and never settled: the banks held the
// money and could never find the attempt to commit. It is refused before
// anything is written or sent, with nothing held at any bank.
func TestPayRefusesTheZeroIDWithNothingHeld(t *testing.T) {
	e := newEnv(t)
	before, _ := e.total(t)
	alice := e.login(t, "alice", alicePassword)

	req := toAccount(ulid.Make(), "BankB/2001", 2500)
	req.TransactionId = zeroID
	_, err := alice.Pay(alice.ctx, req)
	requireCode(t, codes.InvalidArgument, err)
	require.Contains(t, err.Error(), "zero ULID")

	posted, held := e.total(t)
	require.Equal(t, [2]int64{before, 0}, [2]int64{posted, held}, "nothing moved, nothing held")
	list, err := alice.ListPayments(alice.ctx, &strifev1.ListPaymentsRequest{})
	require.NoError(t, err)
	require.Empty(t, list.GetPayments(), "nothing stored")
	require.NotContains(t, e.logs.String(), "message not delivered")

	// The same payment under a real ID goes through, and settles.
	require.Equal(t, committed, alice.pay(t, toAccount(ulid.Make(), "BankB/2001", 2500)).GetStatus())
	e.settled(t)
}

func TestGetPaymentRefusesTheZeroID(t *testing.T) {
	e := newEnv(t)
	admin := e.login(t, "admin", adminPassword)
	_, err := admin.GetPayment(admin.ctx, &strifev1.GetPaymentRequest{TransactionId: zeroID})
	requireCode(t, codes.InvalidArgument, err, "not NOT_FOUND: no payment can have it")
	_, err = admin.GetPayment(admin.ctx, &strifev1.GetPaymentRequest{TransactionId: ulid.Make().String()})
	requireCode(t, codes.NotFound, err)
}

func TestGetDecisionRefusesTheZeroID(t *testing.T) {
	e := newEnv(t)
	bank := strifev1.NewCoordinatorServiceClient(e.pki.Dial(t, e.gw.Addr(), certs.RoleBank, "BankA"))
	_, err := bank.GetDecision(t.Context(), &strifev1.GetDecisionRequest{TransactionId: zeroID, Attempt: 1})
	requireCode(t, codes.InvalidArgument, err, "not a presumed ABORT: no attempt can have it")
	resp, err := bank.GetDecision(t.Context(), &strifev1.GetDecisionRequest{TransactionId: ulid.Make().String(), Attempt: 1})
	require.NoError(t, err)
	require.Equal(t, strifev1.Decision_DECISION_ABORT, resp.GetDecision())
}

// A gateway and banks whose logs hold a payment under the zero ID, from
// before it was refused (testdata/zero-id), start and serve; the payment
// is reported once and left as it stands, not retried forever.
func TestOldLogsWithAZeroIDPaymentStartAndLeaveItAlone(t *testing.T) {
	e := newEnvFrom(t, "../../../testdata/zero-id")
	require.Equal(t, int64(2500), e.account(t, "BankA/1001").GetHeld(), "the fixture's hold")

	alice := e.login(t, "alice", alicePassword)
	id := ulid.Make()
	require.Equal(t, committed, alice.pay(t, toAccount(id, "BankB/2001", 100)).GetStatus())
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got, err := alice.GetPayment(alice.ctx, &strifev1.GetPaymentRequest{TransactionId: id.String()})
		require.NoError(c, err)
		assert.NotNil(c, got.GetPayment().GetSettledAt(), "settled_at")
	}, 10*time.Second, 10*time.Millisecond)

	logs := e.logs.String()
	require.Equal(t, 1, strings.Count(logs, "payment with the zero transaction ID"), logs)
	require.NotContains(t, logs, "message not delivered", "no Commit of the zero ID is retried")
	require.NotContains(t, logs, "cannot persist payment step")
	for _, name := range []string{"BankA", "BankB"} {
		require.Equal(t, 1, strings.Count(e.bankLogs[name].String(), "attempt held under the zero transaction ID"), name)
	}
	require.Equal(t, int64(2500), e.account(t, "BankA/1001").GetHeld(), "left for an operator")
	require.Equal(t, int64(2500), e.account(t, "BankB/2001").GetPendingCredits())

	// Its payer still sees it in the list, as it stands.
	list, err := alice.ListPayments(alice.ctx, &strifev1.ListPaymentsRequest{})
	require.NoError(t, err)
	require.Equal(t, zeroID, list.GetPayments()[len(list.GetPayments())-1].GetTransactionId())
}
