package coordinator_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/participant"
)

// A bank in doubt asks GetDecision while the gateway is down; when the
// gateway returns, the bank resolves to the recorded decision. BankC (in
// this test only) knows the gateway's address; the coordinator's own
// Commits to it are held throughout, so only GetDecision can resolve it.
func TestBankInDoubtResolvesWhenTheGatewayReturns(t *testing.T) {
	w := newWorld(t, coordinator.Config{PrepareTimeout: 500 * time.Millisecond, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	gatewayAddr := freeAddr(t)
	var bankLog banktest.LogBuffer
	cfg := w.pki.Config(t, "BankC", banktest.DataDir(t))
	cfg.CoordinatorAddr = gatewayAddr
	cfg.Participant = participant.Config{InDoubtTimeout: 200 * time.Millisecond, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	cfg.Log = zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), &bankLog))
	w.startBank(t, cfg, map[string]int64{"3001": 300})
	bankC := w.gate("BankC")
	bankC.set(coordinator.KindCommit, 0, holdBefore)

	id, params := ulid.Make(), pay("BankC/3001", "BankB/2001", 100)
	paid := w.payInBackground(t, id, params)
	bankC.await(t, coordinator.KindCommit, 1)
	w.stop(t) // the gateway goes down with COMMIT recorded and not delivered to BankC
	require.Equal(t, coordinator.Committed, (<-paid).Status)

	require.Eventually(t, func() bool { return strings.Count(bankLog.String(), "cannot resolve in-doubt attempt yet") >= 2 }, 10*time.Second, 20*time.Millisecond, "BankC asks, fails, asks again")
	acct := w.account(t, "BankC/3001")
	require.Equal(t, int64(300), acct.GetPostedBalance(), "in doubt")
	require.Equal(t, int64(100), acct.GetHeld(), "in doubt")

	w.start(t)
	w.serveDecisions(t, gatewayAddr)
	require.Eventually(t, func() bool {
		acct := w.account(t, "BankC/3001")
		return acct.GetPostedBalance() == 200 && acct.GetHeld() == 0
	}, 10*time.Second, 20*time.Millisecond, "BankC resolves to COMMIT")
	// The bank logs the resolution after applying it.
	require.Eventually(t, func() bool { return strings.Count(bankLog.String(), `"decision":"COMMIT"`) == 1 }, 10*time.Second, 10*time.Millisecond, "resolved by asking")
	require.Zero(t, bankC.acked(coordinator.KindCommit, 1), "not by the coordinator's Commit")

	bankC.open() // the coordinator's resent Commit is acknowledged too
	require.Eventually(t, func() bool {
		p, err := w.c.Get(id)
		return err == nil && p.Ended
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, 1, bankC.acked(coordinator.KindCommit, 1))
	require.Len(t, w.entries(t, "BankC/3001", id), 1, "committed once")
	require.Len(t, w.entries(t, "BankB/2001", id), 1, "committed once")
	require.Equal(t, int64(600), w.account(t, "BankB/2001").GetPostedBalance())
	w.settled(t)
}

// freeAddr returns a local address that nothing listens on, for now.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, l.Close())
	return l.Addr().String()
}
