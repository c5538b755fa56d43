package deploy_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/internal/plumbing/metrics/metricstest"
	"github.com/strife-pay/strife/internal/tools/deploy"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
)

// TestUp runs the local deployment as real processes and makes payments
// between alice (BankA) and bob (BankB) from four goroutines while BankB and
// then the gateway are killed with SIGKILL and restarted through up's
// stdin. Every payment is then retried under its own ID until it is final,
// and the banks' own records must agree with what the clients were told:
// each payment seen COMMITTED posted exactly once at both banks, each seen
// FAILED at neither, nothing else moved, the total is unchanged and no hold
// is left. Finally SIGTERM must stop everything cleanly, and a second up on
// the same directory must carry on from the same state.
func TestUp(t *testing.T) {
	dataDir, base := t.TempDir(), freeBasePort(t)
	demo, err := users.LoadSeed(filepath.Join(repoRoot, "testdata", "demo-users.yaml"))
	require.NoError(t, err)

	up := startUp(t, dataDir, base)
	up.out.wait(t, regexpUp, 0, 60*time.Second)
	require.True(t, up.out.contains("made a CA"), "a fresh data dir gets new certificates")
	requireMetrics(t, up, base)
	w := newWorld(t, dataDir, base, demo)
	w.checkOpening(t)
	alice, bob := w.login(t, "alice"), w.login(t, "bob")

	load := startLoad(t, alice, bob)
	time.Sleep(3 * time.Second)
	up.kill9(t, "BankB", up.statusPID(t, "BankB"))
	time.Sleep(3 * time.Second) // payments to and from BankB are held PENDING
	up.requireExited(t, "BankB")
	up.restart(t, "BankB")
	time.Sleep(2 * time.Second)
	up.kill9(t, "gateway-1", up.statusPID(t, "gateway-1"))
	time.Sleep(2 * time.Second) // payments fail to reach the gateway
	up.requireExited(t, "gateway-1")
	up.restart(t, "gateway-1")
	time.Sleep(3 * time.Second)
	payments := load.stop()

	settle(t, payments)
	t.Logf("%d payments: %s", len(payments), summary(payments))
	require.Positive(t, count(payments, func(p *payment) bool { return p.pendingSeen }), "no payment was ever held PENDING: BankB's crash was not exercised")
	require.Positive(t, count(payments, func(p *payment) bool { return p.unanswered > 0 }), "no call failed: the gateway's crash was not exercised")
	w.waitNoHolds(t)
	final := w.check(t, payments)
	gateway := fmt.Sprintf("127.0.0.1:%d", deploy.MetricsPorts(base)["gateway-1"])
	require.Positive(t, metricstest.Get(t, gateway).Value("strife_payments_total", "status", "committed", "reason", ""), "the gateway's metrics count the load's payments")

	from := up.out.len()
	up.send(t, "stop BankC")
	up.out.wait(t, regexp.MustCompile(`\[up\]\s+BankC stopped; type "restart BankC"`), from, 30*time.Second)
	up.restart(t, "BankC")
	up.terminate(t, 60*time.Second)

	// A second up carries on from the same certificates, users and ledgers.
	again := startUp(t, dataDir, base)
	again.out.wait(t, regexpUp, 0, 60*time.Second)
	require.False(t, again.out.contains("made a CA"), "a second up must reuse the certificates")
	w.login(t, "alice")
	require.Equal(t, final, w.balances(t), "a second up must find the balances the first one left")
	again.terminate(t, 60*time.Second)
}

// requireMetrics checks that up's banner lists each process's metrics URL,
// at the port MetricsPorts gives, and that each answers.
func requireMetrics(t *testing.T, up *upProcess, base int) {
	t.Helper()
	for name, port := range deploy.MetricsPorts(base) {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		// The banner's first line is what regexpUp waits for; the rest may
		// still be on its way.
		up.out.wait(t, regexp.MustCompile(regexp.QuoteMeta("http://"+addr+"/metrics")), 0, 10*time.Second)
		require.Contains(t, metricstest.Get(t, addr), "go_goroutines", "%s's metrics answer", name)
	}
}

