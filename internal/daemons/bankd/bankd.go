package bankd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/oklog/ulid/v2"
	"google.golang.org/grpc"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/participant"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// Config configures a bank daemon: the fields every daemon has (Name is
// the bank's name, e.g. "BankA": the <bank> of its accounts' addresses; it
// registers under /strife/banks/<Name>, and finds the gateways of attempts
// in doubt in etcd), and the bank's own.
type Config struct {
	daemon.Config
	// CoordinatorAddr is the gateway's address for GetDecision, whatever
	// the gateway's name. Empty means: find the gateway named in the
	// attempt in etcd, if Etcd is configured, or else wait for the
	// coordinator to call.
	CoordinatorAddr string
	// SeedFile, if set, is a YAML file of accounts to open when the ledger
	// is created (see LoadSeed). Later starts ignore it.
	SeedFile string
	// Participant configures the in-doubt timeout and its retries.
	Participant participant.Config
}

// Validate reports everything wrong with c at once.
func (c Config) Validate() error {
	if err := errors.Join(c.Config.Validate("bank"), c.Participant.Validate()); err != nil {
		return fmt.Errorf("bankd: invalid config: %w", err)
	}
	return nil
}

// Bank is a running bank daemon: the daemon.Server (Addr, Done, Stop...)
// around a participant over a ledger.
type Bank struct {
	*daemon.Server
	cfg Config
	p   *participant.Participant
}

// Start opens the bank's ledger, reloads its in-doubt attempts, seeds it if
// it is new, starts serving, and registers in etcd if it is configured,
// without waiting for etcd. On error, everything it opened is closed.
func Start(cfg Config) (*Bank, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Config = cfg.Config.WithDefaults()
	b := &Bank{cfg: cfg}
	if _, err := daemon.Start(cfg.Config, discovery.Banks, "bank", b.start); err != nil {
		return nil, err
	}
	return b, nil
}

// start is the bank's steps of daemon.Start.
func (b *Bank) start(s *daemon.Server) error {
	b.Server = s
	l, err := b.openLedger(s)
	if err != nil {
		return err
	}
	if err := b.startParticipant(s, l); err != nil {
		return err
	}
	return s.Serve(nil, func(server *grpc.Server) {
		strifev1.RegisterBankServiceServer(server, participant.NewService(b.cfg.Name, l, b.p, b.cfg.Log))
	})
}

func (b *Bank) openLedger(s *daemon.Server) (*ledger.Ledger, error) {
	log, err := s.OpenLog()
	if err != nil {
		return nil, err
	}
	var fresh bool
	if err := log.View(func(tx *wal.Tx) error { fresh = tx.LastSeq() == 0; return nil }); err != nil {
		return nil, err
	}
	l, err := ledger.New(log, nil)
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

func (b *Bank) startParticipant(s *daemon.Server, l *ledger.Ledger) error {
	coord, err := b.coordinator(s)
	if err != nil {
		return err
	}
	cfg := b.cfg.Participant
	cfg.Log = b.cfg.Log
	if reg := s.Registry(); reg != nil {
		cfg.Metrics = participant.NewMetrics(reg)
	}
	if b.p, err = participant.New(l, coord, cfg); err != nil {
		return err
	}
	s.OnClose(func() error { b.p.Close(); return nil })
	return nil
}

// coordinator is whom the participant asks about attempts in doubt: the
// static CoordinatorAddr (a test's override), else the gateways in etcd,
// else nobody.
func (b *Bank) coordinator(s *daemon.Server) (participant.Coordinator, error) {
	tlsConfig, err := certs.ClientConfig(b.cfg.TLS, "")
	if err != nil {
		return nil, err
	}
	switch {
	case b.cfg.CoordinatorAddr != "":
		conn, err := rpc.Dial(b.cfg.CoordinatorAddr, tlsConfig)
		if err != nil {
			return nil, err
		}
		s.OnClose(conn.Close)
		return participant.NewGRPCCoordinator(conn), nil
	case s.Etcd() != nil:
		dial := func(name, addr string) (participant.Coordinator, io.Closer, error) {
			conn, err := rpc.Dial(addr, discovery.ExpectPeer(tlsConfig, certs.RoleGateway, name))
			if err != nil {
				return nil, nil, err
			}
			return participant.NewGRPCCoordinator(conn), conn, nil
		}
		coords, err := discovery.NewCoordinators(s.Etcd(), dial, b.cfg.Log)
		if err != nil {
			return nil, err
		}
		s.OnClose(func() error { coords.Close(); return nil })
		return coords, nil
	}
	return noCoordinator{}, nil
}

// noCoordinator is the Coordinator of a bank with no coordinator address:
// in-doubt attempts stay in doubt until the coordinator calls.
type noCoordinator struct{}

func (noCoordinator) GetDecision(context.Context, string, ulid.ULID, uint32) (participant.Decision, error) {
	return 0, errors.New("bankd: no coordinator address configured")
}
