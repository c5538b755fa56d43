package etcdtest

import (
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strife-pay/strife/internal/daemons/devetcd"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
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

// Etcd is an etcd that a test stops and starts: its ports are picked once,
// up front, and it keeps its data directory, so that clients given its
// endpoints before it first started reach it whenever it runs.
type Etcd struct {
	t   testing.TB
	cfg devetcd.Config

	mu sync.Mutex
	s  *devetcd.Server // nil while stopped
}

// New picks two free ports on 127.0.0.1 and a data directory for an etcd,
// without starting it. It is stopped when the test ends.
func New(t testing.TB) *Etcd {
	t.Helper()
	e := &Etcd{t: t, cfg: devetcd.Config{
		Dir:       filepath.Join(t.TempDir(), "etcd"),
		ClientURL: "http://" + freeAddr(t),
		PeerURL:   "http://" + freeAddr(t),
		Log:       zerolog.New(zerolog.NewTestWriter(t)),
	}}
	t.Cleanup(e.Stop)
	return e
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
// Listeners set SO_REUSEADDR, so etcd can listen there again after a stop.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// Start starts etcd, on its ports and data, and waits until it serves.
func (e *Etcd) Start() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	require.Nil(e.t, e.s, "etcd is running already")
	s, err := devetcd.Start(e.cfg)
	require.NoError(e.t, err)
	e.s = s
}

// Stop stops etcd if it runs; its data stays for the next Start.
func (e *Etcd) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.s != nil {
		e.s.Close()
		e.s = nil
	}
}

// Endpoints are the client URLs, the same whether etcd runs or not.
func (e *Etcd) Endpoints() []string { return []string{e.cfg.ClientURL} }

// Config is the client configuration of e.
func (e *Etcd) Config() discovery.ClientConfig {
	return discovery.ClientConfig{Endpoints: e.Endpoints(), DialTimeout: 5 * time.Second}
}

// Client is a client of e, closed when the test ends. It may be made while
// etcd is stopped: its calls wait (within their context) until etcd runs.
func (e *Etcd) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	c, err := discovery.NewClient(e.Config(), zerolog.New(zerolog.NewTestWriter(t)))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}
