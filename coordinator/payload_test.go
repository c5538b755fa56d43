package coordinator_test

import (
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
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
