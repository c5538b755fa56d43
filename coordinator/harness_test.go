package coordinator_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	"github.com/strife-pay/strife/internal/testkit/logtest"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// world is a coordinator over a temporary log and two real banks (BankA
// with 1001 and 1002, BankB with 2001), in-process, over mutual TLS.
type world struct {
	pki     *banktest.PKI
	banks   map[string]*bankd.Bank
	files   map[string]string // each bank's ledger file
	clients map[string]strifev1.BankServiceClient
	dir     *switchboard
	logPath string
	logOpts wal.Options
	log     *wal.Log
	c       *coordinator.Coordinator
	cfg     coordinator.Config
	// logged, if set, receives the coordinator's log lines too.
	logged io.Writer
}

// switchboard is a Directory whose banks a test can take down and bring
// back, and whose participants it can wrap.
type switchboard struct {
	mu      sync.Mutex
	parts   map[string]coordinator.Participant
	down    map[string]bool
	changes chan struct{} // see coordinator.Notifier

	// lookedUp, if set, is called after each Participant answers.
	lookedUp func(bank string)
}

func (s *switchboard) Changes() <-chan struct{} { return s.changes }

func (s *switchboard) Participant(bank string) (coordinator.Participant, bool) {
	s.mu.Lock()
	p, ok := s.parts[bank]
	up, lookedUp := ok && !s.down[bank], s.lookedUp
	s.mu.Unlock()
	if lookedUp != nil {
		lookedUp(bank)
	}
	return p, up
}

func (s *switchboard) setDown(bank string, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down[bank] = down
	select {
	case s.changes <- struct{}{}:
	default: // a change is already pending
	}
}

func (s *switchboard) wrap(bank string, f func(coordinator.Participant) coordinator.Participant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts[bank] = f(s.parts[bank])
}

// newWorld starts the world; each of banks, if given, may change a bank's
// configuration before it starts.
func newWorld(t *testing.T, cfg coordinator.Config, banks ...func(*bankd.Config)) *world {
	w := &world{
		pki: banktest.NewPKI(t), banks: map[string]*bankd.Bank{}, files: map[string]string{}, clients: map[string]strifev1.BankServiceClient{},
		dir:     &switchboard{parts: map[string]coordinator.Participant{}, down: map[string]bool{}, changes: make(chan struct{}, 1)},
		logPath: filepath.Join(t.TempDir(), "gateway.db"), cfg: cfg,
	}
	for bank, accounts := range map[string]map[string]int64{"BankA": {"1001": 1000, "1002": 0}, "BankB": {"2001": 500}} {
		bcfg := w.pki.Config(t, bank, banktest.DataDir(t))
		bcfg.Participant.InDoubtTimeout = time.Hour
		for _, f := range banks {
			f(&bcfg)
		}
		w.startBank(t, bcfg, accounts)
	}
	w.start(t)
	t.Cleanup(func() { w.c.Close(); w.log.Close() })
	return w
}

// startBank starts a bank with the given accounts and opening balances and
// puts it in the directory.
func (w *world) startBank(t *testing.T, cfg bankd.Config, accounts map[string]int64) {
	b := banktest.Start(t, cfg)
	client := w.pki.GatewayClient(t, b.Addr())
	for number, opening := range accounts {
		_, err := client.OpenAccount(context.Background(), &strifev1.OpenAccountRequest{Number: number, Owner: "owner-" + number, OpeningBalance: opening})
		require.NoError(t, err)
	}
	w.banks[cfg.Name], w.clients[cfg.Name] = b, client
	w.files[cfg.Name] = filepath.Join(cfg.DataDir, cfg.Name+".db")
	w.dir.mu.Lock()
	defer w.dir.mu.Unlock()
	w.dir.parts[cfg.Name] = coordinator.NewGRPCParticipant(w.pki.Dial(t, b.Addr(), "gateway", "gateway-1"))
}

