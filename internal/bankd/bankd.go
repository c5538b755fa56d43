package bankd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/discovery"
	"github.com/strife-pay/strife/internal/rpc"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/participant"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// Config configures a bank daemon.
type Config struct {
	// Name is the bank's name, e.g. "BankA": the <bank> of its accounts'
	// addresses. It should match the CN of its certificate.
	Name string
	// Listen is the gRPC listen address, e.g. "127.0.0.1:7001" (port 0 picks
	// one; see Bank.Addr).
	Listen string
	// DataDir holds the bank's bbolt file, <DataDir>/<Name>.db.
	DataDir string
	// TLS names the bank's certificate, key, CA and revocation list
	// (default: ca.crl next to the CA). Its Log is set to Log.
	TLS certs.Files
	// CoordinatorAddr is the gateway's address for GetDecision, whatever
	// the gateway's name. Empty means: find the gateway named in the
	// attempt in etcd, if Etcd is configured, or else wait for the
	// coordinator to call.
	CoordinatorAddr string
	// Etcd, if it has endpoints, is where the bank registers, under
	// /strife/banks/<Name>, and where it finds gateways for GetDecision.
	Etcd discovery.ClientConfig
	// Advertise is the address registered in etcd. Default: the address
	// the bank listens on (give it when listening on 0.0.0.0).
	Advertise string
	// LeaseTTL is the TTL of the registration's lease: how long a crashed
	// bank stays registered. Default 5s; etcd's minimum is 2s.
	LeaseTTL time.Duration
	// SeedFile, if set, is a YAML file of accounts to open when the ledger
	// is created (see LoadSeed). Later starts ignore it.
	SeedFile string
	// Participant configures the in-doubt timeout and its retries.
	Participant participant.Config
	// DrainTimeout bounds how long Stop waits for calls in flight. Default 10s.
	DrainTimeout time.Duration
	// MetricsListen, if set, is where the bank serves its Prometheus
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
		errs = append(errs, fmt.Errorf("bank name: %w", err))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("listen address is empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is empty"))
	}
	if c.DrainTimeout < 0 {
		errs = append(errs, errors.New("drain timeout is negative"))
	}
	if c.LeaseTTL < 0 || (c.LeaseTTL > 0 && c.LeaseTTL < time.Second) {
		errs = append(errs, fmt.Errorf("lease TTL %v is under 1s", c.LeaseTTL))
	}
	if c.Advertise != "" && !c.Etcd.Enabled() {
		errs = append(errs, errors.New("an advertised address needs etcd endpoints"))
	}
	errs = append(errs, c.TLS.Validate(), c.Participant.Validate(), c.Etcd.Validate())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bankd: invalid config: %w", err)
	}
	return nil
}

// Bank is a running bank daemon.
type Bank struct {
	cfg      Config
	lis      net.Listener
	log      *wal.Log
	p        *participant.Participant
	server   *grpc.Server
	health   *health.Server
	coordCon *grpc.ClientConn
	etcd     *clientv3.Client
	coords   *discovery.Coordinators
	reg      *discovery.Registration
	served   chan error
	metrics  *bankMetrics // nil without MetricsListen

	stopOnce sync.Once
	stopErr  error
}

