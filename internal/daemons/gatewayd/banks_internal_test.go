package gatewayd

import (
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/daemons/devetcd/etcdtest"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
)

// otherParticipant is a participant that dialBank did not make.
type otherParticipant struct{ coordinator.Participant }

// A bank whose participant is not a gRPC one has no account service: the
// account calls find it unavailable rather than crash the gateway.
func TestDiscoveredBankOfAnotherKindIsUnavailable(t *testing.T) {
	client := etcdtest.Client(t, etcdtest.Start(t))
	reg, err := discovery.Register(client, discovery.Banks, "BankA", "127.0.0.1:1", 0, zerolog.Nop())
	require.NoError(t, err)
	t.Cleanup(func() { reg.Close() })
	require.NoError(t, reg.Wait(t.Context()))
	dial := func(string, string) (coordinator.Participant, io.Closer, error) {
		return otherParticipant{}, io.NopCloser(nil), nil
	}
	dir, err := discovery.NewDirectory(client, dial, nil, zerolog.Nop())
	require.NoError(t, err)
	t.Cleanup(dir.Close)
	require.Eventually(t, func() bool { _, ok := dir.Participant("BankA"); return ok }, 10*time.Second, 10*time.Millisecond)
	require.Nil(t, discoveredBanks{dir}.client("BankA"))
	require.Nil(t, discoveredBanks{dir}.client("BankZ"))
}
