package coordinator_test

import (
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// Apply is exported: a record whose payload is not its type's is refused
// with an error, not a panic.
func TestApplyRefusesAPayloadOfAnotherType(t *testing.T) {
	accepted := coordinator.Record{Type: coordinator.TypePaymentAccepted, Payload: &storagev1.PaymentAccepted{Payer: "alice", Amount: 1, TimeUnixNano: 1}}
	p, err := coordinator.Payment{ID: ulid.Make()}.Apply([]coordinator.Record{accepted})
	require.NoError(t, err)
	for name, r := range map[string]coordinator.Record{
		"final without payload":    {Type: coordinator.TypePaymentFinal},
		"final with another":       {Type: coordinator.TypePaymentFinal, Payload: &storagev1.Decided{}},
		"accepted without payload": {Type: coordinator.TypePaymentAccepted},
	} {
		t.Run(name, func(t *testing.T) {
			from := p
			if r.Type == coordinator.TypePaymentAccepted {
				from = coordinator.Payment{ID: p.ID}
			}
			_, err := from.Apply([]coordinator.Record{r})
			require.ErrorContains(t, err, "payload")
		})
	}
}

// A decision's record may carry the payment's final status (the one
// record where two were written before, DECISION_* then PAYMENT_FINAL):
// folding it makes the payment final, the same as folding both old
// records, and a final status the decision contradicts is refused.
func TestADecisionCarriesTheFinalStatus(t *testing.T) {
	accepted := coordinator.Record{Type: coordinator.TypePaymentAccepted, Payload: &storagev1.PaymentAccepted{Payer: "alice", Amount: 1, TimeUnixNano: 1}}
	staged := coordinator.Record{Type: coordinator.TypeAttemptStaged, Attempt: 1, Payload: &storagev1.AttemptStaged{TimeUnixNano: 2}}
	p, err := coordinator.Payment{ID: ulid.Make()}.Apply([]coordinator.Record{accepted, staged})
	require.NoError(t, err)

	decided := func(typ wal.Type, final strifev1.PaymentStatus) coordinator.Record {
		return coordinator.Record{Type: typ, Attempt: 1, Payload: &storagev1.Decided{TimeUnixNano: 3, FinalStatus: final, FinalReason: strifev1.Reason_REASON_INSUFFICIENT_FUNDS}}
	}
	one, err := p.Apply([]coordinator.Record{decided(coordinator.TypeDecisionAbort, coordinator.Failed)})
	require.NoError(t, err)
	two, err := p.Apply([]coordinator.Record{decided(coordinator.TypeDecisionAbort, 0),
		{Type: coordinator.TypePaymentFinal, Payload: &storagev1.PaymentFinal{Status: coordinator.Failed, Reason: strifev1.Reason_REASON_INSUFFICIENT_FUNDS, TimeUnixNano: 3}}})
	require.NoError(t, err)
	require.Equal(t, two, one, "one record folds as the two did")
	require.Equal(t, coordinator.Failed, one.Status)

	committed, err := p.Apply([]coordinator.Record{decided(coordinator.TypeDecisionCommit, coordinator.Committed)})
	require.NoError(t, err)
	require.Equal(t, coordinator.Committed, committed.Status)

	_, err = p.Apply([]coordinator.Record{decided(coordinator.TypeDecisionCommit, coordinator.Failed)})
	require.ErrorContains(t, err, "makes it")
	_, err = p.Apply([]coordinator.Record{decided(coordinator.TypeDecisionAbort, coordinator.Committed)})
	require.ErrorContains(t, err, "makes it")
	_, err = committed.Apply([]coordinator.Record{{Type: coordinator.TypePaymentFinal, Payload: &storagev1.PaymentFinal{Status: coordinator.Committed}}})
	require.ErrorContains(t, err, "already")
}

// A payment's acceptance and its first attempt, staged in the same step,
// are one record (Payment.AcceptStaged): it folds as PAYMENT_ACCEPTED then
// ATTEMPT_STAGED did, sends the Prepares Begin sends, and an acceptance
// numbered as an attempt without staging one, or staging attempt 0, is
// refused.
func TestAcceptanceStagesTheFirstAttemptInOneRecord(t *testing.T) {
	now := time.Date(2026, 12, 3, 1, 2, 3, 0, time.UTC)
	params := coordinator.Params{Payer: "alice", From: "BankA/1001", Payee: "bob", To: "BankB/2001", Amount: 5}
	p := coordinator.Payment{ID: ulid.Make()}
	accept := coordinator.Accept(params, now).Records
	accepted, err := p.Apply(accept)
	require.NoError(t, err)
	_, begin, err := accepted.Begin(3, now)
	require.NoError(t, err)
	two, err := p.Apply(append(accept, begin.Records...))
	require.NoError(t, err)

	staged, ready, err := p.AcceptStaged(params, 3, now)
	require.NoError(t, err)
	require.Len(t, ready.Records, 1)
	require.Equal(t, coordinator.TypePaymentAccepted, ready.Records[0].Type)
	require.Equal(t, begin.Messages, ready.Messages, "the Prepares Begin sends")
	require.Equal(t, begin.Mode, ready.Mode)
	one, err := staged.Apply(ready.Records)
	require.NoError(t, err)
	require.Equal(t, two, one)
	require.True(t, one.Staged)
	require.Equal(t, begin.Records[0].Attempt, one.Attempt)

	numbered := accept[0]
	numbered.Attempt = 7
	_, err = p.Apply([]coordinator.Record{numbered})
	require.ErrorContains(t, err, "accepted under attempt 7")
	zero := ready.Records[0]
	zero.Attempt = 0
	_, err = p.Apply([]coordinator.Record{zero})
	require.ErrorContains(t, err, "numbered 0")
}