// Start opens the bank's ledger, reloads its in-doubt attempts, seeds it if
// it is new, starts serving, and registers in etcd if it is configured,
// without waiting for etcd. On error, everything it opened is closed.
func Start(cfg Config) (*Bank, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	cfg.TLS.Log = cfg.Log
	b := &Bank{cfg: cfg, served: make(chan error, 1)}
	if cfg.MetricsListen != "" {
		b.metrics = newBankMetrics(func() *discovery.Registration { return b.reg })
	}
	l, err := b.openLedger()
	if err == nil && cfg.Etcd.Enabled() {
		b.etcd, err = discovery.NewClient(cfg.Etcd, cfg.Log)
	}
	if err == nil {
		err = b.startParticipant(l)
	}
	if err == nil {
		err = b.serve(l)
	}
	if err == nil && b.etcd != nil {
		err = b.register()
	}
	if err == nil && b.metrics != nil {
		err = b.metrics.serve(cfg.MetricsListen, cfg.Log)
	}
	if err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *Bank) openLedger() (*ledger.Ledger, error) {
	if err := os.MkdirAll(b.cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	var err error
	if b.log, err = wal.Open(filepath.Join(b.cfg.DataDir, b.cfg.Name+".db"), wal.Options{FailWrites: b.cfg.FailWrites, Metrics: b.metrics.wal()}); err != nil {
		return nil, err
	}
	for _, w := range b.log.Warnings() {
		b.cfg.Log.Warn().Str("file", b.log.Path()).Msg(w)
	}
	var fresh bool
	if err := b.log.View(func(tx *wal.Tx) error { fresh = tx.LastSeq() == 0; return nil }); err != nil {
		return nil, err
	}
	l, err := ledger.New(b.log, nil)
	if err != nil || !fresh || b.cfg.SeedFile == "" {
		return l, err
	}
	n, err := Seed(l, b.cfg.SeedFile, b.cfg.Name)
	if err != nil {
		return nil, err
	}
	b.cfg.Log.Info().Int("accounts", n).Str("file", b.cfg.SeedFile).Msg("new ledger seeded")
	return l, nil
}

func (b *Bank) startParticipant(l *ledger.Ledger) error {
	coord, err := b.coordinator()
	if err != nil {
		return err
	}
	cfg := b.cfg.Participant
	cfg.Log = b.cfg.Log
	cfg.Metrics = b.metrics.participant()
	b.p, err = participant.New(l, coord, cfg)
	return err
}

// coordinator is whom the participant asks about attempts in doubt: the
// static CoordinatorAddr (a test's override), else the gateways in etcd,
// else nobody.
func (b *Bank) coordinator() (participant.Coordinator, error) {
	tlsConfig, err := certs.ClientConfig(b.cfg.TLS, "")
	if err != nil {
		return nil, err
	}
	switch {
	case b.cfg.CoordinatorAddr != "":
		if b.coordCon, err = rpc.Dial(b.cfg.CoordinatorAddr, tlsConfig); err != nil {
			return nil, err
		}
		return participant.NewGRPCCoordinator(b.coordCon), nil
	case b.etcd != nil:
		dial := func(name, addr string) (participant.Coordinator, io.Closer, error) {
			conn, err := rpc.Dial(addr, discovery.ExpectPeer(tlsConfig, certs.RoleGateway, name))
			if err != nil {
				return nil, nil, err
			}
			return participant.NewGRPCCoordinator(conn), conn, nil
		}
		b.coords, err = discovery.NewCoordinators(b.etcd, dial, b.cfg.Log)
		return b.coords, err
	}
	return noCoordinator{}, nil
}

// register starts keeping the bank's key in etcd, once it serves. It does
// not wait for etcd: a bank serves while etcd is down (a gateway that saw
// it before, or was told its address, can reach it), and registers in the
// background as soon as etcd answers.
func (b *Bank) register() error {
	addr := b.cfg.Advertise
	if addr == "" {
		addr = b.Addr()
	}
	var err error
	b.reg, err = discovery.Register(b.etcd, discovery.Banks, b.cfg.Name, addr, b.cfg.LeaseTTL, b.cfg.Log)
	return err
}

// Registration is the bank's registration in etcd, nil without etcd.
func (b *Bank) Registration() *discovery.Registration { return b.reg }

func (b *Bank) serve(l *ledger.Ledger) error {
	tlsConfig, err := certs.ServerConfig(b.cfg.TLS)
	if err != nil {
		return err
	}
	if b.lis, err = net.Listen("tcp", b.cfg.Listen); err != nil {
		return err
	}
	b.server, b.health = rpc.NewServer(tlsConfig, b.cfg.Log, rpc.ServerOptions(b.cfg.Log, rpc.DefaultPolicy, nil, b.metrics.rpc())...)
	strifev1.RegisterBankServiceServer(b.server, participant.NewService(b.cfg.Name, l, b.p, b.cfg.Log))
	b.metrics.rpc().Init(b.server)
	go func() { b.served <- b.server.Serve(b.lis) }()
	b.cfg.Log.Info().Str("addr", b.Addr()).Msg("bank serving")
	return nil
}

// Addr is the address the bank listens on.
func (b *Bank) Addr() string { return b.lis.Addr().String() }

// MetricsAddr is the address the bank serves its metrics on, "" without
// them.
func (b *Bank) MetricsAddr() string { return b.metrics.addr() }

// Stop drains the bank: it deletes its key from etcd (so that the gateway
// stops sending it new work at once), reports NOT_SERVING, lets calls in
// flight finish (up to the drain timeout), then closes the participant and
// the log. Only the first call does anything.
func (b *Bank) Stop() error {
	b.stopOnce.Do(func() { b.stopErr = b.stop() })
	return b.stopErr
}

func (b *Bank) stop() error {
	b.deregister()
	b.health.Shutdown()
	drained := make(chan struct{})
	go func() { b.server.GracefulStop(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(b.cfg.DrainTimeout):
		b.cfg.Log.Warn().Msg("drain timeout; closing connections")
		b.server.Stop()
	}
	err := b.close()
	b.cfg.Log.Info().Msg("bank stopped")
	return err
}

// Done is closed, with the serving error, when the server stops serving.
func (b *Bank) Done() <-chan error { return b.served }

// deregister revokes the bank's lease, deleting its key. If etcd cannot
// be reached, the key expires with the lease.
func (b *Bank) deregister() {
	if b.reg != nil {
		b.reg.Close()
	}
}

func (b *Bank) close() error {
	b.deregister()
	b.metrics.close()
	if b.p != nil {
		b.p.Close()
	}
	if b.coordCon != nil {
		b.coordCon.Close()
	}
	if b.coords != nil {
		b.coords.Close()
	}
	if b.server != nil {
		b.server.Stop()
	}
	if b.etcd != nil {
		b.etcd.Close()
	}
	if b.log != nil {
		return b.log.Close()
	}
	return nil
}

// noCoordinator is the Coordinator of a bank with no coordinator address:
// in-doubt attempts stay in doubt until the coordinator calls.
type noCoordinator struct{}

func (noCoordinator) GetDecision(context.Context, string, ulid.ULID, uint32) (participant.Decision, error) {
	return 0, errors.New("bankd: no coordinator address configured")
}
