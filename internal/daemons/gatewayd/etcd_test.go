package gatewayd_test

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/daemons/devetcd/etcdtest"
	"github.com/strife-pay/strife/internal/daemons/gatewayd"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

const pending = strifev1.PaymentStatus_PAYMENT_STATUS_PENDING

// etcdEnv is env with discovery: the banks register in a real etcd, and the
// gateway finds them there and registers itself.
type etcdEnv struct {
	*env
	etcd     *etcdtest.Etcd
	kv       *clientv3.Client
	bankCfgs map[string]bankd.Config
}

// newEtcdEnv starts etcd and the gateway's configuration; the banks start
// with startBank, the gateway with start.
func newEtcdEnv(t *testing.T) *etcdEnv {
	t.Helper()
	e := newStoppedEtcdEnv(t)
	e.etcd.Start()
	return e
}

// newStoppedEtcdEnv is newEtcdEnv with etcd not started yet: e.etcd.Start
// starts it, e.etcd.Stop stops it.
func newStoppedEtcdEnv(t *testing.T) *etcdEnv {
	t.Helper()
	etcd := etcdtest.New(t)
	e := &etcdEnv{
		env:  &env{pki: banktest.NewPKI(t), banks: map[string]*bankd.Bank{}, bankClients: map[string]strifev1.BankServiceClient{}, logs: &logBuffer{}, bankLogs: map[string]*logBuffer{}},
		etcd: etcd, kv: etcd.Client(t), bankCfgs: map[string]bankd.Config{},
	}
	e.cfg = gatewayd.Config{
		Config: daemon.Config{
			Name: "gateway-1", Listen: "127.0.0.1:0", DataDir: banktest.DataDir(t),
			TLS: e.pki.Files(t, certs.RoleGateway, "gateway-1"), Etcd: etcd.Config(),
			Log: zerolog.New(io.MultiWriter(e.logs, zerolog.NewTestWriter(t))).With().Timestamp().Logger(),
		},
		TokenKeyFile: banktest.TokenKey(t),
		UsersFile:    banktest.Testdata(t, "users.yaml"), BcryptCost: bcrypt.MinCost,
	}
	t.Cleanup(func() { verifyUsers(t, e.walPath()) })
	return e
}

// startBank starts a bank registered in etcd: the first time with a new
// data dir and port, later on the same ones.
func (e *etcdEnv) startBank(t *testing.T, name string) *bankd.Bank {
	t.Helper()
	cfg, ok := e.bankCfgs[name]
	if !ok {
		cfg = e.pki.Config(t, name, banktest.DataDir(t))
		e.bankLogs[name] = &logBuffer{}
		cfg.Log = zerolog.New(io.MultiWriter(e.bankLogs[name], zerolog.NewTestWriter(t))).With().Str("bank", name).Logger()
		cfg.Etcd = e.etcd.Config()
		t.Cleanup(func() { verifyLedger(t, filepath.Join(cfg.DataDir, name+".db")) })
	}
	b := banktest.Start(t, cfg)
	if !ok {
		cfg.Listen = b.Addr() // a restart listens where the bank was
		e.bankCfgs[name] = cfg
		e.bankClients[name] = e.pki.GatewayClient(t, b.Addr())
		for _, a := range bankAccounts[name] {
			_, err := e.bankClients[name].OpenAccount(t.Context(), &strifev1.OpenAccountRequest{Number: a.number, Owner: a.owner, OpeningBalance: a.opening})
			require.NoError(t, err)
		}
	}
	e.banks[name] = b
	return b
}

// registered returns the address under a key, "" if there is none.
func (e *etcdEnv) registered(t *testing.T, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := e.kv.Get(ctx, key)
	require.NoError(t, err)
	if len(resp.Kvs) == 0 {
		return ""
	}
	var v struct{ Addr string }
	require.NoError(t, json.Unmarshal(resp.Kvs[0].Value, &v))
	return v.Addr
}

// logged waits until the gateway has logged message with the bank field.
func (e *etcdEnv) logged(t *testing.T, message, bank string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		for line := range strings.Lines(e.logs.String()) {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == message && m["bank"] == bank {
				return true
			}
		}
		return false
	}, within, time.Millisecond, "gateway logged %q for %s", message, bank)
}

