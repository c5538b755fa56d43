package discovery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/daemons/devetcd"
	"github.com/strife-pay/strife/internal/daemons/devetcd/etcdtest"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
)

// wait bounds every wait for etcd or a watch in these tests.
const wait = 5 * time.Second

func testLog(t *testing.T) zerolog.Logger { return zerolog.New(zerolog.NewTestWriter(t)) }

func register(t *testing.T, c *clientv3.Client, service, name, addr string, ttl time.Duration) *discovery.Registration {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	r, err := discovery.Register(c, service, name, addr, ttl, testLog(t))
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	require.NoError(t, r.Wait(ctx))
	return r
}

// get returns the address registered under key and its lease, or "" if
// the key does not exist.
func get(t *testing.T, c *clientv3.Client, key string) (string, clientv3.LeaseID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	resp, err := c.Get(ctx, key)
	require.NoError(t, err)
	if len(resp.Kvs) == 0 {
		return "", 0
	}
	var v struct{ Addr string }
	require.NoError(t, json.Unmarshal(resp.Kvs[0].Value, &v), string(resp.Kvs[0].Value))
	return v.Addr, clientv3.LeaseID(resp.Kvs[0].Lease)
}

func TestRegisterPutsTheKeyOnALeaseAndCloseDeletesItAtOnce(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	r := register(t, c, discovery.Banks, "BankA", "127.0.0.1:7001", 0)

	addr, lease := get(t, c, "/strife/banks/BankA")
	require.Equal(t, "127.0.0.1:7001", addr)
	require.Equal(t, r.Lease(), lease)
	ttl, err := c.TimeToLive(t.Context(), lease)
	require.NoError(t, err)
	require.Equal(t, int64(5), ttl.GrantedTTL, "default TTL")

	time.Sleep(6 * time.Second) // longer than the TTL: the keep-alives hold it
	addr, _ = get(t, c, "/strife/banks/BankA")
	require.Equal(t, "127.0.0.1:7001", addr, "kept alive past its TTL")

	require.NoError(t, r.Close())
	addr, _ = get(t, c, "/strife/banks/BankA")
	require.Empty(t, addr, "deleted when Close returns")
	require.NoError(t, r.Close(), "a second Close does nothing")
}

func TestKeyExpiresWithItsLeaseWhenKeepAlivesStop(t *testing.T) {
	etcd := etcdtest.Start(t)
	observer := etcdtest.Client(t, etcd)
	crashing := etcdtest.Client(t, etcd)
	register(t, crashing, discovery.Gateways, "gateway-1", "127.0.0.1:7000", 2*time.Second)

	crashing.Close() // no more keep-alives, and no revoke: as if the process died
	died := time.Now()
	time.Sleep(time.Second)
	addr, _ := get(t, observer, "/strife/gateways/gateway-1")
	require.NotEmpty(t, addr, "still registered 1s after the keep-alives stopped: it expires, it is not revoked")
	require.Eventually(t, func() bool { a, _ := get(t, observer, "/strife/gateways/gateway-1"); return a == "" }, 3*time.Second, 20*time.Millisecond)
	t.Logf("key expired %v after the keep-alives stopped", time.Since(died))
}

func TestALostLeaseIsRegisteredAgain(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	r := register(t, c, discovery.Banks, "BankA", "127.0.0.1:7001", 2*time.Second)
	first := r.Lease()

	_, err := etcdtest.Client(t, etcd).Revoke(t.Context(), first) // an operator, or an expiry
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		addr, lease := get(t, c, "/strife/banks/BankA")
		return addr == "127.0.0.1:7001" && lease != first && lease == r.Lease()
	}, wait, 20*time.Millisecond, "registered again on a new lease")
	require.NoError(t, r.Close())
	addr, _ := get(t, c, "/strife/banks/BankA")
	require.Empty(t, addr)
}

func TestRegisterRejectsBadArguments(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	for _, tc := range []struct{ service, name, addr string }{
		{"clients", "BankA", "127.0.0.1:1"},
		{discovery.Banks, "Bank/A", "127.0.0.1:1"},
		{discovery.Banks, "", "127.0.0.1:1"},
		{discovery.Banks, "BankA", ""},
	} {
		_, err := discovery.Register(c, tc.service, tc.name, tc.addr, 0, testLog(t))
		require.ErrorIs(t, err, discovery.ErrInvalid, "%+v", tc)
	}
	_, err := discovery.Register(c, discovery.Banks, "BankA", "127.0.0.1:1", 500*time.Millisecond, testLog(t))
	require.ErrorIs(t, err, discovery.ErrInvalid, "TTL under a second")
}

