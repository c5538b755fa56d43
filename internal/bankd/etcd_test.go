package bankd_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/bankd"
	"github.com/strife-pay/strife/internal/devetcd/etcdtest"
	"github.com/strife-pay/strife/internal/discovery"
	"github.com/strife-pay/strife/internal/testbank"
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
	pki := testbank.NewPKI(t)
	cfg := pki.Config(t, bankName, testbank.DataDir(t))
	cfg.Etcd = etcdtest.Config(etcd)
	b, err := bankd.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { b.Stop() })

	key := discovery.Key(discovery.Banks, bankName)
	require.Equal(t, "/strife/banks/BankA", key)
	require.Equal(t, b.Addr(), registered(t, c, key), "registered by the time Start returns, at the listen address")

	require.NoError(t, b.Stop())
	require.Empty(t, registered(t, c, key), "gone when Stop returns")
}

func TestBankAdvertisesTheAddressItIsGiven(t *testing.T) {
	etcd := etcdtest.Start(t)
	pki := testbank.NewPKI(t)
	cfg := pki.Config(t, bankName, testbank.DataDir(t))
	cfg.Etcd, cfg.Advertise = etcdtest.Config(etcd), "bank-a.internal:7001"
	testbank.Start(t, cfg)
	require.Equal(t, "bank-a.internal:7001", registered(t, etcdtest.Client(t, etcd), "/strife/banks/BankA"))
}

func TestBankConfigRejectsBadEtcdSettings(t *testing.T) {
	pki := testbank.NewPKI(t)
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
			cfg := pki.Config(t, bankName, testbank.DataDir(t))
			change(&cfg)
			require.Error(t, cfg.Validate())
		})
	}
}

func TestBankStartFailsWhenEtcdIsUnreachable(t *testing.T) {
	etcd := etcdtest.Start(t)
	endpoints := etcd.Endpoints()
	etcd.Close()
	pki := testbank.NewPKI(t)
	cfg := pki.Config(t, bankName, testbank.DataDir(t))
	cfg.Etcd = discovery.ClientConfig{Endpoints: endpoints, DialTimeout: time.Second}
	start := time.Now()
	_, err := bankd.Start(cfg)
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second, "bounded by the dial timeout")
	// Everything was closed: the data dir can be opened again.
	cfg.Etcd = discovery.ClientConfig{}
	testbank.Start(t, cfg)
}

// The real strife-bank, SIGKILLed: nobody revokes its lease, and its key
// expires with it.
func TestKilledBankKeyExpiresWithinItsTTL(t *testing.T) {
	const ttl = 2 * time.Second
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	pki := testbank.NewPKI(t)
	bank := startBank(t, pki, bankFlags{DataDir: testbank.DataDir(t), Etcd: etcd.Endpoints(), LeaseTTL: ttl})
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
	pki := testbank.NewPKI(t)
	tx := ulid.Make()
	gateway := startCoordinator(t, pki, map[attemptKey]strifev1.Decision{{tx.String(), 1}: strifev1.Decision_DECISION_COMMIT}, nil)
	gateway.open()
	bank := startBank(t, pki, bankFlags{DataDir: testbank.DataDir(t), Seed: seedPath(t), Etcd: etcd.Endpoints(), InDoubtTimeout: 200 * time.Millisecond})

	prepareYes(t, bank.Client(), tx, 1, debit(alice, 100), credit(bob, 100)) // sent with gateway-1's certificate
	waitFor(t, 5*time.Second, "asking", func() bool { return bank.Count("cannot resolve in-doubt attempt yet") >= 2 })
	require.Empty(t, gateway.Calls(), "gateway-1 is not registered yet")
	require.Equal(t, int64(100), getAccount(t, bank.Client(), alice).GetHeld())

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	reg, err := discovery.Register(ctx, c, discovery.Gateways, "gateway-1", gateway.Addr, 0, zerolog.New(zerolog.NewTestWriter(t)))
	require.NoError(t, err)
	defer reg.Close()

	waitFor(t, 10*time.Second, "resolved", func() bool { return getAccount(t, bank.Client(), alice).GetHeld() == 0 })
	requirePosted(t, listEntries(t, bank.Client(), alice), tx, 1, -100)
	requirePosted(t, listEntries(t, bank.Client(), bob), tx, 1, 100)
	calls := gateway.Calls()
	require.NotEmpty(t, calls)
	require.Equal(t, decisionCall{attemptKey{tx.String(), 1}, bankName, certs.RoleBank}, calls[0])
	require.Equal(t, 1, bank.Count("in-doubt attempt resolved", "decision", "COMMIT"))
	require.Zero(t, bank.Stop())
}
