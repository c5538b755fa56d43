package daemon

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
	"github.com/strife-pay/strife/internal/plumbing/metrics"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	"github.com/strife-pay/strife/wal"
)

// Server is what both daemons are made of, around what each serves: the
// etcd client, the data file, the metrics registry, the gRPC server with
// its health service, the etcd registration and the metrics listener, and
// the order in which they start and stop. A daemon's Start calls Start
// with the steps of its own; its type embeds the *Server, whose Addr,
// Done, Stop... are then its own.
//
// Start, in order: the etcd client (which does not wait for etcd), the
// daemon's steps (which open the data file with OpenLog, and build on
// Etcd and Registry), then Serve: listen, serve metrics (once everything
// they read is in place), serve gRPC, register in etcd in the background.
// Stop, in order: deregister (peers stop sending new work at once), report
// NOT_SERVING, run the OnDrain functions, let calls in
// flight finish up to the drain timeout, then close: the OnClose functions
// last registered first, the etcd client, and the data file.
type Server struct {
	cfg     Config
	service string // discovery.Banks or discovery.Gateways
	what    string // "bank": its log lines say "bank serving"

	etcd       *clientv3.Client        // nil without etcd
	log        *wal.Log                // nil until OpenLog
	reg        *discovery.Registration // nil without etcd
	registry   *prometheus.Registry    // nil without metrics
	rpcMetrics *rpc.Metrics            // nil without metrics
	metrics    *metrics.Server         // nil without metrics
	lis        net.Listener
	grpc       *grpc.Server
	health     *health.Server
	served     chan error
	onDrain    []func()
	onClose    []func() error

	// For the serving line: when Start began, and how long OpenLog took
	// (the part of a start that may grow with the file).
	startedAt time.Time
	opened    time.Duration

	stopOnce sync.Once
	stopErr  error
}

