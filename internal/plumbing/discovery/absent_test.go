package discovery_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/daemons/devetcd/etcdtest"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
)

// messages are the messages of the JSON log lines in logs at warn level or
// above, and at info level those that mention etcd: what an operator reads
// about the registration, including what etcd's client logs.
func messages(logs string) []string {
	var out []string
	for line := range strings.Lines(logs) {
		var m struct{ Level, Message, Component string }
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if m.Level != "info" && m.Level != "debug" || strings.Contains(m.Message, "etcd") {
			out = append(out, m.Message)
		}
	}
	return out
}

// A registration made while etcd is down, then through an outage longer
// than its lease: the key appears when etcd starts and comes back after the
// outage, and the log has one line per change of state, however many tries
// each took (about 5 here, and a line each on the old code).
func TestRegistrationLogsOnceAStateChangesWhileEtcdComesAndGoes(t *testing.T) {
	const ttl = 2 * time.Second
	etcd := etcdtest.New(t)
	logs := &banktest.LogBuffer{}
	log := zerolog.New(io.MultiWriter(logs, zerolog.NewTestWriter(t)))
	cfg := etcd.Config()
	cfg.DialTimeout = time.Second
	c, err := discovery.NewClient(cfg, log)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })

	r, err := discovery.Register(c, discovery.Banks, "BankA", "127.0.0.1:7001", ttl, log)
	require.NoError(t, err, "etcd is down: Register does not wait for it")
	t.Cleanup(func() { r.Close() })
	time.Sleep(3 * ttl) // a few tries, each bounded by the TTL, with backoff

	etcd.Start()
	observer := etcd.Client(t)
	require.NoError(t, r.Wait(t.Context()))
	addr, lease := get(t, observer, "/strife/banks/BankA")
	require.Equal(t, "127.0.0.1:7001", addr)
	require.Equal(t, r.Lease(), lease)

	etcd.Stop()
	time.Sleep(4 * ttl) // the lease is lost after one TTL, then a few tries
	etcd.Start()
	observer = etcd.Client(t)
	require.Eventually(t, func() bool {
		addr, lease := get(t, observer, "/strife/banks/BankA")
		return addr == "127.0.0.1:7001" && lease == r.Lease() && lease != 0
	}, 10*time.Second, 50*time.Millisecond, "registered again on a new lease")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "registered in etcd again") }, wait, 10*time.Millisecond)

	require.NoError(t, r.Close())
	require.Equal(t, []string{
		"not registered in etcd yet; serving anyway, retrying in the background",
		"registered in etcd",
		"etcd registration lost; registering again in the background",
		"registered in etcd again",
		"deregistered from etcd",
	}, messages(logs.String()))
}
