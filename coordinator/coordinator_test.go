package coordinator_test

import (
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

func TestPaymentBetweenTwoBanksCommitsOnBoth(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	before, _ := w.total(t)

	p := w.pay(t, pay("BankA/1001", "BankB/2001", 250))
	require.Equal(t, coordinator.Committed, p.Status)
	require.Equal(t, uint32(1), p.Attempt)
	w.settled(t)
	require.Equal(t, int64(750), w.account(t, "BankA/1001").GetPostedBalance())
	require.Equal(t, int64(750), w.account(t, "BankB/2001").GetPostedBalance())
	after, _ := w.total(t)
	require.Equal(t, before, after, "money is conserved")
}

func TestPaymentInsideOneBank(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	p := w.pay(t, pay("BankA/1001", "BankA/1002", 100))
	require.Equal(t, coordinator.Committed, p.Status)
	w.settled(t)
	require.Equal(t, int64(900), w.account(t, "BankA/1001").GetPostedBalance())
	require.Equal(t, int64(100), w.account(t, "BankA/1002").GetPostedBalance())
}

func TestRefusedPaymentFailsWithTheReasonAndLeavesNoHold(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	cases := []struct {
		name   string
		params coordinator.Params
		reason strifev1.Reason
	}{
		{"insufficient funds", pay("BankA/1001", "BankB/2001", 5000), strifev1.Reason_REASON_INSUFFICIENT_FUNDS},
		{"unknown payee", pay("BankA/1001", "BankB/9999", 10), strifev1.Reason_REASON_ACCOUNT_NOT_FOUND},
		{"unknown payer", pay("BankA/7777", "BankB/2001", 10), strifev1.Reason_REASON_ACCOUNT_NOT_FOUND},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := w.pay(t, tc.params)
			require.Equal(t, coordinator.Failed, p.Status)
			require.Equal(t, tc.reason, p.Reason)
			w.settled(t)
		})
	}
	posted, _ := w.total(t)
	require.Equal(t, int64(1500), posted)
}

// The coordinator refuses the zero ID itself, whoever calls it: no
// participant could look its attempt up (see wal.CheckTxID).
func TestPayRefusesTheZeroIDAndSendsNothing(t *testing.T) {
	w := newWorld(t, coordinator.Config{})
	_, _, err := w.c.Pay(t.Context(), ulid.ULID{}, pay("BankA/1001", "BankB/2001", 250))
	require.ErrorIs(t, err, coordinator.ErrInvalid)
	_, err = w.c.Get(ulid.ULID{})
	require.ErrorIs(t, err, coordinator.ErrNotFound, "nothing stored")
	posted, held := w.total(t)
	require.Equal(t, [2]int64{1500, 0}, [2]int64{posted, held}, "nothing held")
}
