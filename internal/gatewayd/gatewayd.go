package gatewayd

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/auth"
	"github.com/strife-pay/strife/internal/discovery"
	"github.com/strife-pay/strife/internal/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// Config configures a gateway daemon. Zero durations and cost take the
// defaults documented on each field.
type Config struct {
	// Name is the gateway's name, e.g. "gateway-1". It should match the CN
	// of its certificate, which is how banks know their coordinator.
	Name string
	// Listen is the gRPC listen address, e.g. "127.0.0.1:7000" (port 0 picks
	// one; see Gateway.Addr).
	Listen string
	// DataDir holds the gateway's bbolt file, <DataDir>/<Name>.db: users,
	// payments and decisions in one write-ahead log.
	DataDir string
	// TLS names the gateway's certificate, key, CA and revocation list
	// (default: ca.crl next to the CA). The certificate serves clients and
	// banks, and is presented to the banks. Its Log is set to Log.
	TLS certs.Files
	// TokenKeyFile is the hex key that signs login tokens (token.key, made
	// by strife-certs init).
	TokenKeyFile string
	// Banks maps each bank's name to its address. A bank must present a
	// bank certificate with exactly that name. Without Etcd, these are the
	// banks. With Etcd, they are the banks known until etcd first answers
	// (so that a gateway started while etcd is down can pay), and etcd's
	// view replaces them from then on.
	Banks map[string]string
	// Etcd, if it has endpoints, is where the banks are found (each under
	// /strife/banks/<name>, watched) and where the gateway registers,
	// under /strife/gateways/<Name>, for banks in doubt to find it.
	Etcd discovery.ClientConfig
	// Advertise is the address registered in etcd. Default: the address
	// the gateway listens on (give it when listening on 0.0.0.0).
	Advertise string
	// LeaseTTL is the TTL of the registration's lease: how long a crashed
	// gateway stays registered. Default 5s; etcd's minimum is 2s.
	LeaseTTL time.Duration
	// UsersFile, if set, is a YAML file of users to register when the user
	// store is empty (see users.SeedFile). Later starts ignore it. With Etcd,
	// seeding first waits (up to 30s) for the banks of its accounts to
	// register.
	UsersFile string
	// PrepareTimeout bounds the wait for votes. Default 2s.
	PrepareTimeout time.Duration
	// MaxHold is how long a payment may stay PENDING. Default 10m.
	MaxHold time.Duration
	// TokenLifetime is how long a login token is valid. Default 15m.
	TokenLifetime time.Duration
	// BcryptCost is the cost of password hashes. Default 12.
	BcryptCost int
	// UserThrottle and CertThrottle slow down, then lock, the failed logins
	// of a username (as given, known or not) and of a client certificate.
	// Zero fields take auth.DefaultUserThrottle and auth.DefaultCertThrottle.
	UserThrottle, CertThrottle auth.ThrottleConfig
	// HashSlots bounds the bcrypt hashings that run at once, so that logins
	// cannot take every CPU from payments. Default auth.DefaultHashSlots():
	// half the CPUs, at least 1.
	HashSlots int
	// HashQueue bounds the logins waiting for a hashing slot; past it they
	// are refused with RESOURCE_EXHAUSTED at once. Default 4 per slot.
	HashQueue int
	// DrainTimeout bounds how long Stop waits for calls in flight. Default 10s.
	DrainTimeout time.Duration
	// MetricsListen, if set, is where the gateway serves its Prometheus
	// metrics, at /metrics over plain HTTP (see package metrics). Empty:
	// no metrics, and nothing is measured.
	MetricsListen string
	Log           zerolog.Logger
	// FailWrites is for tests: it makes the data file's commits fail as a
	// full disk would (see wal.Options.FailWrites). Nil in production.
	FailWrites func() error
}

// Validate reports everything wrong with c at once.
func (c Config) Validate() error {
	var errs []error
	if err := certs.CheckName(c.Name); err != nil {
		errs = append(errs, fmt.Errorf("gateway name: %w", err))
	}
	for _, f := range []struct{ name, value string }{{"listen address", c.Listen}, {"data dir", c.DataDir}, {"token key file", c.TokenKeyFile}} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s is empty", f.name))
		}
	}
	errs = append(errs, c.validateBanks())
	for _, d := range []time.Duration{c.PrepareTimeout, c.MaxHold, c.TokenLifetime, c.DrainTimeout, c.LeaseTTL} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("negative duration %v", d))
		}
	}
	if c.BcryptCost != 0 && (c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost) {
		errs = append(errs, fmt.Errorf("bcrypt cost %d is not in %d-%d", c.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost))
	}
	if c.HashSlots < 0 || c.HashQueue < 0 {
		errs = append(errs, errors.New("negative hash slots or queue"))
	}
	errs = append(errs, c.UserThrottle.Validate(), c.CertThrottle.Validate())
	if c.LeaseTTL > 0 && c.LeaseTTL < time.Second {
		errs = append(errs, fmt.Errorf("lease TTL %v is under 1s", c.LeaseTTL))
	}
	errs = append(errs, c.TLS.Validate(), c.Etcd.Validate())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gatewayd: invalid config: %w", err)
	}
	return nil
}