// start opens the log and starts the coordinator (recovering whatever the
// log holds).
func (w *world) start(t *testing.T) {
	var err error
	w.log, err = wal.Open(w.logPath, w.logOpts)
	require.NoError(t, err)
	var out io.Writer = zerolog.NewTestWriter(t)
	if w.logged != nil {
		out = io.MultiWriter(out, w.logged)
	}
	w.cfg.Log = zerolog.New(out)
	w.c, err = coordinator.New(w.log, w.dir, w.cfg)
	require.NoError(t, err)
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

// stop stops the coordinator and closes its log, as a clean shutdown does;
// start brings it back.
func (w *world) stop(t *testing.T) {
	w.c.Close()
	require.NoError(t, w.log.Close())
}

// kill stops the coordinator as a crash at this instant would: the log file
// is put back as it is now, so whatever the coordinator does while it
// stops (a call in flight that fails as it is cancelled, and the step it
// takes on that failure) is lost. start brings it back.
func (w *world) kill(t *testing.T) {
	var image []byte
	// While an Append runs no other commit can, and bbolt writes nothing
	// before its commit: the file is exactly what is durable.
	require.NoError(t, w.log.Append(func(*wal.Tx) (err error) {
		image, err = os.ReadFile(w.logPath)
		return err
	}))
	w.stop(t)
	require.NoError(t, os.WriteFile(w.logPath, image, 0o600))
}

// entries returns what payment id posted to an account.
func (w *world) entries(t *testing.T, address string, id ulid.ULID) []*strifev1.Entry {
	bank, number := coordinator.Bank(address), address[len(coordinator.Bank(address))+1:]
	resp, err := w.clients[bank].ListEntries(context.Background(), &strifev1.ListEntriesRequest{Number: number, PageSize: 1000})
	require.NoError(t, err)
	require.Empty(t, resp.GetNextPageToken(), "one page holds every entry of a test")
	var out []*strifev1.Entry
	for _, e := range resp.GetEntries() {
		if e.GetTransactionId() == id.String() {
			out = append(out, e)
		}
	}
	return out
}

// openings are the posted balances of the world's accounts when it starts.
var openings = map[string]int64{"BankA/1001": 1000, "BankA/1002": 0, "BankB/2001": 500}

// requireAllOrNothing checks the world's only payment once it is final and
// every bank has acknowledged the decision: COMMITTED is exactly one entry
// of the amount at each end, by the attempt that committed, and FAILED is
// none; the balances say the same; no hold is left; and a client's retry
// gets the same payment back. It returns the payment.
func (w *world) requireAllOrNothing(t *testing.T, id ulid.ULID, params coordinator.Params) coordinator.Payment {
	t.Helper()
	var p coordinator.Payment
	require.Eventually(t, func() bool {
		var err error
		p, err = w.c.Get(id)
		return err == nil && p.Final() && (p.Ended || p.Attempt == 0)
	}, 10*time.Second, 20*time.Millisecond, "payment final and its decision acknowledged")
	w.settled(t)
	moved := map[string]int64{params.From: -params.Amount, params.To: params.Amount}
	for _, account := range []string{params.From, params.To} {
		entries := w.entries(t, account, id)
		balance := w.account(t, account).GetPostedBalance()
		if p.Status == coordinator.Failed {
			require.Empty(t, entries, "a failed payment posts nothing at %s", account)
			require.Equal(t, openings[account], balance, account)
			continue
		}
		require.Len(t, entries, 1, "a committed payment posts once at %s", account)
		require.Equal(t, moved[account], entries[0].GetAmount(), account)
		require.Equal(t, p.Attempt, entries[0].GetAttempt(), "posted by the attempt that committed, at %s", account)
		require.Equal(t, openings[account]+moved[account], balance, account)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	again, retry, err := w.c.Pay(ctx, id, params)
	require.NoError(t, err)
	require.True(t, retry, "a resent payment is a retry")
	require.Equal(t, asStored(p), asStored(again), "a retry gets the stored payment")
	return p
}

// asStored returns p as every answer about it must tell it: its times as
// the log stores them (UTC, no monotonic reading), so that payments read
// from memory and from the log compare equal when they are the same, and
// without Ended and Settled, which the first answer does not wait for, nor
// the Round, which is only the coordinator's memory.
func asStored(p coordinator.Payment) coordinator.Payment {
	p.Created, p.Updated = p.Created.UTC().Round(0), p.Updated.UTC().Round(0)
	p.Ended, p.Settled, p.Round = false, time.Time{}, coordinator.Round{}
	return p
}

// serveDecisions serves the coordinator's CoordinatorService on addr
// (127.0.0.1:0 for any port), as the gateway does, until the test ends. It
// returns the address.
func (w *world) serveDecisions(t *testing.T, addr string) string {
	tlsConfig, err := certs.ServerConfig(w.pki.Files(t, certs.RoleGateway, "gateway-1"))
	require.NoError(t, err)
	lis, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	server, _ := rpc.NewServer(tlsConfig, zerolog.Nop(), rpc.ServerOptions(zerolog.Nop(), rpc.DefaultPolicy, nil, nil)...)
	strifev1.RegisterCoordinatorServiceServer(server, coordinator.NewDecisionService(w.c, zerolog.Nop()))
	go server.Serve(lis)
	t.Cleanup(server.Stop)
	return lis.Addr().String()
}

// gate puts a gate between the coordinator and a bank, and returns it.
func (w *world) gate(bank string) *gate {
	g := &gate{modes: map[callKey]mode{}}
	w.dir.wrap(bank, func(p coordinator.Participant) coordinator.Participant { g.Participant = p; return g })
	return g
}

// mode is what a gate does with a call.
type mode int

const (
	pass       mode = iota // let it through
	holdBefore             // hold it before it reaches the bank
	holdAfter              // let the bank answer, then hold the answer
	fail                   // fail it as UNAVAILABLE, without reaching the bank
)

// gate is a bank's participant as the coordinator sees it, with a test in
// the middle: it records every call and its result, and does with each
// what the test set for its kind and attempt. A held call waits until the
// test releases it or the caller's ctx ends; then it returns ctx.Err(), as
// a call to a bank that hangs does.
type gate struct {
	coordinator.Participant

	mu    sync.Mutex
	modes map[callKey]mode // attempt 0: any attempt
	held  []*heldCall      // calls waiting now
	calls []call           // calls done, in order
}

type callKey struct {
	kind    coordinator.Kind
	attempt uint32
}

type call struct {
	callKey
	err error
}

type heldCall struct {
	callKey
	release chan struct{}
	claimed bool // by await
}

// set says what to do with calls of a kind about an attempt (0: any).
func (g *gate) set(kind coordinator.Kind, attempt uint32, m mode) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.modes[callKey{kind, attempt}] = m
}

// open lets every call through from now on, those waiting included.
func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.modes)
	for _, h := range g.held {
		h.let()
	}
	g.held = nil
}

