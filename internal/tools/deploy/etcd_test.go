package deploy_test

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/users"
)

// With etcd stopped, a bank and the gateway restarted by up serve again,
// and a payment commits at once: the gateway is given the banks' addresses
// and uses them until etcd answers. On the old code the restarted gateway
// exited before serving ("reading the banks from etcd: context deadline
// exceeded") and the bank right after ("discovery: register ...").
func TestUpCarriesOnWhileEtcdIsDown(t *testing.T) {
	dataDir, base := t.TempDir(), freeBasePort(t)
	demo, err := users.LoadSeed(filepath.Join(repoRoot, "testdata", "demo-users.yaml"))
	require.NoError(t, err)
	up := startUp(t, dataDir, base)
	up.out.wait(t, regexpUp, 0, 60*time.Second)
	w := newWorld(t, dataDir, base, demo)

	from := up.out.len()
	up.send(t, "stop etcd")
	up.out.wait(t, regexp.MustCompile(`\[up\]\s+etcd stopped; type "restart etcd"`), from, 30*time.Second)
	up.restart(t, "BankA")
	up.restart(t, "gateway-1")
	time.Sleep(2 * time.Second) // long enough for an exit after "serving" to show
	require.NotZero(t, up.statusPID(t, "BankA"), "BankA still runs")
	require.NotZero(t, up.statusPID(t, "gateway-1"), "the gateway still runs")

	alice, bob := w.login(t, "alice"), w.login(t, "bob")
	p := &payment{id: ulid.Make().String(), payer: alice, payee: bob, amount: 100}
	p.send(t.Context())
	require.NoError(t, p.unexpected)
	require.True(t, p.committedSeen, "committed while etcd is down: %+v", p)

	up.restart(t, "etcd")
	up.terminate(t, 60*time.Second)
}