// Close never waits for etcd longer than its bounded revoke: a process
// stopping while etcd is down stops, and its key expires with the lease.
func TestCloseIsBoundedWhileEtcdIsDown(t *testing.T) {
	etcd := etcdtest.New(t)
	etcd.Start()
	c := etcd.Client(t)
	registered := register(t, c, discovery.Banks, "BankA", "127.0.0.1:7001", 0)
	never, err := discovery.Register(c, discovery.Banks, "BankB", "127.0.0.1:7002", 0, testLog(t))
	require.NoError(t, err)
	etcd.Stop()

	start := time.Now()
	require.NoError(t, never.Close(), "never registered: nothing to revoke")
	require.Less(t, time.Since(start), time.Second)
	start = time.Now()
	require.Error(t, registered.Close(), "the revoke could not reach etcd")
	require.Less(t, time.Since(start), 5*time.Second, "bounded by the revoke's timeout")
}

// dialer records the dials of a Directory. Its participants are never
// called: these tests are about which banks the directory has, and the
// gateway's tests call real banks through it.
type dialer struct {
	mu     sync.Mutex
	dials  []string // "name addr"
	closed []string
}

type stubBank struct{ coordinator.Participant }

func (d *dialer) dial(name, addr string) (coordinator.Participant, io.Closer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials = append(d.dials, name+" "+addr)
	return stubBank{}, closerFunc(func() error {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.closed = append(d.closed, name+" "+addr)
		return nil
	}), nil
}

func (d *dialer) snapshot() (dials, closed []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dials...), append([]string(nil), d.closed...)
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func newDirectory(t *testing.T, etcd *devetcd.Server, d *dialer) *discovery.Directory {
	t.Helper()
	dir, err := discovery.NewDirectory(etcdtest.Client(t, etcd), d.dial, nil, testLog(t))
	require.NoError(t, err)
	t.Cleanup(dir.Close)
	select {
	case <-dir.Synced():
	case <-time.After(wait):
		t.Fatal("the directory did not read the banks from etcd")
	}
	return dir
}

func available(dir *discovery.Directory, bank string) bool {
	_, ok := dir.Participant(bank)
	return ok
}

// changed waits for a notification from the directory.
func changed(t *testing.T, dir *discovery.Directory) {
	t.Helper()
	select {
	case <-dir.Changes():
	case <-time.After(wait):
		t.Fatal("no change notified")
	}
}

func TestDirectoryHasTheBanksRegisteredWhenItStarts(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	register(t, c, discovery.Banks, "BankA", "127.0.0.1:7001", 0)
	register(t, c, discovery.Banks, "BankB", "127.0.0.1:7002", 0)
	register(t, c, discovery.Gateways, "gateway-1", "127.0.0.1:7000", 0)

	d := &dialer{}
	dir := newDirectory(t, etcd, d)
	require.Equal(t, []string{"BankA", "BankB"}, dir.Banks(), "banks only, once synced")
	dials, _ := d.snapshot()
	require.ElementsMatch(t, []string{"BankA 127.0.0.1:7001", "BankB 127.0.0.1:7002"}, dials)
	require.False(t, available(dir, "BankC"))
}

func TestDirectoryFollowsBanksComingAndGoing(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	d := &dialer{}
	dir := newDirectory(t, etcd, d)
	require.Empty(t, dir.Banks())

	a := register(t, c, discovery.Banks, "BankA", "127.0.0.1:7001", 0)
	changed(t, dir)
	require.True(t, available(dir, "BankA"))

	require.NoError(t, a.Close())
	changed(t, dir)
	require.False(t, available(dir, "BankA"), "gone as soon as its key is")
	_, closed := d.snapshot()
	require.Empty(t, closed, "the connection lingers for calls in flight")

	// Back at another address: dialled there.
	register(t, c, discovery.Banks, "BankA", "127.0.0.1:7101", 0)
	changed(t, dir)
	require.True(t, available(dir, "BankA"))
	dials, _ := d.snapshot()
	require.Equal(t, []string{"BankA 127.0.0.1:7001", "BankA 127.0.0.1:7101"}, dials)

	dir.Close()
	_, closed = d.snapshot()
	require.ElementsMatch(t, []string{"BankA 127.0.0.1:7001", "BankA 127.0.0.1:7101"}, closed, "Close closes every connection, lingering ones too")
	_, open := <-dir.Changes()
	require.False(t, open, "Changes is closed by Close")
}

func TestDirectoryRedialsABankThatRegistersAgainAtTheSameAddress(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	d := &dialer{}
	dir := newDirectory(t, etcd, d)

	register(t, c, discovery.Banks, "BankA", "127.0.0.1:7001", 0)
	changed(t, dir)
	// A restarted bank puts its key on a new lease before the old one expired.
	register(t, c, discovery.Banks, "BankA", "127.0.0.1:7001", 0)
	changed(t, dir)
	require.Eventually(t, func() bool { dials, _ := d.snapshot(); return len(dials) == 2 }, wait, 10*time.Millisecond)
	require.True(t, available(dir, "BankA"))
}

