package gatewayd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/auth"
	"github.com/strife-pay/strife/internal/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
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
	// TLS names the gateway's certificate, key and CA. The certificate
	// serves clients and banks, and is presented to the banks.
	TLS certs.Files
	// TokenKeyFile is the hex key that signs login tokens (token.key, made
	// by strife-certs init).
	TokenKeyFile string
	// Banks maps each bank's name to its address. A bank must present a
	// bank certificate with exactly that name.
	Banks map[string]string
	// UsersFile, if set, is a YAML file of users to register when the user
	// store is empty (see UsersFile). Later starts ignore it.
	UsersFile string
	// PrepareTimeout bounds the wait for votes. Default 2s.
	PrepareTimeout time.Duration
	// MaxHold is how long a payment may stay PENDING. Default 10m.
	MaxHold time.Duration
	// TokenLifetime is how long a login token is valid. Default 15m.
	TokenLifetime time.Duration
	// BcryptCost is the cost of password hashes. Default 12.
	BcryptCost int
	// DrainTimeout bounds how long Stop waits for calls in flight. Default 10s.
	DrainTimeout time.Duration
	Log          zerolog.Logger
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
	for _, d := range []time.Duration{c.PrepareTimeout, c.MaxHold, c.TokenLifetime, c.DrainTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("negative duration %v", d))
		}
	}
	if c.BcryptCost != 0 && (c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost) {
		errs = append(errs, fmt.Errorf("bcrypt cost %d is not in %d-%d", c.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost))
	}
	errs = append(errs, c.TLS.Validate())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gatewayd: invalid config: %w", err)
	}
	return nil
}

func (c Config) validateBanks() error {
	if len(c.Banks) == 0 {
		return errors.New("no bank configured")
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
	def(&c.MaxHold, 10*time.Minute)
	def(&c.TokenLifetime, auth.DefaultTokenLifetime)
	def(&c.DrainTimeout, 10*time.Second)
	if c.BcryptCost == 0 {
		c.BcryptCost = auth.DefaultCost
	}
	return c
}

// Gateway is a running gateway daemon.
type Gateway struct {
	cfg      Config
	conns    []*grpc.ClientConn
	log      *wal.Log
	coord    *coordinator.Coordinator
	lis      net.Listener
	server   *grpc.Server
	health   *health.Server
	served   chan error
	stopping chan struct{} // closed by Stop, to end watch streams

	stopOnce sync.Once
	stopErr  error
}

// Start dials the banks, opens the gateway's log, seeds the user store if it
// is new, starts the coordinator (which recovers every payment the log left
// open) and starts serving GatewayService and CoordinatorService. On error,
// everything it opened is closed.
func Start(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg.withDefaults(), served: make(chan error, 1), stopping: make(chan struct{})}
	if err := g.start(); err != nil {
		g.close()
		return nil, err
	}
	return g, nil
}

func (g *Gateway) start() error {
	s := &service{log: g.cfg.Log, now: time.Now, stopping: g.stopping}
	if err := g.auth(s); err != nil {
		return err
	}
	dir, err := g.dialBanks(s)
	if err != nil {
		return err
	}
	if err := g.openLog(s); err != nil {
		return err
	}
	if err := g.seed(s); err != nil {
		return err
	}
	g.coord, err = coordinator.New(g.log, dir, coordinator.Config{PrepareTimeout: g.cfg.PrepareTimeout, MaxHold: g.cfg.MaxHold, Log: g.cfg.Log})
	if err != nil {
		return err
	}
	s.coord = g.coord
	return g.serve(s)
}

// auth loads the token key and makes the password hasher.
func (g *Gateway) auth(s *service) error {
	key, err := auth.LoadKey(g.cfg.TokenKeyFile)
	if err != nil {
		return err
	}
	if s.signer, err = auth.NewSigner(key, g.cfg.TokenLifetime, nil); err != nil {
		return err
	}
	s.hasher, err = auth.NewHasher(g.cfg.BcryptCost)
	return err
}

// dialBanks connects to every bank with the gateway's certificate. The
// connections are lazy: a bank that is down now is reached when it is up.
func (g *Gateway) dialBanks(s *service) (coordinator.StaticDirectory, error) {
	base, err := certs.ClientConfig(g.cfg.TLS, "")
	if err != nil {
		return nil, err
	}
	dir := coordinator.StaticDirectory{}
	s.banks = map[string]strifev1.BankServiceClient{}
	for name, addr := range g.cfg.Banks {
		conn, err := rpc.Dial(addr, bankTLS(base, name))
		if err != nil {
			return nil, fmt.Errorf("gatewayd: bank %s at %s: %w", name, addr, err)
		}
		g.conns = append(g.conns, conn)
		dir[name] = coordinator.NewGRPCParticipant(conn)
		s.banks[name] = strifev1.NewBankServiceClient(conn)
	}
	return dir, nil
}

// bankTLS is base, accepting only a bank certificate named bank: an address
// that reaches another bank by mistake cannot receive this bank's legs.
func bankTLS(base *tls.Config, bank string) *tls.Config {
	c := base.Clone()
	c.VerifyConnection = func(state tls.ConnectionState) error {
		name, role, err := certs.PeerIdentity(state)
		if err != nil {
			return err
		}
		if role != certs.RoleBank || name != bank {
			return fmt.Errorf("gatewayd: expected bank %q, the server is %s %q", bank, role, name)
		}
		return nil
	}
	return c
}

func (g *Gateway) openLog(s *service) error {
	if err := os.MkdirAll(g.cfg.DataDir, 0o700); err != nil {
		return err
	}
	var err error
	g.log, err = wal.Open(filepath.Join(g.cfg.DataDir, g.cfg.Name+".db"), wal.Options{})
	s.users = NewUsers(g.log)
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
	g.server, g.health = rpc.NewServer(tlsConfig, g.cfg.Log, rpc.ServerOptions(g.cfg.Log, rpc.DefaultPolicy, s.signer)...)
	strifev1.RegisterGatewayServiceServer(g.server, s)
	strifev1.RegisterCoordinatorServiceServer(g.server, coordinator.NewDecisionService(g.coord, g.cfg.Log))
	go func() { g.served <- g.server.Serve(g.lis) }()
	g.cfg.Log.Info().Str("addr", g.Addr()).Msg("gateway serving")
	return nil
}

// Addr is the address the gateway listens on.
func (g *Gateway) Addr() string { return g.lis.Addr().String() }

// Done is closed, with the serving error, when the server stops serving.
func (g *Gateway) Done() <-chan error { return g.served }

// Stop drains the gateway: it reports NOT_SERVING, ends watch streams, lets
// calls in flight finish (up to the drain timeout), then stops the
// coordinator and closes the log. Payments still PENDING stay in the log
// and resume at the next Start. Only the first call does anything.
func (g *Gateway) Stop() error {
	g.stopOnce.Do(func() { g.stopErr = g.stop() })
	return g.stopErr
}

func (g *Gateway) stop() error {
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
	if g.server != nil {
		g.server.Stop()
	}
	if g.coord != nil {
		g.coord.Close()
	}
	for _, conn := range g.conns {
		conn.Close()
	}
	if g.log != nil {
		return g.log.Close()
	}
	return nil
}