var regexpUp = regexp.MustCompile(`\[up\]\s+Strife is up\.`)

// TestUpFailsCleanly makes BankB's port busy: up must say why BankB did not
// start, stop what it started, and exit with an error.
func TestUpFailsCleanly(t *testing.T) {
	base := freeBasePort(t)
	busy, err := net.Listen("tcp", addr(base+2))
	require.NoError(t, err)
	defer busy.Close()
	up := startUp(t, t.TempDir(), base)
	select {
	case <-up.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("strife up did not give up")
	}
	require.Error(t, up.err)
	require.True(t, up.out.contains("BankB exited before serving"), "up must name the child that failed")
	require.True(t, up.out.contains("address already in use"), "up must show the child's own error")
	for _, pid := range up.childPIDs() {
		require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "child pid %d outlived up", pid)
	}
}

// world is the deployment seen from outside: the demo users and a direct
// connection to each bank with the gateway's certificate, for reading the
// banks' own records.
type world struct {
	certDir string
	gateway string
	users   map[string]users.SeedUser
	banks   map[string]strifev1.BankServiceClient
}

func newWorld(t *testing.T, dataDir string, base int, demo *users.SeedFile) *world {
	w := &world{certDir: filepath.Join(dataDir, "certs"), gateway: addr(base), users: map[string]users.SeedUser{}, banks: map[string]strifev1.BankServiceClient{}}
	for i, bank := range []string{"BankA", "BankB", "BankC"} {
		w.banks[bank] = strifev1.NewBankServiceClient(dial(t, w.certDir, "gateway-1", addr(base+1+i)))
	}
	for _, u := range demo.Users {
		w.users[u.Username] = u
	}
	return w
}

func addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// accounts are the demo users' accounts, with their opening balances.
func (w *world) accounts() map[string]int64 {
	out := map[string]int64{}
	for _, u := range w.users {
		if u.Account != "" {
			out[u.Account] = u.OpeningBalance
		}
	}
	return out
}

// account reads an account from its bank.
func (w *world) account(ctx context.Context, address string) (*strifev1.Account, error) {
	bank, number := splitAccount(address)
	resp, err := w.banks[bank].GetAccount(ctx, &strifev1.GetAccountRequest{Number: number})
	return resp.GetAccount(), err
}

func splitAccount(address string) (bank, number string) {
	bank, number, _ = users.Split(address)
	return bank, number
}

// checkOpening requires every demo account to hold its opening balance.
func (w *world) checkOpening(t *testing.T) {
	require.Equal(t, w.accounts(), w.balances(t))
}

// balances reads every demo account's posted balance from its bank.
func (w *world) balances(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for address := range w.accounts() {
		a, err := w.account(t.Context(), address)
		require.NoError(t, err, address)
		out[address] = a.GetPostedBalance()
	}
	return out
}

// user is a logged-in demo user: their own client program and certificate,
// and the token.
type user struct {
	name    string
	account string
	client  strifev1.GatewayServiceClient
	token   string
}

func (u *user) ctx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+u.token)
}

func (w *world) login(t *testing.T, name string) *user {
	t.Helper()
	client := strifev1.NewGatewayServiceClient(dial(t, w.certDir, name, w.gateway))
	var resp *strifev1.LoginResponse
	eventually(t, 20*time.Second, 200*time.Millisecond, func(ctx context.Context) (err error) {
		resp, err = client.Login(ctx, &strifev1.LoginRequest{Username: name, Password: w.users[name].Password})
		return err
	})
	return &user{name: name, account: w.users[name].Account, client: client, token: resp.GetToken()}
}

// payment is one payment a client made, and everything it was told.
type payment struct {
	id            string
	payer, payee  *user
	amount        int64
	committedSeen bool
	failedSeen    bool
	pendingSeen   bool
	unanswered    int   // calls that got no answer (the gateway down, a timeout)
	unexpected    error // an answer no retry may get (ALREADY_EXISTS, ...)
}