func (c Config) validateBanks() error {
	switch {
	case c.Etcd.Enabled() && len(c.Banks) == 0:
		return nil
	case !c.Etcd.Enabled() && c.Advertise != "":
		return errors.New("an advertised address needs etcd endpoints")
	case !c.Etcd.Enabled() && len(c.Banks) == 0:
		return errors.New("no bank configured: give the banks' addresses or etcd endpoints")
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Banks)) {
		if err := certs.CheckName(name); err != nil {
			errs = append(errs, fmt.Errorf("bank name: %w", err))
		}
		if c.Banks[name] == "" {
			errs = append(errs, fmt.Errorf("bank %s has no address", name))
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.PrepareTimeout, 2*time.Second)
	c.TLS.Log = c.Log
	def(&c.MaxHold, 10*time.Minute)
	def(&c.TokenLifetime, auth.DefaultTokenLifetime)
	def(&c.DrainTimeout, 10*time.Second)
	if c.BcryptCost == 0 {
		c.BcryptCost = auth.DefaultCost
	}
	c.UserThrottle = c.UserThrottle.WithDefaults(auth.DefaultUserThrottle)
	c.CertThrottle = c.CertThrottle.WithDefaults(auth.DefaultCertThrottle)
	if c.HashSlots == 0 {
		c.HashSlots = auth.DefaultHashSlots()
	}
	if c.HashQueue == 0 {
		c.HashQueue = 4 * c.HashSlots
	}
	return c
}

// Gateway is a running gateway daemon.
type Gateway struct {
	cfg      Config
	closers  []io.Closer // static bank connections
	etcd     *clientv3.Client
	dir      *discovery.Directory
	reg      *discovery.Registration
	log      *wal.Log
	users    *users.Store
	coord    *coordinator.Coordinator
	lis      net.Listener
	server   *grpc.Server
	health   *health.Server
	served   chan error
	stopping chan struct{} // closed by Stop, to end watch streams
	hashes   *auth.HashGate
	metrics  *gatewayMetrics // nil without MetricsListen

	stopOnce sync.Once
	stopErr  error
}

// Start opens the gateway's log, dials the banks (or follows them in
// etcd), seeds the user store if it is new, starts the coordinator (which recovers
// every payment the log left open), starts serving GatewayService and
// CoordinatorService, and registers in etcd if it is configured. On error,
// everything it opened is closed.
func Start(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg.withDefaults(), served: make(chan error, 1), stopping: make(chan struct{})}
	if cfg.MetricsListen != "" {
		g.metrics = newGatewayMetrics(func() *discovery.Registration { return g.reg })
	}
	if err := g.start(); err != nil {
		g.close()
		return nil, err
	}
	return g, nil
}

func (g *Gateway) start() error {
	s := &service{log: g.cfg.Log, now: time.Now, stopping: g.stopping, metrics: g.metrics}
	if err := g.auth(s); err != nil {
		return err
	}
	if err := g.openLog(s); err != nil {
		return err
	}
	find := g.dialBanks
	if g.cfg.Etcd.Enabled() {
		find = g.discoverBanks
	}
	dir, err := find(s)
	if err != nil {
		return err
	}
	if err := g.seed(s); err != nil {
		return err
	}
	if err := s.users.Track(s.revoked, s.now()); err != nil {
		return err
	}
	g.coord, err = coordinator.New(g.log, dir, coordinator.Config{PrepareTimeout: g.cfg.PrepareTimeout, MaxHold: g.cfg.MaxHold, Log: g.cfg.Log, Metrics: g.metrics.coordinator()})
	if err != nil {
		return err
	}
	s.coord = g.coord
	if err := g.serve(s); err != nil {
		return err
	}
	if err := g.register(); err != nil {
		return err
	}
	if g.metrics != nil {
		return g.metrics.serve(g.cfg.MetricsListen, g.cfg.Log)
	}
	return nil
}

// register starts keeping the gateway's key in etcd, once it serves,
// without waiting for etcd: see bankd's register.
func (g *Gateway) register() error {
	if g.etcd == nil {
		return nil
	}
	addr := g.cfg.Advertise
	if addr == "" {
		addr = g.Addr()
	}
	var err error
	g.reg, err = discovery.Register(g.etcd, discovery.Gateways, g.cfg.Name, addr, g.cfg.LeaseTTL, g.cfg.Log)
	return err
}

