package bankd_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/daemons/devetcd/etcdtest"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// registered returns the address under a key in etcd, "" if there is none.
func registered(t *testing.T, c *clientv3.Client, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, key)
	require.NoError(t, err)
	if len(resp.Kvs) == 0 {
		return ""
	}
	var v struct{ Addr string }
	require.NoError(t, json.Unmarshal(resp.Kvs[0].Value, &v))
	return v.Addr
}

func TestCleanlyStoppedBankKeyDisappearsAtOnce(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	pki := banktest.NewPKI(t)
	cfg := pki.Config(t, bankName, banktest.DataDir(t))
	cfg.Etcd = etcdtest.Config(etcd)
	b, err := bankd.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { b.Stop() })

	key := discovery.Key(discovery.Banks, bankName)
	require.Equal(t, "/strife/banks/BankA", key)
	waitFor(t, 5*time.Second, "registered at the listen address", func() bool { return registered(t, c, key) == b.Addr() })

	require.NoError(t, b.Stop())
	require.Empty(t, registered(t, c, key), "gone when Stop returns")
}

func TestBankAdvertisesTheAddressItIsGiven(t *testing.T) {
	etcd := etcdtest.Start(t)
	pki := banktest.NewPKI(t)
	cfg := pki.Config(t, bankName, banktest.DataDir(t))
	cfg.Etcd, cfg.Advertise = etcdtest.Config(etcd), "bank-a.internal:7001"
	banktest.Start(t, cfg)
	c := etcdtest.Client(t, etcd)
	waitFor(t, 5*time.Second, "registered", func() bool { return registered(t, c, "/strife/banks/BankA") == "bank-a.internal:7001" })
}

func TestBankConfigRejectsBadEtcdSettings(t *testing.T) {
	pki := banktest.NewPKI(t)
	for name, change := range map[string]func(*bankd.Config){
		"advertise without etcd": func(c *bankd.Config) { c.Advertise = "127.0.0.1:7001" },
		"TLS without endpoints":  func(c *bankd.Config) { c.Etcd.CAFile = "ca.pem" },
		"cert without key": func(c *bankd.Config) {
			c.Etcd = discovery.ClientConfig{Endpoints: []string{"https://etcd:2379"}, CertFile: "c.pem"}
		},
		"endpoint without scheme": func(c *bankd.Config) { c.Etcd.Endpoints = []string{"127.0.0.1:2379"} },
		"sub-second TTL": func(c *bankd.Config) {
			c.Etcd.Endpoints = []string{"http://127.0.0.1:2379"}
			c.LeaseTTL = time.Millisecond
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := pki.Config(t, bankName, banktest.DataDir(t))
			change(&cfg)
			require.Error(t, cfg.Validate())
		})
	}
}

// A bank started while etcd is down serves at once (a gateway may know
// its address), registers as soon as etcd runs, and stops without waiting
// for etcd. On the old code Start failed after the dial timeout with
// "discovery: register /strife/banks/BankA: context deadline exceeded".
func TestBankServesWhileEtcdIsDownAndRegistersWhenItStarts(t *testing.T) {
	etcd := etcdtest.New(t) // not started
	pki := banktest.NewPKI(t)
	logs := &banktest.LogBuffer{}
	cfg := pki.Config(t, bankName, banktest.DataDir(t))
	cfg.Log = zerolog.New(io.MultiWriter(logs, zerolog.NewTestWriter(t)))
	cfg.Etcd, cfg.LeaseTTL = etcd.Config(), 2*time.Second // each try to register waits up to the TTL
	cfg.Etcd.DialTimeout = time.Second
	b, err := bankd.Start(cfg)
	require.NoError(t, err, "a bank serves whether or not etcd runs")
	t.Cleanup(func() { b.Stop() })

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = pki.GatewayClient(t, b.Addr()).OpenAccount(ctx, &strifev1.OpenAccountRequest{Number: alice, Owner: "alice", OpeningBalance: 100})
	require.NoError(t, err, "a call over mutual TLS while etcd is down")
	time.Sleep(5 * time.Second) // two tries to register, or more

	etcd.Start()
	c := etcd.Client(t)
	key := discovery.Key(discovery.Banks, bankName)
	waitFor(t, 10*time.Second, "registered once etcd runs", func() bool { return registered(t, c, key) == b.Addr() })
	require.Equal(t, 1, strings.Count(logs.String(), "not registered in etcd yet"), "one line for the failed tries, not one per try")

	etcd.Stop()
	start := time.Now()
	require.NoError(t, b.Stop())
	require.Less(t, time.Since(start), 5*time.Second, "Stop does not hang while etcd is down")
}

