// Package etcdtest is test plumbing: a real embedded etcd (package devetcd)
// on 127.0.0.1 with free ports and its data in a temporary directory, and
// etcd clients that are closed when the test ends.
package etcdtest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strife-pay/strife/internal/devetcd"
	"github.com/strife-pay/strife/internal/discovery"
)

// Start starts an etcd for the test and closes it when the test ends.
func Start(t testing.TB) *devetcd.Server {
	t.Helper()
	s, err := devetcd.Start(devetcd.Config{
		Dir:       filepath.Join(t.TempDir(), "etcd"),
		ClientURL: "http://127.0.0.1:0",
		PeerURL:   "http://127.0.0.1:0",
		Log:       zerolog.New(zerolog.NewTestWriter(t)),
	})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// Config is the client configuration of s.
func Config(s *devetcd.Server) discovery.ClientConfig {
	return discovery.ClientConfig{Endpoints: s.Endpoints(), DialTimeout: 5 * time.Second}
}

// Client is a client of s, closed when the test ends.
func Client(t testing.TB, s *devetcd.Server) *clientv3.Client {
	t.Helper()
	c, err := discovery.NewClient(Config(s), zerolog.New(zerolog.NewTestWriter(t)))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}
