package gatewayd_test

import (
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// Everything restarts while etcd is down: the banks and the gateway serve
// (Login works), a payment is held PENDING while the gateway knows no bank,
// and once etcd runs the banks register, the gateway learns them, the held
// payment commits and a new one commits at once. On the old code the first
// bank's Start failed ("discovery: register /strife/banks/BankA: context
// deadline exceeded"), and the gateway's too ("reading the banks from etcd").
func TestGatewayServesWhileEtcdIsDownAndPaysOnceItIsBack(t *testing.T) {
	e := newEtcdEnv(t)
	e.startBank(t, "BankA")
	e.startBank(t, "BankB")
	e.start(t) // seeds the users while etcd runs
	require.NoError(t, e.gw.Stop())
	for _, b := range e.banks {
		require.NoError(t, b.Stop())
	}
	e.etcd.Stop()

	e.cfg.Etcd.DialTimeout, e.cfg.LeaseTTL = time.Second, 2*time.Second
	e.startBank(t, "BankA")
	e.startBank(t, "BankB")
	e.start(t)
	alice := e.login(t, "alice", alicePassword)
	held := ulid.Make()
	p := alice.pay(t, toAccount(held, "BankB/2001", 100))
	require.Equal(t, pending, p.GetStatus(), "no bank known while etcd is down")
	require.Zero(t, p.GetAttempts())

	e.etcd.Start()
	require.Eventually(t, func() bool {
		got, err := alice.GetPayment(alice.ctx, &strifev1.GetPaymentRequest{TransactionId: held.String()})
		return err == nil && got.GetPayment().GetStatus() == committed
	}, 15*time.Second, 20*time.Millisecond, "the held payment commits once the gateway learns the banks")
	require.NoError(t, e.gw.Registration().Wait(t.Context()), "the gateway registered")
	require.Equal(t, e.gw.Addr(), e.registered(t, "/strife/gateways/gateway-1"))
	require.Equal(t, committed, alice.pay(t, toAccount(ulid.Make(), "BankB/2001", 50)).GetStatus())
	e.settled(t)
	require.Equal(t, int64(50000+150), e.posted(t, "BankB/2001"))
	require.Equal(t, int64(100000-150), e.posted(t, "BankA/1001"))
}

// A gateway given the banks' addresses as well as etcd starts while etcd
// is down, seeds its users through those banks and pays at once. On the old
// code its configuration was refused ("give one or the other").
func TestGatewayWithKnownBanksPaysWhileEtcdIsDown(t *testing.T) {
	e := newStoppedEtcdEnv(t)
	e.cfg.Etcd.DialTimeout = time.Second
	e.cfg.Banks = map[string]string{}
	for _, name := range []string{"BankA", "BankB"} {
		e.startBank(t, name)
		e.cfg.Banks[name] = e.banks[name].Addr()
	}
	e.start(t)
	alice := e.login(t, "alice", alicePassword)
	require.Equal(t, committed, alice.pay(t, toAccount(ulid.Make(), "BankB/2001", 100)).GetStatus())
	e.settled(t)
	require.Equal(t, int64(50000+100), e.posted(t, "BankB/2001"))
}