// Registration is the gateway's registration in etcd, nil without etcd.
func (g *Gateway) Registration() *discovery.Registration { return g.reg }

// deregister revokes the gateway's lease, deleting its key. If etcd
// cannot be reached, the key expires with the lease.
func (g *Gateway) deregister() {
	if g.reg != nil {
		g.reg.Close()
	}
}

// auth loads the token key and makes the password hasher and the login
// throttles.
func (g *Gateway) auth(s *service) error {
	key, err := auth.LoadKey(g.cfg.TokenKeyFile)
	if err != nil {
		return err
	}
	if s.signer, err = auth.NewSigner(key, g.cfg.TokenLifetime, nil); err != nil {
		return err
	}
	s.revoked = auth.NewRevocations()
	if s.logins, err = newLogins(g.cfg); err != nil {
		return err
	}
	g.hashes = s.logins.gate
	return nil
}

// HashGate is the bound on the gateway's password hashings (tests read its
// Peak).
func (g *Gateway) HashGate() *auth.HashGate { return g.hashes }

func (g *Gateway) openLog(s *service) error {
	if err := os.MkdirAll(g.cfg.DataDir, 0o700); err != nil {
		return err
	}
	var err error
	if g.log, err = wal.Open(filepath.Join(g.cfg.DataDir, g.cfg.Name+".db"), wal.Options{FailWrites: g.cfg.FailWrites, Metrics: g.metrics.wal()}); err != nil {
		return err
	}
	for _, w := range g.log.Warnings() {
		g.cfg.Log.Warn().Str("file", g.log.Path()).Msg(w)
	}
	s.users = users.New(g.log)
	g.users = s.users
	s.known, err = loadKnownBanks(g.log, g.cfg.Log, s.now)
	return err
}

func (g *Gateway) serve(s *service) error {
	tlsConfig, err := certs.ServerConfig(g.cfg.TLS)
	if err != nil {
		return err
	}
	if g.lis, err = net.Listen("tcp", g.cfg.Listen); err != nil {
		return err
	}
	g.server, g.health = rpc.NewServer(tlsConfig, g.cfg.Log, rpc.ServerOptions(g.cfg.Log, rpc.DefaultPolicy, auth.NewTokenCache(s.signer, s.revoked, 0), g.metrics.rpc())...)
	strifev1.RegisterGatewayServiceServer(g.server, s)
	strifev1.RegisterCoordinatorServiceServer(g.server, coordinator.NewDecisionService(g.coord, g.cfg.Log))
	g.metrics.rpc().Init(g.server)
	go func() { g.served <- g.server.Serve(g.lis) }()
	g.cfg.Log.Info().Str("addr", g.Addr()).Msg("gateway serving")
	return nil
}

// Users is the gateway's user store.
func (g *Gateway) Users() *users.Store { return g.users }

// Addr is the address the gateway listens on.
func (g *Gateway) Addr() string { return g.lis.Addr().String() }

// MetricsAddr is the address the gateway serves its metrics on, "" without
// them.
func (g *Gateway) MetricsAddr() string { return g.metrics.addr() }

// Done is closed, with the serving error, when the server stops serving.
func (g *Gateway) Done() <-chan error { return g.served }

// Stop drains the gateway: it deletes its key from etcd, reports
// NOT_SERVING, ends watch streams, lets
// calls in flight finish (up to the drain timeout), then stops the
// coordinator and closes the log. Payments still PENDING stay in the log
// and resume at the next Start. Only the first call does anything.
func (g *Gateway) Stop() error {
	g.stopOnce.Do(func() { g.stopErr = g.stop() })
	return g.stopErr
}

func (g *Gateway) stop() error {
	g.deregister()
	g.health.Shutdown()
	close(g.stopping)
	drained := make(chan struct{})
	go func() { g.server.GracefulStop(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(g.cfg.DrainTimeout):
		g.cfg.Log.Warn().Msg("drain timeout; closing connections")
		g.server.Stop()
	}
	err := g.close()
	g.cfg.Log.Info().Msg("gateway stopped")
	return err
}

func (g *Gateway) close() error {
	g.deregister()
	g.metrics.close()
	if g.server != nil {
		g.server.Stop()
	}
	if g.coord != nil {
		g.coord.Close()
	}
	if g.dir != nil {
		g.dir.Close()
	}
	for _, c := range g.closers {
		c.Close()
	}
	if g.etcd != nil {
		g.etcd.Close()
	}
	if g.log != nil {
		return g.log.Close()
	}
	return nil
}
