package gatewayd_test

import (
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
)

// A Pay while the gateway cannot write its log (a full disk) is
// UNAVAILABLE, which a client retries, not INTERNAL, which it would take
// for a refusal: nothing was decided. Once the disk has room, the same ID
// pays, exactly once.
func TestPayWhileTheGatewayCannotWriteIsUnavailableAndTheSameIDPaysLater(t *testing.T) {
	e := newEnv(t)
	var full atomic.Bool
	e.cfg.FailWrites = func() error {
		if full.Load() {
			return syscall.ENOSPC
		}
		return nil
	}
	e.restart(t)
	before, _ := e.total(t)
	alice := e.login(t, "alice", alicePassword)
	id := ulid.Make()

	full.Store(true)
	_, err := alice.Pay(alice.ctx, toAccount(id, "BankB/2001", 2500))
	requireCode(t, codes.Unavailable, err)
	_, err = alice.Pay(alice.ctx, toAccount(id, "BankB/2001", 2500))
	requireCode(t, codes.Unavailable, err, "still full")
	e.settled(t) // the Prepares that left with the failed staging record are aborted
	require.Empty(t, e.entries(t, "BankA/1001", id))

	full.Store(false)
	p := alice.pay(t, toAccount(id, "BankB/2001", 2500))
	require.Equal(t, committed, p.GetStatus())
	e.settled(t)
	require.Len(t, e.entries(t, "BankA/1001", id), 1, "debited once")
	require.Len(t, e.entries(t, "BankB/2001", id), 1, "credited once")
	require.Equal(t, int64(97500), e.posted(t, "BankA/1001"))
	require.Equal(t, int64(52500), e.posted(t, "BankB/2001"))
	after, _ := e.total(t)
	require.Equal(t, before, after, "money is conserved")
}
