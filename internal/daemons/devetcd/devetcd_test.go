package devetcd_test

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/daemons/devetcd"
	"github.com/strife-pay/strife/internal/plumbing/metrics/metricstest"
)

func start(t *testing.T, dir string) *devetcd.Server {
	t.Helper()
	s, err := devetcd.Start(devetcd.Config{Dir: dir, ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0", Log: zerolog.New(zerolog.NewTestWriter(t))})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func client(t *testing.T, s *devetcd.Server) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: s.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServesAndKeepsDataAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s := start(t, filepath.Join(dir, "etcd"))
	require.Len(t, s.Endpoints(), 1)
	require.True(t, strings.HasPrefix(s.Endpoints()[0], "http://127.0.0.1:"), s.Endpoints())
	require.NotEqual(t, "http://127.0.0.1:0", s.Endpoints()[0], "port 0 is replaced by the port picked")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := client(t, s).Put(ctx, "/strife/test", "kept")
	require.NoError(t, err)
	s.Close()

	s = start(t, filepath.Join(dir, "etcd")) // other ports, same data
	resp, err := client(t, s).Get(ctx, "/strife/test")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	require.Equal(t, "kept", string(resp.Kvs[0].Value))
}

func TestRefusesAnythingButLoopbackHTTP(t *testing.T) {
	for _, u := range []string{"http://0.0.0.0:2379", "http://10.1.2.3:2379", "https://127.0.0.1:2379", "http://example.com:2379", "127.0.0.1:2379"} {
		t.Run(u, func(t *testing.T) {
			_, err := devetcd.Start(devetcd.Config{Dir: t.TempDir(), ClientURL: u})
			require.Error(t, err)
			_, err = devetcd.Start(devetcd.Config{Dir: t.TempDir(), ClientURL: "http://127.0.0.1:0", PeerURL: u})
			require.Error(t, err)
		})
	}
	_, err := devetcd.Start(devetcd.Config{ClientURL: "http://127.0.0.1:0"})
	require.ErrorContains(t, err, "data dir")
}

func TestCommandLogsServingAndStopsWithItsContext(t *testing.T) {
	var out banktest.LogBuffer
	cmd := devetcd.Command()
	cmd.SetArgs([]string{"--data-dir", t.TempDir(), "--listen-client", "http://127.0.0.1:0", "--listen-peer", "http://127.0.0.1:0"})
	cmd.SetErr(&out)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	var serving map[string]any
	require.Eventually(t, func() bool {
		for line := range strings.Lines(out.String()) {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "etcd serving" {
				serving = m
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "etcd serving logged: %s", &out)
	endpoint, _ := serving["endpoint"].(string)
	require.True(t, strings.HasPrefix(endpoint, "http://127.0.0.1:"), serving)

	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Put(ctx, "k", "v")
	require.NoError(t, err)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("etcd command did not stop with its context")
	}
}

// TestServesItsOwnMetrics checks that etcd serves its own metrics where
// MetricsListen says, and that a metrics address off loopback is refused.
func TestServesItsOwnMetrics(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	s, err := devetcd.Start(devetcd.Config{Dir: filepath.Join(t.TempDir(), "etcd"), ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0",
		MetricsListen: addr, Log: zerolog.New(zerolog.NewTestWriter(t))})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	scrape := metricstest.Get(t, addr)
	require.Contains(t, scrape, "etcd_server_has_leader")
	require.Equal(t, 1.0, scrape.Value("etcd_server_has_leader"))

	_, err = devetcd.Start(devetcd.Config{Dir: t.TempDir(), MetricsListen: "0.0.0.0:0"})
	require.ErrorContains(t, err, "loopback")
}