// A bank that goes away makes new payments to it PENDING at once; when it
// comes back, the watch wakes them and they commit within a second.
func TestGatewayFollowsBanksThroughTheWatch(t *testing.T) {
	e := newEtcdEnv(t)
	e.startBank(t, "BankA")
	e.startBank(t, "BankB")
	e.start(t)
	alice := e.login(t, "alice", alicePassword)
	require.Equal(t, committed, alice.pay(t, toAccount(ulid.Make(), "BankB/2001", 100)).GetStatus(), "both banks found in etcd")

	require.NoError(t, e.banks["BankB"].Stop())
	stopped := time.Now()
	require.Empty(t, e.registered(t, "/strife/banks/BankB"))
	e.logged(t, "bank went away", "BankB", time.Second)
	t.Logf("gateway saw BankB go %v after its Stop returned", time.Since(stopped))

	id := ulid.Make()
	start := time.Now()
	p := alice.pay(t, toAccount(id, "BankB/2001", 250))
	took := time.Since(start)
	require.Equal(t, pending, p.GetStatus())
	require.Zero(t, p.GetAttempts(), "no attempt: the directory knew BankB was away, no Prepare timed out")
	require.Less(t, took, 500*time.Millisecond, "PENDING at once, not after the 2s prepare timeout")
	t.Logf("Pay to a bank that went away answered PENDING in %v", took)

	// BankB comes back: same name, data dir and address.
	back := make(chan time.Time, 1)
	watch := e.kv.Watch(t.Context(), "/strife/banks/BankB")
	go func() {
		for resp := range watch {
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypePut {
					back <- time.Now()
					return
				}
			}
		}
	}()
	e.startBank(t, "BankB")
	var keyBack time.Time
	select {
	case keyBack = <-back:
	case <-time.After(5 * time.Second):
		t.Fatal("BankB's key did not come back")
	}
	for {
		got, err := alice.GetPayment(alice.ctx, &strifev1.GetPaymentRequest{TransactionId: id.String()})
		require.NoError(t, err)
		if got.GetPayment().GetStatus() == committed {
			break
		}
		require.Equal(t, pending, got.GetPayment().GetStatus())
		require.Less(t, time.Since(keyBack), time.Second, "COMMITTED within 1s of BankB's key coming back")
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("COMMITTED %v after BankB's key came back", time.Since(keyBack))
	e.settled(t)
	require.Equal(t, int64(50000+100+250), e.posted(t, "BankB/2001"))
	require.Equal(t, int64(100000-100-250), e.posted(t, "BankA/1001"))
}

func TestGatewayRegistersUntilItStops(t *testing.T) {
	e := newEtcdEnv(t)
	e.startBank(t, "BankA")
	e.startBank(t, "BankB")
	e.start(t)
	require.NoError(t, e.gw.Registration().Wait(t.Context()))
	require.Equal(t, e.gw.Addr(), e.registered(t, "/strife/gateways/gateway-1"))
	require.NoError(t, e.gw.Stop())
	require.Empty(t, e.registered(t, "/strife/gateways/gateway-1"), "gone when Stop returns")
}

// In a deployment that starts everything at once, the gateway may be up
// before the banks that its users seed file needs.
func TestGatewayWaitsForTheSeedFilesBanksBeforeSeeding(t *testing.T) {
	e := newEtcdEnv(t)
	e.startBank(t, "BankA")
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(500 * time.Millisecond)
		e.startBank(t, "BankB")
	}()
	start := time.Now()
	e.start(t)
	<-done
	require.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond, "waited for BankB")
	bob := e.login(t, "bob", bobPassword)
	resp, err := bob.GetBalance(bob.ctx, &strifev1.GetBalanceRequest{})
	require.NoError(t, err)
	require.Equal(t, int64(50000), resp.GetAccounts()[0].GetPostedBalance(), "bob's account opened at BankB")
}

func TestGatewayConfigChecksBanksAndEtcd(t *testing.T) {
	e := newEtcdEnv(t)
	cfg := e.cfg
	cfg.Banks = map[string]string{"BankA": "127.0.0.1:7001"}
	require.NoError(t, cfg.Validate(), "static banks with etcd: the banks known until etcd answers")
	cfg.Banks = map[string]string{"BankA": ""}
	require.ErrorContains(t, cfg.Validate(), "no address")
	cfg = e.cfg
	cfg.Etcd = discovery.ClientConfig{}
	require.ErrorContains(t, cfg.Validate(), "no bank configured")
	cfg.Banks, cfg.Advertise = map[string]string{"BankA": "127.0.0.1:7001"}, "127.0.0.1:7000"
	require.ErrorContains(t, cfg.Validate(), "advertised address needs etcd")
	cfg = e.cfg
	cfg.LeaseTTL = 100 * time.Millisecond
	require.ErrorContains(t, cfg.Validate(), "lease TTL")
}