// await waits until a call of that kind about that attempt is held, and
// returns it; each held call is returned once.
func (g *gate) await(t *testing.T, kind coordinator.Kind, attempt uint32) *heldCall {
	t.Helper()
	var found *heldCall
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, h := range g.held {
			if h.callKey == (callKey{kind, attempt}) && !h.claimed {
				h.claimed, found = true, h
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "%v of attempt %d held", kind, attempt)
	return found
}

// let releases a held call.
func (h *heldCall) let() {
	select {
	case <-h.release:
	default:
		close(h.release)
	}
}

// acked counts the calls of a kind about an attempt that the bank
// acknowledged (or voted on).
func (g *gate) acked(kind coordinator.Kind, attempt uint32) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.calls {
		if c.callKey == (callKey{kind, attempt}) && c.err == nil {
			n++
		}
	}
	return n
}

func (g *gate) Prepare(ctx context.Context, id ulid.ULID, attempt uint32, legs []*strifev1.Leg, memo string) (v coordinator.Vote, err error) {
	err = g.through(ctx, callKey{coordinator.KindPrepare, attempt}, func() (err error) {
		v, err = g.Participant.Prepare(ctx, id, attempt, legs, memo)
		return err
	})
	return v, err
}

func (g *gate) Resolve(ctx context.Context, id ulid.ULID, attempt uint32) (v coordinator.Vote, err error) {
	err = g.through(ctx, callKey{coordinator.KindResolve, attempt}, func() (err error) {
		v, err = g.Participant.Resolve(ctx, id, attempt)
		return err
	})
	return v, err
}