// Start makes the server of a daemon registered in etcd under service
// (discovery.Banks...), named what in its logs, and runs steps, which end
// by calling Serve. cfg must be valid (Config.Validate). On error,
// everything opened is closed.
func Start(cfg Config, service, what string, steps func(*Server) error) (*Server, error) {
	cfg = cfg.WithDefaults()
	s := &Server{cfg: cfg, service: service, what: what, served: make(chan error, 1), startedAt: time.Now()}
	if cfg.MetricsListen != "" {
		s.registry = metrics.NewRegistry()
		discovery.RegisterMetrics(s.registry, func() *discovery.Registration { return s.reg })
		s.rpcMetrics = rpc.NewMetrics(s.registry, rpc.DefaultPolicy)
	}
	var err error
	if cfg.Etcd.Enabled() {
		s.etcd, err = discovery.NewClient(cfg.Etcd, cfg.Log)
	}
	if err == nil {
		err = steps(s)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// Etcd is the etcd client, nil without etcd endpoints.
func (s *Server) Etcd() *clientv3.Client { return s.etcd }

// Registry is where the daemon's packages register their metrics, nil
// without Config.MetricsListen: then nothing is measured.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// OpenLog opens the daemon's data file, <DataDir>/<Name>.db, making the
// directory if missing, and logs the warnings of its opening. Stop closes
// it, last.
func (s *Server) OpenLog() (*wal.Log, error) {
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	var m *wal.Metrics
	if s.registry != nil {
		m = wal.NewMetrics(s.registry)
	}
	// Damage the background scrub finds in a large file (see wal's "Damaged
	// files") stops appends; the line says which page and what to do.
	onDamage := func(err error) { s.cfg.Log.Error().Err(err).Msg("data file damaged: appends refused") }
	var err error
	began := time.Now()
	defer func() { s.opened = time.Since(began) }()
	if s.log, err = wal.Open(filepath.Join(s.cfg.DataDir, s.cfg.Name+".db"), wal.Options{FailWrites: s.cfg.FailWrites, Metrics: m, OnDamage: onDamage}); err != nil {
		return nil, err
	}
	for _, w := range s.log.Warnings() {
		s.cfg.Log.Warn().Str("file", s.log.Path()).Msg(w)
	}
	return s.log, nil
}

// OnDrain has Stop call f once the daemon is deregistered and NOT_SERVING,
// before it waits for calls in flight (to end streams that would not end
// on their own).
func (s *Server) OnDrain(f func()) { s.onDrain = append(s.onDrain, f) }

// OnClose has Stop, or a failed Start, call f once nothing is served any
// more: functions registered last are called first, as defers are. Their
// errors are not reported: Stop returns the data file's.
func (s *Server) OnClose(f func() error) { s.onClose = append(s.onClose, f) }

// Serve listens, serves gRPC with the services that register registers
// (tokens, if not nil, verifies the login tokens of client calls; see
// rpc.ServerOptions), and starts registering in etcd without waiting for
// it. Metrics serve before gRPC does, so that once a daemon logs that it
// serves, its metrics answer too.
func (s *Server) Serve(tokens rpc.TokenVerifier, register func(*grpc.Server)) error {
	tlsConfig, err := certs.ServerConfig(s.cfg.TLS)
	if err != nil {
		return err
	}
	if s.lis, err = net.Listen("tcp", s.cfg.Listen); err != nil {
		return err
	}
	log := s.cfg.Log
	s.grpc, s.health = rpc.NewServer(tlsConfig, log, rpc.ServerOptions(log, rpc.DefaultPolicy, tokens, s.rpcMetrics)...)
	register(s.grpc)
	s.rpcMetrics.Init(s.grpc)
	// Metrics serve before the daemon says it serves, so that whoever
	// waits for that line (strife up, an operator) can scrape at once.
	if s.registry != nil {
		if s.metrics, err = metrics.Serve(s.cfg.MetricsListen, s.registry, log); err != nil {
			return err
		}
	}
	go func() { s.served <- s.grpc.Serve(s.lis) }()
	// started_ms is from Start to serving, open_ms the data file's opening
	// within it (the rest: the daemon's recovery and seeding, etcd's
	// client, TLS): what a restart costs, to the millisecond.
	log.Info().Str("addr", s.Addr()).Dur("started_ms", time.Since(s.startedAt)).Dur("open_ms", s.opened).Msg(s.what + " serving")
	return s.register()
}

// register starts keeping the daemon's key in etcd, once it serves. It
// does not wait for etcd: a daemon serves while etcd is down (peers that
// saw it before, or were told its address, can reach it), and registers in
// the background as soon as etcd answers.
func (s *Server) register() error {
	if s.etcd == nil {
		return nil
	}
	addr := s.cfg.Advertise
	if addr == "" {
		addr = s.Addr()
	}
	var err error
	s.reg, err = discovery.Register(s.etcd, s.service, s.cfg.Name, addr, s.cfg.LeaseTTL, s.cfg.Log)
	return err
}

// Registration is the daemon's registration in etcd, nil without etcd.
func (s *Server) Registration() *discovery.Registration { return s.reg }

// Addr is the address the daemon listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// MetricsAddr is the address the daemon serves its metrics on, "" without
// them.
func (s *Server) MetricsAddr() string {
	if s.metrics == nil {
		return ""
	}
	return s.metrics.Addr()
}

// Done delivers the serving error when the gRPC server stops serving.
func (s *Server) Done() <-chan error { return s.served }

// Stop drains the daemon and closes it, in the order of Server's comment.
// Only the first call does anything; later ones return what it returned.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	s.deregister()
	s.health.Shutdown()
	for _, f := range s.onDrain {
		f()
	}
	drained := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(s.cfg.DrainTimeout):
		s.cfg.Log.Warn().Msg("drain timeout; closing connections")
		s.grpc.Stop()
	}
	err := s.close()
	s.cfg.Log.Info().Msg(s.what + " stopped")
	return err
}

// deregister revokes the daemon's lease, deleting its key. If etcd cannot
// be reached, the key expires with the lease.
func (s *Server) deregister() {
	if s.reg != nil {
		s.reg.Close()
	}
}

// close closes whatever is open, from wherever Start got to.
func (s *Server) close() error {
	s.deregister()
	if s.metrics != nil {
		s.metrics.Close()
	}
	if s.grpc != nil {
		s.grpc.Stop()
	}
	for _, f := range slices.Backward(s.onClose) {
		f()
	}
	if s.etcd != nil {
		s.etcd.Close()
	}
	if s.log != nil {
		return s.log.Close()
	}
	return nil
}
