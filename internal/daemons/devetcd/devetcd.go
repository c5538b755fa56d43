package devetcd

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/strife-pay/strife/internal/plumbing/discovery"
)

// Defaults of Config.
const (
	DefaultClientURL = "http://127.0.0.1:2379"
	DefaultPeerURL   = "http://127.0.0.1:2380"
	// ReadyTimeout bounds the wait for the member to be ready.
	ReadyTimeout = 20 * time.Second
)

// Config configures the development etcd.
type Config struct {
	// Dir holds etcd's data (its WAL and bbolt backend).
	Dir string
	// ClientURL is where clients connect: http on a loopback address. Port
	// 0 picks a free port; see Server.Endpoints. Default DefaultClientURL.
	ClientURL string
	// PeerURL is the member's peer URL, unused by a single member but
	// required by etcd: http on a loopback address, port 0 for a free one.
	// Default DefaultPeerURL.
	PeerURL string
	// MetricsListen, if set, is a loopback HOST:PORT where etcd serves its
	// own Prometheus metrics ("basic": its server, disk and gRPC figures)
	// and /health, over plain HTTP (embed.Config ListenMetricsUrls).
	// Empty: none.
	MetricsListen string
	// Log receives etcd's warnings and errors.
	Log zerolog.Logger
}

// Validate rejects anything but plain http on loopback addresses.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("data dir is empty"))
	}
	for _, u := range []struct{ name, url string }{{"client", c.ClientURL}, {"peer", c.PeerURL}, {"metrics", c.metricsURL()}} {
		if u.url == "" {
			continue
		}
		if _, err := loopbackURL(u.url); err != nil {
			errs = append(errs, fmt.Errorf("%s URL: %w", u.name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("devetcd: invalid config: %w", err)
	}
	return nil
}

// metricsURL is MetricsListen as a URL, "" if it is empty.
func (c Config) metricsURL() string {
	if c.MetricsListen == "" {
		return ""
	}
	return "http://" + c.MetricsListen
}

// loopbackURL parses an http URL whose host is a loopback address.
func loopbackURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("%q is not http://HOST:PORT", s)
	}
	host, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%q is not on a loopback address: the development etcd has no TLS", s)
	}
	return u, nil
}

// Server is a running single-member etcd.
type Server struct {
	etcd     *embed.Etcd
	endpoint string
	level    zap.AtomicLevel
	once     sync.Once
}

// Start starts a single-member etcd with its data in cfg.Dir and waits
// until it serves (at most ReadyTimeout). A Dir from an earlier run keeps
// its keys; leases that were live then expire after their TTL unless
// kept alive again.
func Start(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("devetcd: %w", err)
	}
	level := zap.NewAtomicLevelAt(zapcore.WarnLevel)
	ec, err := embedConfig(cfg, level)
	if err != nil {
		return nil, err
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("devetcd: start: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("devetcd: start: %w", err)
	case <-time.After(ReadyTimeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("devetcd: not ready within %v", ReadyTimeout)
	}
	return &Server{etcd: e, endpoint: "http://" + e.Clients[0].Addr().String(), level: level}, nil
}

func embedConfig(cfg Config, level zap.AtomicLevel) (*embed.Config, error) {
	client, err := resolve(cfg.ClientURL, DefaultClientURL)
	if err != nil {
		return nil, err
	}
	peer, err := resolve(cfg.PeerURL, DefaultPeerURL)
	if err != nil {
		return nil, err
	}
	ec := embed.NewConfig()
	ec.Name = "strife-dev"
	ec.Dir = cfg.Dir
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	if cfg.MetricsListen != "" {
		metrics, err := loopbackURL(cfg.metricsURL())
		if err != nil {
			return nil, err
		}
		ec.ListenMetricsUrls, ec.Metrics = []url.URL{*metrics}, "basic"
	}
	ec.Logger = "zap"
	lg := discovery.ZapLogger(cfg.Log.With().Str("component", "etcd").Logger(), level)
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg.WithOptions(zap.WrapCore(dropBenign)))
	ec.EnableGRPCGateway = false
	return ec, nil
}

// resolve parses a loopback URL (def if empty) and replaces port 0 with a
// free port. etcd needs the port before it listens: the peer URL is part
// of the cluster's configuration.
func resolve(s, def string) (*url.URL, error) {
	if s == "" {
		s = def
	}
	u, err := loopbackURL(s)
	if err != nil {
		return nil, err
	}
	if u.Port() != "0" {
		return u, nil
	}
	l, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("devetcd: pick a port for %s: %w", s, err)
	}
	u.Host = l.Addr().String()
	l.Close()
	return u, nil
}

// Endpoints are the client URLs to give an etcd client.
func (s *Server) Endpoints() []string { return []string{s.endpoint} }

// Err delivers an error if the server fails while running.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Close stops the server and waits for it. What etcd logs while it stops
// (listeners closed under its servers, at error level) is dropped.
func (s *Server) Close() {
	s.once.Do(func() {
		s.level.SetLevel(zapcore.FatalLevel)
		s.etcd.Close()
	})
}

// benign are etcd's warnings that say nothing about a loopback-only,
// single-member development server.
var benign = map[string]bool{
	"simple token is not cryptographically signed":                                         true,
	"Running http and grpc server on single port. This is not recommended for production.": true,
}

// dropBenign filters the benign warnings out of a zap core.
func dropBenign(c zapcore.Core) zapcore.Core { return benignFilter{c} }

type benignFilter struct{ zapcore.Core }

func (f benignFilter) With(fields []zapcore.Field) zapcore.Core {
	return benignFilter{f.Core.With(fields)}
}

func (f benignFilter) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if benign[e.Message] {
		return ce
	}
	return f.Core.Check(e, ce)
}