// etcd goes away under a registered bank for longer than its lease, then
// comes back: the key comes back, and the bank's log has one line for
// each change of state (lost, registered again), not one per try. On the
// old code each failed try logged "cannot register in etcd yet", and etcd's
// client a "retrying of unary invoker failed" warning.
func TestBankRegistersAgainAfterAnEtcdOutageAndLogsEachChangeOnce(t *testing.T) {
	const ttl = 2 * time.Second
	etcd := etcdtest.New(t)
	etcd.Start()
	c := etcd.Client(t)
	pki := banktest.NewPKI(t)
	logs := &banktest.LogBuffer{}
	cfg := pki.Config(t, bankName, banktest.DataDir(t))
	cfg.Log = zerolog.New(io.MultiWriter(logs, zerolog.NewTestWriter(t)))
	cfg.Etcd, cfg.LeaseTTL = etcd.Config(), ttl
	cfg.Etcd.DialTimeout = time.Second
	b := banktest.Start(t, cfg)
	key := discovery.Key(discovery.Banks, bankName)
	waitFor(t, 5*time.Second, "registered", func() bool { return registered(t, c, key) == b.Addr() })
	first := b.Registration().Lease()

	etcd.Stop()
	time.Sleep(4 * ttl) // the lease is lost after a TTL; then tries, each up to a TTL
	etcd.Start()
	c = etcd.Client(t)
	waitFor(t, 10*time.Second, "registered again", func() bool {
		return registered(t, c, key) == b.Addr() && b.Registration().Lease() != first
	})
	waitFor(t, 5*time.Second, "logged", func() bool { return strings.Contains(logs.String(), "registered in etcd again") })

	var lines []string
	for line := range strings.Lines(logs.String()) {
		var m struct{ Level, Message, Component string }
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m.Component == "etcd-client" || strings.Contains(m.Message, "etcd") {
			lines = append(lines, m.Level+" "+m.Message)
		}
	}
	require.Equal(t, []string{
		"info registered in etcd",
		"warn etcd registration lost; registering again in the background",
		"info registered in etcd again",
	}, lines)
}

// The real strife-bank, SIGKILLed: nobody revokes its lease, and its key
// expires with it.
func TestKilledBankKeyExpiresWithinItsTTL(t *testing.T) {
	const ttl = 2 * time.Second
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	pki := banktest.NewPKI(t)
	bank := startBank(t, pki, bankFlags{DataDir: banktest.DataDir(t), Etcd: etcd.Endpoints(), LeaseTTL: ttl})
	key := discovery.Key(discovery.Banks, bankName)
	waitFor(t, 5*time.Second, "registered", func() bool { return registered(t, c, key) == bank.Addr })

	bank.Kill()
	killed := time.Now()
	time.Sleep(ttl / 4)
	require.Equal(t, bank.Addr, registered(t, c, key), "still registered %v after the kill: the key expires, nobody revoked it", time.Since(killed))
	for registered(t, c, key) != "" {
		require.Less(t, time.Since(killed), ttl+time.Second, "key still there")
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("key expired %v after SIGKILL (TTL %v)", time.Since(killed), ttl)
}

// A bank in doubt, started without --coordinator, finds the gateway named
// in the PREPARED record (the CN of the gateway that sent the Prepare)
// through its key in etcd, and waits while no such gateway is registered.
func TestInDoubtBankFindsTheGatewayThroughEtcd(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	pki := banktest.NewPKI(t)
	tx := ulid.Make()
	gateway := startCoordinator(t, pki, map[attemptKey]strifev1.Decision{{tx.String(), 1}: strifev1.Decision_DECISION_COMMIT}, nil)
	gateway.open()
	bank := startBank(t, pki, bankFlags{DataDir: banktest.DataDir(t), Seed: seedPath(t), Etcd: etcd.Endpoints(), InDoubtTimeout: 200 * time.Millisecond})

	prepareYes(t, bank.Client(), tx, 1, debit(alice, 100), credit(bob, 100)) // sent with gateway-1's certificate
	waitFor(t, 5*time.Second, "asking", func() bool { return bank.Count("cannot resolve in-doubt attempt yet") >= 2 })
	require.Empty(t, gateway.Calls(), "gateway-1 is not registered yet")
	require.Equal(t, int64(100), getAccount(t, bank.Client(), alice).GetHeld())

	reg, err := discovery.Register(c, discovery.Gateways, "gateway-1", gateway.Addr, 0, zerolog.New(zerolog.NewTestWriter(t)))
	require.NoError(t, err)
	defer reg.Close()

	waitFor(t, 10*time.Second, "resolved", func() bool { return getAccount(t, bank.Client(), alice).GetHeld() == 0 })
	requirePosted(t, listEntries(t, bank.Client(), alice), tx, 1, -100)
	requirePosted(t, listEntries(t, bank.Client(), bob), tx, 1, 100)
	calls := gateway.Calls()
	require.NotEmpty(t, calls)
	require.Equal(t, decisionCall{attemptKey{tx.String(), 1}, bankName, certs.RoleBank}, calls[0])
	require.Zero(t, bank.Stop())
	// Read once the process has exited: its last lines may still have been
	// on their way when the hold was released.
	require.Equal(t, 1, bank.Count("in-doubt attempt resolved", "decision", "COMMIT"))
}