func (p *payment) final() bool { return p.committedSeen || p.failedSeen }

// send sends the payment, a first time or again with the same ID and
// parameters, and records the answer.
func (p *payment) send(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := p.payer.client.Pay(p.payer.ctx(ctx), &strifev1.PayRequest{
		TransactionId: p.id, Payee: &strifev1.PayRequest_ToUser{ToUser: p.payee.name}, Amount: p.amount, Memo: "e2e",
	})
	switch status.Code(err) {
	case codes.OK:
	case codes.Unavailable, codes.DeadlineExceeded:
		p.unanswered++
		return
	default:
		p.unexpected = fmt.Errorf("payment %s: %w", p.id, err)
		return
	}
	switch got := resp.GetPayment(); got.GetStatus() {
	case strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED:
		p.committedSeen = true
	case strifev1.PaymentStatus_PAYMENT_STATUS_FAILED:
		p.failedSeen = true
	case strifev1.PaymentStatus_PAYMENT_STATUS_PENDING:
		p.pendingSeen = true
	default:
		p.unexpected = fmt.Errorf("payment %s: status %v", p.id, got.GetStatus())
	}
}

// load is the concurrent payers: two goroutines pay from alice to bob and
// two from bob to alice, each at most one payment every 20 ms; one payment
// in 40 is far larger than any balance and must fail.
type load struct {
	stopping chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	made     []*payment
}

func startLoad(t *testing.T, alice, bob *user) *load {
	l := &load{stopping: make(chan struct{})}
	for i, pair := range [][2]*user{{alice, bob}, {bob, alice}, {alice, bob}, {bob, alice}} {
		l.wg.Go(func() { l.pay(t.Context(), pair[0], pair[1], i) })
	}
	t.Cleanup(func() { l.stop() })
	return l
}

func (l *load) pay(ctx context.Context, from, to *user, seed int) {
	var made []*payment
	defer func() {
		l.mu.Lock()
		l.made = append(l.made, made...)
		l.mu.Unlock()
	}()
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-l.stopping:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		amount := 1 + r.Int64N(1000)
		if n%40 == 39 {
			amount = 1 << 40
		}
		p := &payment{id: ulid.Make().String(), payer: from, payee: to, amount: amount}
		p.send(ctx)
		made = append(made, p)
	}
}

// stop stops the payers and returns every payment they made. Only the
// first call stops them.
func (l *load) stop() []*payment {
	select {
	case <-l.stopping:
	default:
		close(l.stopping)
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.made
}

// settle retries every payment that is not final, under its own ID and
// parameters, until all are final (at most 60 s).
func settle(t *testing.T, payments []*payment) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var open []*payment
		for _, p := range payments {
			require.NoError(t, p.unexpected)
			if !p.final() {
				open = append(open, p)
			}
		}
		if len(open) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d payments are not final after 60 s of retries, e.g. %s", len(open), open[0].id)
		}
		var wg sync.WaitGroup
		for _, part := range split(open, 8) {
			wg.Go(func() {
				for _, p := range part {
					p.send(t.Context())
				}
			})
		}
		wg.Wait()
		time.Sleep(200 * time.Millisecond)
	}
}

// split deals payments into at most n parts.
func split(payments []*payment, n int) [][]*payment {
	parts := make([][]*payment, min(n, len(payments)))
	for i, p := range payments {
		parts[i%len(parts)] = append(parts[i%len(parts)], p)
	}
	return parts
}

// waitNoHolds waits until no demo account has a hold or a pending credit:
// every prepared attempt has been committed or aborted.
func (w *world) waitNoHolds(t *testing.T) {
	t.Helper()
	eventually(t, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		for address := range w.accounts() {
			a, err := w.account(ctx, address)
			if err != nil {
				return err
			}
			if a.GetHeld() != 0 || a.GetPendingCredits() != 0 {
				return fmt.Errorf("%s still has %d held and %d pending credits", address, a.GetHeld(), a.GetPendingCredits())
			}
		}
		return nil
	})
}

