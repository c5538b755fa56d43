package gatewayd

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/plumbing/auth"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// Config configures a gateway daemon: the fields every daemon has (Name is
// the gateway's name, e.g. "gateway-1", which is how banks know their
// coordinator; its data file holds users, payments and decisions in one
// write-ahead log; with etcd it finds the banks there, each under
// /strife/banks/<name>, watched, and registers under
// /strife/gateways/<Name> for banks in doubt to find it), the
// coordinator's, and the gateway's own. Zero durations and cost take the
// defaults documented on each field.
type Config struct {
	daemon.Config
	// TokenKeyFile is the hex key that signs login tokens (token.key, made
	// by strife-certs init).
	TokenKeyFile string
	// Banks maps each bank's name to its address. A bank must present a
	// bank certificate with exactly that name. Without Etcd, these are the
	// banks. With Etcd, they are the banks known until etcd first answers
	// (so that a gateway started while etcd is down can pay), and etcd's
	// view replaces them from then on.
	Banks map[string]string
	// UsersFile, if set, is a YAML file of users to register when the user
	// store is empty (see users.SeedFile). Later starts ignore it. With Etcd,
	// seeding first waits (up to 30s) for the banks of its accounts to
	// register.
	UsersFile string
	// Coordinator configures the payments: the wait for votes
	// (PrepareTimeout, default 2s), how long a payment may stay PENDING
	// (MaxHold, default 10m), and the retries. Its Log and Metrics are the
	// gateway's.
	Coordinator coordinator.Config
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
}

// Validate reports everything wrong with c at once.
func (c Config) Validate() error {
	errs := []error{c.Config.Validate("gateway")}
	if c.TokenKeyFile == "" {
		errs = append(errs, errors.New("token key file is empty"))
	}
	errs = append(errs, c.validateBanks(), c.Coordinator.Validate())
	if c.TokenLifetime < 0 {
		errs = append(errs, fmt.Errorf("negative token lifetime %v", c.TokenLifetime))
	}
	if c.BcryptCost != 0 && (c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost) {
		errs = append(errs, fmt.Errorf("bcrypt cost %d is not in %d-%d", c.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost))
	}
	if c.HashSlots < 0 || c.HashQueue < 0 {
		errs = append(errs, errors.New("negative hash slots or queue"))
	}
	errs = append(errs, c.UserThrottle.Validate(), c.CertThrottle.Validate())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gatewayd: invalid config: %w", err)
	}
	return nil
}

// validateBanks checks the static banks, which may be none only with etcd
// (an advertised address without etcd is daemon.Config's to refuse).
func (c Config) validateBanks() error {
	switch {
	case c.Etcd.Enabled() && len(c.Banks) == 0:
		return nil
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
	c.Config = c.Config.WithDefaults()
	if c.TokenLifetime == 0 {
		c.TokenLifetime = auth.DefaultTokenLifetime
	}
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

// Gateway is a running gateway daemon: the daemon.Server (Addr, Done,
// Stop...) around the coordinator, the user store and the bank
// connections.
type Gateway struct {
	*daemon.Server
	cfg      Config
	closers  []io.Closer // static bank connections
	dir      *discovery.Directory
	log      *wal.Log
	users    *users.Store
	coord    *coordinator.Coordinator
	stopping chan struct{} // closed when draining starts, to end watch streams
	hashes   *auth.HashGate
	metrics  *gatewayMetrics // nil without MetricsListen
}

// Start opens the gateway's log, dials the banks (or follows them in
// etcd), seeds the user store if it is new, starts the coordinator (which recovers
// every payment the log left open), starts serving GatewayService and
// CoordinatorService, and registers in etcd if it is configured. On error,
// everything it opened is closed.
//
// Stop (daemon.Server's) drains the gateway: it deletes its key from etcd,
// reports NOT_SERVING, ends watch streams, lets calls in flight finish (up
// to the drain timeout), then stops the coordinator and closes the log.
// Payments still PENDING stay in the log and resume at the next Start.
func Start(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg.withDefaults(), stopping: make(chan struct{})}
	if _, err := daemon.Start(g.cfg.Config, discovery.Gateways, "gateway", g.start); err != nil {
		return nil, err
	}
	return g, nil
}

// start is the gateway's steps of daemon.Start.
func (g *Gateway) start(server *daemon.Server) error {
	g.Server = server
	if reg := server.Registry(); reg != nil {
		g.metrics = newGatewayMetrics(reg)
	}
	s := &service{log: g.cfg.Log, now: time.Now, stopping: g.stopping, metrics: g.metrics}
	if err := g.auth(s); err != nil {
		return err
	}
	if err := g.openLog(s); err != nil {
		return err
	}
	server.OnClose(g.closeBanks)
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
	coordCfg := g.cfg.Coordinator
	coordCfg.Log, coordCfg.Metrics = g.cfg.Log, g.metrics.coordinator()
	if g.coord, err = coordinator.New(g.log, dir, coordCfg); err != nil {
		return err
	}
	server.OnClose(func() error { g.coord.Close(); return nil })
	s.coord = g.coord
	server.OnDrain(func() { close(g.stopping) })
	return server.Serve(auth.NewTokenCache(s.signer, s.revoked, 0), func(srv *grpc.Server) {
		strifev1.RegisterGatewayServiceServer(srv, s)
		strifev1.RegisterCoordinatorServiceServer(srv, coordinator.NewDecisionService(g.coord, g.cfg.Log))
	})
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
	var err error
	if g.log, err = g.OpenLog(); err != nil {
		return err
	}
	s.users = users.New(g.log)
	g.users = s.users
	s.known, err = loadKnownBanks(g.log, g.cfg.Log, s.now)
	return err
}

// Users is the gateway's user store.
func (g *Gateway) Users() *users.Store { return g.users }

// closeBanks closes the bank connections: the directory's, or the static
// ones.
func (g *Gateway) closeBanks() error {
	if g.dir != nil {
		g.dir.Close()
	}
	for _, c := range g.closers {
		c.Close()
	}
	return nil
}
