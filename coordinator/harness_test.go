package coordinator_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/bankd"
	"github.com/strife-pay/strife/internal/testbank"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// world is a coordinator over a temporary log and two real banks (BankA
// with 1001 and 1002, BankB with 2001), in-process, over mutual TLS.
type world struct {
	pki     *testbank.PKI
	banks   map[string]*bankd.Bank
	clients map[string]strifev1.BankServiceClient
	dir     *switchboard
	logPath string
	log     *wal.Log
	c       *coordinator.Coordinator
	cfg     coordinator.Config
}

// switchboard is a Directory whose banks a test can take down and bring
// back, and whose participants it can wrap.
type switchboard struct {
	mu    sync.Mutex
	parts map[string]coordinator.Participant
	down  map[string]bool
}

func (s *switchboard) Participant(bank string) (coordinator.Participant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.parts[bank]
	return p, ok && !s.down[bank]
}

func (s *switchboard) setDown(bank string, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down[bank] = down
}

func (s *switchboard) wrap(bank string, f func(coordinator.Participant) coordinator.Participant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts[bank] = f(s.parts[bank])
}

func newWorld(t *testing.T, cfg coordinator.Config) *world {
	w := &world{
		pki: testbank.NewPKI(t), banks: map[string]*bankd.Bank{}, clients: map[string]strifev1.BankServiceClient{},
		dir:     &switchboard{parts: map[string]coordinator.Participant{}, down: map[string]bool{}},
		logPath: filepath.Join(t.TempDir(), "gateway.db"), cfg: cfg,
	}
	for bank, accounts := range map[string]map[string]int64{"BankA": {"1001": 1000, "1002": 0}, "BankB": {"2001": 500}} {
		bcfg := w.pki.Config(t, bank, testbank.DataDir(t))
		bcfg.Participant.InDoubtTimeout = time.Hour
		b := testbank.Start(t, bcfg)
		client := w.pki.GatewayClient(t, b.Addr())
		for number, opening := range accounts {
			_, err := client.OpenAccount(context.Background(), &strifev1.OpenAccountRequest{Number: number, Owner: "owner-" + number, OpeningBalance: opening})
			require.NoError(t, err)
		}
		w.banks[bank], w.clients[bank] = b, client
		w.dir.parts[bank] = coordinator.NewGRPCParticipant(w.pki.Dial(t, b.Addr(), "gateway", "gateway-1"))
	}
	w.start(t)
	t.Cleanup(func() { w.c.Close(); w.log.Close() })
	return w
}

// start opens the log and starts the coordinator (recovering whatever the
// log holds).
func (w *world) start(t *testing.T) {
	var err error
	w.log, err = wal.Open(w.logPath, wal.Options{})
	require.NoError(t, err)
	w.cfg.Log = zerolog.New(zerolog.NewTestWriter(t))
	w.c, err = coordinator.New(w.log, w.dir, w.cfg)
	require.NoError(t, err)
}

// crash stops the coordinator and closes its log, then starts it again.
// Every step is durable before the coordinator acts on it, so stopping
// between two steps is what a crash there leaves behind.
func (w *world) crash(t *testing.T) {
	w.c.Close()
	require.NoError(t, w.log.Close())
	w.start(t)
}

func (w *world) account(t *testing.T, address string) *strifev1.Account {
	bank, number := coordinator.Bank(address), address[len(coordinator.Bank(address))+1:]
	resp, err := w.clients[bank].GetAccount(context.Background(), &strifev1.GetAccountRequest{Number: number})
	require.NoError(t, err)
	return resp.GetAccount()
}

// total is the sum of all posted balances, and of all holds, at both banks.
func (w *world) total(t *testing.T) (posted, held int64) {
	for _, a := range []string{"BankA/1001", "BankA/1002", "BankB/2001"} {
		acct := w.account(t, a)
		posted += acct.GetPostedBalance()
		held += acct.GetHeld() + acct.GetPendingCredits()
	}
	return posted, held
}

func pay(from, to string, amount int64) coordinator.Params {
	return coordinator.Params{Payer: "alice", From: from, Payee: "bob", To: to, Amount: amount}
}

func (w *world) pay(t *testing.T, params coordinator.Params) coordinator.Payment {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, _, err := w.c.Pay(ctx, ulid.Make(), params)
	require.NoError(t, err)
	return p
}

// settled waits until no hold is left at either bank.
func (w *world) settled(t *testing.T) {
	require.Eventually(t, func() bool { _, held := w.total(t); return held == 0 }, 10*time.Second, 20*time.Millisecond, "holds released")
}
