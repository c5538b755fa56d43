package gatewayd

import (
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
)

// bankSet is how the service reaches the banks for account calls (the
// coordinator reaches them through its Directory). Which banks exist at
// all, up or not, is knownBanks' business.
type bankSet interface {
	// client returns the BankService of a bank that is available now, or
	// nil.
	client(bank string) strifev1.BankServiceClient
}

// staticBanks are the banks of Config.Banks.
type staticBanks map[string]strifev1.BankServiceClient

func (b staticBanks) client(bank string) strifev1.BankServiceClient { return b[bank] }

// discoveredBanks are the banks registered in etcd now.
type discoveredBanks struct{ dir *discovery.Directory }

func (b discoveredBanks) client(bank string) strifev1.BankServiceClient {
	p, ok := b.dir.Participant(bank)
	if !ok {
		return nil
	}
	g, ok := p.(*coordinator.GRPCParticipant) // what dialBank makes
	if !ok {
		return nil // a participant dialled otherwise has no account service
	}
	return g.Client
}

// dialBanks connects to every bank of Config.Banks with the gateway's
// certificate. The connections are lazy: a bank that is down now is
// reached when it is up. The banks given are known to exist; with them,
// the known banks are complete.
func (g *Gateway) dialBanks(s *service) (coordinator.Directory, error) {
	base, err := certs.ClientConfig(g.cfg.TLS, "")
	if err != nil {
		return nil, err
	}
	dir := coordinator.StaticDirectory{}
	banks := staticBanks{}
	for _, name := range slices.Sorted(maps.Keys(g.cfg.Banks)) {
		p, closer, err := dialBank(base, name, g.cfg.Banks[name])
		if err != nil {
			return nil, err
		}
		g.closers = append(g.closers, closer)
		dir[name], banks[name] = p, p.Client
	}
	s.banks = banks
	s.known.learn(slices.Sorted(maps.Keys(g.cfg.Banks))...)
	s.known.complete = closed
	return dir, nil
}

// closed is a channel that is closed.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// discoverBanks follows the banks registered in etcd, dialling each one
// that appears. It does not wait for etcd: until etcd answers, the banks
// are those of Config.Banks, if any (and none otherwise: payments to the
// banks known from the log are held PENDING until their banks appear).
// Every bank the directory dials has registered, or was given, so it is
// learned as known; the known banks are complete once etcd has answered.
func (g *Gateway) discoverBanks(s *service) (coordinator.Directory, error) {
	base, err := certs.ClientConfig(g.cfg.TLS, "")
	if err != nil {
		return nil, err
	}
	dial := func(name, addr string) (coordinator.Participant, io.Closer, error) {
		s.known.learn(name) // before dialling: a bank that cannot be dialled exists too
		return dialBank(base, name, addr)
	}
	if g.dir, err = discovery.NewDirectory(g.Etcd(), dial, g.cfg.Banks, g.cfg.Log); err != nil {
		return nil, err
	}
	s.banks = discoveredBanks{g.dir}
	s.known.complete = g.dir.Synced()
	return g.dir, nil
}

// dialBank connects to a bank, accepting only its certificate.
func dialBank(base *tls.Config, name, addr string) (*coordinator.GRPCParticipant, io.Closer, error) {
	conn, err := rpc.Dial(addr, discovery.ExpectPeer(base, certs.RoleBank, name))
	if err != nil {
		return nil, nil, fmt.Errorf("gatewayd: bank %s at %s: %w", name, addr, err)
	}
	return coordinator.NewGRPCParticipant(conn), conn, nil
}

// seedBanks are the banks of the accounts in a users seed file.
func seedBanks(file *users.SeedFile) []string {
	var banks []string
	for _, u := range file.Users {
		if bank, _, err := users.SplitAccount(u.Account); err == nil && !slices.Contains(banks, bank) {
			banks = append(banks, bank)
		}
	}
	return banks
}