func TestDirectoryWaitsForBanks(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	dir := newDirectory(t, etcd, &dialer{})

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, dir.Wait(ctx, "BankA"), context.DeadlineExceeded)

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		defer cancel()
		done <- dir.Wait(ctx, "BankA", "BankB")
	}()
	register(t, c, discovery.Banks, "BankA", "127.0.0.1:7001", 0)
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v with BankB missing", err)
	case <-time.After(100 * time.Millisecond):
	}
	register(t, c, discovery.Banks, "BankB", "127.0.0.1:7002", 0)
	require.NoError(t, <-done)
}

// A gateway started while etcd is down uses the banks it is told of, and
// etcd's view replaces them once etcd answers (here BankB, not registered,
// goes away, and BankC appears).
func TestDirectoryStartsWithTheKnownBanksWhileEtcdIsDown(t *testing.T) {
	etcd := etcdtest.New(t)
	d := &dialer{}
	dir, err := discovery.NewDirectory(etcd.Client(t), d.dial, map[string]string{"BankA": "127.0.0.1:7001", "BankB": "127.0.0.1:7002"}, testLog(t))
	require.NoError(t, err, "etcd is not running: NewDirectory does not wait for it")
	defer dir.Close()
	require.Equal(t, []string{"BankA", "BankB"}, dir.Banks())

	etcd.Start()
	c := etcd.Client(t)
	register(t, c, discovery.Banks, "BankA", "127.0.0.1:7001", 0)
	register(t, c, discovery.Banks, "BankC", "127.0.0.1:7003", 0)
	select {
	case <-dir.Synced():
	case <-time.After(10 * time.Second):
		t.Fatal("the directory did not read the banks once etcd started")
	}
	require.Eventually(t, func() bool { return slices.Equal(dir.Banks(), []string{"BankA", "BankC"}) }, wait, 10*time.Millisecond,
		"etcd's view replaced the known one: %v", dir.Banks())
}

func TestDirectoryTreatsABankItCannotDialAsAway(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	fail := func(name, addr string) (coordinator.Participant, io.Closer, error) {
		return nil, nil, fmt.Errorf("no dial to %s", addr)
	}
	dir, err := discovery.NewDirectory(c, fail, nil, testLog(t))
	require.NoError(t, err)
	defer dir.Close()
	register(t, c, discovery.Banks, "BankA", "127.0.0.1:7001", 0)
	changed(t, dir)
	require.False(t, available(dir, "BankA"))
}

func TestCoordinatorsRefusesAnUnknownGateway(t *testing.T) {
	etcd := etcdtest.Start(t)
	coords, err := discovery.NewCoordinators(etcdtest.Client(t, etcd), nil, testLog(t))
	require.NoError(t, err)
	defer coords.Close()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	_, err = coords.GetDecision(ctx, "gateway-9", ulid.Make(), 1)
	require.ErrorIs(t, err, discovery.ErrUnknownGateway)
}

// While etcd is down, the directory keeps the banks it last saw; the
// registration outlives its lease and registers again when etcd is back;
// the watch resumes.
func TestRegistrationAndDirectoryOutliveAnEtcdOutage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	etcd, err := devetcd.Start(devetcd.Config{Dir: dir, ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0", Log: testLog(t)})
	require.NoError(t, err)
	t.Cleanup(etcd.Close)
	cfg := etcdtest.Config(etcd)
	client := func() *clientv3.Client {
		c, err := discovery.NewClient(cfg, testLog(t))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	bank, gateway := client(), client()
	a := register(t, bank, discovery.Banks, "BankA", "127.0.0.1:7001", 2*time.Second)
	d := &dialer{}
	directory := newDirectory(t, etcd, d)
	require.True(t, available(directory, "BankA"))

	etcd.Close()
	time.Sleep(3 * time.Second) // longer than the TTL
	require.True(t, available(directory, "BankA"), "the view stays as last seen while etcd is down")

	etcd, err = devetcd.Start(devetcd.Config{Dir: dir, ClientURL: cfg.Endpoints[0], PeerURL: "http://127.0.0.1:0", Log: testLog(t)})
	require.NoError(t, err)
	t.Cleanup(etcd.Close)
	observer := client()
	// etcd restores leases when it restarts, so the keep-alive may go on on
	// the old lease or, if its channel closed meanwhile, the key is written
	// again on a new one. Either way the key must be there, and still be
	// there once the old lease's TTL has passed (below).
	require.Eventually(t, func() bool {
		addr, lease := get(t, observer, "/strife/banks/BankA")
		return addr == "127.0.0.1:7001" && lease == a.Lease()
	}, 10*time.Second, 50*time.Millisecond, "registered again")
	register(t, gateway, discovery.Banks, "BankB", "127.0.0.1:7002", 0)
	require.Eventually(t, func() bool { return available(directory, "BankB") }, 10*time.Second, 10*time.Millisecond, "the watch resumed")
	require.True(t, available(directory, "BankA"))
	time.Sleep(3 * time.Second) // the old lease, restored by etcd, expires: the key is on the new one
	require.True(t, available(directory, "BankA"))
	addr, _ := get(t, observer, "/strife/banks/BankA")
	require.Equal(t, "127.0.0.1:7001", addr)
}