// check compares the banks' records with what the clients were told and
// returns the balances.
func (w *world) check(t *testing.T, payments []*payment) map[string]int64 {
	t.Helper()
	posted := w.postings(t)
	for _, p := range payments {
		require.False(t, p.committedSeen && p.failedSeen, "payment %s was seen both COMMITTED and FAILED", p.id)
		entries := posted[p.id]
		delete(posted, p.id)
		if !p.committedSeen {
			require.Empty(t, entries, "payment %s was seen FAILED but moved money", p.id)
			continue
		}
		require.ElementsMatch(t, []string{
			entry(p.payer.account, strifev1.EntryKind_ENTRY_KIND_DEBIT, -p.amount, p.payee.account),
			entry(p.payee.account, strifev1.EntryKind_ENTRY_KIND_CREDIT, p.amount, p.payer.account),
		}, entries, "payment %s must be posted exactly once at each bank", p.id)
	}
	require.Empty(t, posted, "entries of payments no client made")
	return w.checkBalances(t, payments)
}

// postings reads every demo account's entries from its bank, requires its
// deposits to be its opening balance, and returns the other entries by
// transaction ID.
func (w *world) postings(t *testing.T) map[string][]string {
	t.Helper()
	posted := map[string][]string{}
	for address, opening := range w.accounts() {
		deposits := int64(0)
		for _, e := range w.entries(t, address) {
			if e.GetKind() == strifev1.EntryKind_ENTRY_KIND_DEPOSIT {
				deposits += e.GetAmount()
				continue
			}
			posted[e.GetTransactionId()] = append(posted[e.GetTransactionId()], entry(address, e.GetKind(), e.GetAmount(), e.GetCounterparty()))
		}
		require.Equal(t, opening, deposits, "%s: deposits", address)
	}
	return posted
}

// checkBalances requires each account to hold its opening balance moved by
// the committed payments, and the total to be the opening total.
func (w *world) checkBalances(t *testing.T, payments []*payment) map[string]int64 {
	t.Helper()
	want := w.accounts()
	for _, p := range payments {
		if p.committedSeen {
			want[p.payer.account] -= p.amount
			want[p.payee.account] += p.amount
		}
	}
	got := w.balances(t)
	require.Equal(t, want, got, "balances")
	require.Equal(t, sum(w.accounts()), sum(got), "the total of all balances")
	return got
}

func sum(balances map[string]int64) int64 {
	total := int64(0)
	for _, b := range balances {
		total += b
	}
	return total
}

// entry describes a posted entry for comparison.
func entry(account string, kind strifev1.EntryKind, amount int64, counterparty string) string {
	return fmt.Sprintf("%s %v %+d with %s", account, kind, amount, counterparty)
}

// entries reads every entry of an account from its bank.
func (w *world) entries(t *testing.T, address string) []*strifev1.Entry {
	t.Helper()
	bank, number := splitAccount(address)
	var out []*strifev1.Entry
	page := ""
	for range 10000 {
		resp, err := w.banks[bank].ListEntries(t.Context(), &strifev1.ListEntriesRequest{Number: number, PageSize: 500, PageToken: page})
		require.NoError(t, err)
		out = append(out, resp.GetEntries()...)
		if page = resp.GetNextPageToken(); page == "" {
			return out
		}
	}
	t.Fatalf("%s: too many pages of entries", address)
	return nil
}

func count(payments []*payment, f func(*payment) bool) int {
	n := 0
	for _, p := range payments {
		if f(p) {
			n++
		}
	}
	return n
}

func summary(payments []*payment) string {
	return fmt.Sprintf("%d committed, %d failed, %d seen pending, %d with unanswered calls",
		count(payments, func(p *payment) bool { return p.committedSeen }),
		count(payments, func(p *payment) bool { return p.failedSeen }),
		count(payments, func(p *payment) bool { return p.pendingSeen }),
		count(payments, func(p *payment) bool { return p.unanswered > 0 }))
}