func (g *gate) Commit(ctx context.Context, id ulid.ULID, attempt uint32) error {
	return g.through(ctx, callKey{coordinator.KindCommit, attempt}, func() error { return g.Participant.Commit(ctx, id, attempt) })
}

func (g *gate) Abort(ctx context.Context, id ulid.ULID, attempt uint32) error {
	return g.through(ctx, callKey{coordinator.KindAbort, attempt}, func() error { return g.Participant.Abort(ctx, id, attempt) })
}

func (g *gate) through(ctx context.Context, k callKey, bank func() error) error {
	var err error
	switch g.mode(k) {
	case pass:
		err = bank()
	case holdBefore:
		if err = g.hold(ctx, k); err == nil {
			err = bank()
		}
	case holdAfter:
		if err = bank(); err == nil {
			err = g.hold(ctx, k)
		}
	case fail:
		err = status.Error(codes.Unavailable, "gate: bank unreachable")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, call{k, err})
	return err
}

func (g *gate) mode(k callKey) mode {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m, ok := g.modes[k]; ok {
		return m
	}
	return g.modes[callKey{k.kind, 0}]
}

func (g *gate) hold(ctx context.Context, k callKey) error {
	h := &heldCall{callKey: k, release: make(chan struct{})}
	g.mu.Lock()
	g.held = append(g.held, h)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.held = slices.DeleteFunc(g.held, func(x *heldCall) bool { return x == h })
	}()
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// payInBackground sends a Pay that is not answered until the test has done
// its part (it gives up after 10s), and returns where its answer arrives.
// The test must receive it before it ends.
func (w *world) payInBackground(t *testing.T, id ulid.ULID, params coordinator.Params) <-chan coordinator.Payment {
	c := w.c // the test may start another coordinator meanwhile
	paid := make(chan coordinator.Payment, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p, _, err := c.Pay(ctx, id, params)
		if err != nil {
			t.Errorf("Pay %s: %v", id, err)
		}
		paid <- p
	}()
	return paid
}

// records returns the types of what the stopped coordinator's log holds
// about one attempt of a payment (attempt 0: the payment itself), in order.
func (w *world) records(t *testing.T, id ulid.ULID, attempt uint32) []wal.Type {
	log, err := wal.Open(w.logPath, wal.Options{})
	require.NoError(t, err)
	defer log.Close()
	var types []wal.Type
	require.NoError(t, log.View(func(tx *wal.Tx) error {
		recs, err := logtest.Records(tx, id, attempt)
		for _, r := range recs {
			types = append(types, r.Type)
		}
		return err
	}))
	return types
}

// lastCommit is the ID of the last bbolt transaction the running
// coordinator's log has committed; it needs the payments bucket.
func (w *world) lastCommit(t *testing.T) int {
	var id int
	require.NoError(t, w.log.View(func(tx *wal.Tx) error {
		b, err := tx.Bucket(coordinator.CoordinatorBucket) // exists once the coordinator started
		if err == nil {
			id = b.Tx().ID()
		}
		return err
	}))
	return id
}
