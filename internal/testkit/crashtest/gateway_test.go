package crashtest_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/tools/recovery"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// strife is the strife binary with the coordinator's failpoints enabled.
var strife string

func TestMain(m *testing.M) {
	os.Exit(banktest.RunWithFailpoints(m, "./cmd/strife", []string{"./coordinator"}, &strife))
}

const (
	processTimeout = banktest.ProcessTimeout
	alicePassword  = "alice crash password"
	aliceOpening   = 100_000
	bobOpening     = 50_000
	amount         = 2_500
)

// deployment is BankA and BankB and the gateway, processes of strife, with
// alice (BankA/1001) and bob (BankB/2001). The gateway listens on the same
// address across restarts, where the banks find it for GetDecision.
type deployment struct {
	pki         *banktest.PKI
	dir         string
	tokenKey    string // the same across restarts: a login outlives them
	gatewayAddr string
	banks       map[string]*banktest.Process
	gateway     *banktest.Process
	// bankClients are connections to the banks with the gateway's
	// certificate, one each for the whole test.
	bankClients map[string]strifev1.BankServiceClient
}

func deploy(t *testing.T) *deployment {
	d := &deployment{pki: banktest.NewPKI(t), dir: t.TempDir(), tokenKey: banktest.TokenKey(t),
		banks: map[string]*banktest.Process{}, bankClients: map[string]strifev1.BankServiceClient{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d.gatewayAddr = l.Addr().String()
	require.NoError(t, l.Close())
	for _, name := range []string{"BankA", "BankB"} {
		files := d.pki.Files(t, certs.RoleBank, name)
		d.banks[name] = banktest.Cmd{Path: strife, Serving: "bank serving", Args: []string{"bank", "--name", name, "--listen", "127.0.0.1:0",
			"--data-dir", filepath.Join(d.dir, name), "--cert", files.CertFile, "--key", files.KeyFile, "--ca", files.CAFile,
			"--coordinator", d.gatewayAddr, "--in-doubt-timeout", "200ms", "--log-format", "json"}}.Start(t)
		d.bankClients[name] = d.pki.GatewayClient(t, d.banks[name].Addr)
	}
	users := filepath.Join(d.dir, "users.yaml")
	require.NoError(t, os.WriteFile(users, fmt.Appendf(nil, `users:
  - {username: admin, password: "admin crash password", role: admin}
  - {username: alice, password: %q, role: customer, account: BankA/1001, opening_balance: %d}
  - {username: bob, password: "bob crash password", role: customer, account: BankB/2001, opening_balance: %d}
`, alicePassword, aliceOpening, bobOpening), 0o600))
	d.startGateway(t, "", "--users", users)
	return d
}

// startGateway starts the gateway with the failpoints of failpoints
// (GOFAIL_FAILPOINTS syntax, "" for none) and waits until it serves.
func (d *deployment) startGateway(t *testing.T, failpoints string, extra ...string) {
	files := d.pki.Files(t, certs.RoleGateway, "gateway-1")
	args := []string{"gateway", "--name", "gateway-1", "--listen", d.gatewayAddr, "--data-dir", filepath.Join(d.dir, "gateway"),
		"--cert", files.CertFile, "--key", files.KeyFile, "--ca", files.CAFile, "--token-key", d.tokenKey,
		"--bcrypt-cost", "4", "--log-format", "json"}
	for name, b := range d.banks {
		args = append(args, "--bank", name+"="+b.Addr)
	}
	var env []string
	if failpoints != "" {
		env = []string{"GOFAIL_FAILPOINTS=" + failpoints}
	}
	d.gateway = banktest.Cmd{Path: strife, Args: append(args, extra...), Env: env, Serving: "gateway serving"}.Start(t)
}

// stop stops p cleanly and requires a clean exit.
func stop(t *testing.T, p *banktest.Process) {
	t.Helper()
	require.Zero(t, p.Stop(), "exit code\n%s", p.Logs())
}

// alice is alice's client program, logged in.
type alice struct {
	client strifev1.GatewayServiceClient
	ctx    context.Context
}

func (d *deployment) login(t *testing.T) alice {
	t.Helper()
	client := strifev1.NewGatewayServiceClient(d.pki.Dial(t, d.gatewayAddr, certs.RoleClient, "alice-laptop"))
	resp, err := client.Login(t.Context(), &strifev1.LoginRequest{Username: "alice", Password: alicePassword})
	require.NoError(t, err)
	return alice{client: client, ctx: metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+resp.GetToken())}
}

func (a alice) pay(id ulid.ULID) (*strifev1.Payment, error) {
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	resp, err := a.client.Pay(ctx, &strifev1.PayRequest{TransactionId: id.String(), Payee: &strifev1.PayRequest_ToUser{ToUser: "bob"}, Amount: amount})
	return resp.GetPayment(), err
}

// payUntilFinal sends the same payment again, as a client's queue does,
// until the answer is final, and returns it.
func (a alice) payUntilFinal(t *testing.T, id ulid.ULID) *strifev1.Payment {
	t.Helper()
	retried := []codes.Code{codes.Unavailable, codes.DeadlineExceeded}
	var p *strifev1.Payment
	var err error
	require.Eventually(t, func() bool {
		p, err = a.pay(id)
		if err != nil {
			return !slices.Contains(retried, status.Code(err)) // any other error ends the wait, and fails below
		}
		return p.GetStatus() != strifev1.PaymentStatus_PAYMENT_STATUS_PENDING
	}, processTimeout, 50*time.Millisecond, "payment %s final", id)
	require.NoError(t, err, "only %v are retried", retried)
	return p
}

// requireHeld waits until BankA holds held of alice's account and BankB
// has pending credits of bob's.
func (d *deployment) requireHeld(t *testing.T, held, pending int64, tick time.Duration, msg string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		a, err := d.bankClients["BankA"].GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: "1001"})
		require.NoError(c, err)
		b, err := d.bankClients["BankB"].GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: "2001"})
		require.NoError(c, err)
		assert.Equal(c, [2]int64{held, pending}, [2]int64{a.GetAccount().GetHeld(), b.GetAccount().GetPendingCredits()}, "held at BankA, pending at BankB")
	}, processTimeout, tick, msg)
}

// requireIntact waits until nothing is held, stops everything, and checks
// the files: the payment id moved amount exactly once if it committed and
// nothing if it failed, money is conserved, and strife-recover check (with
// the cross-check of the gateway's decisions against the banks' records)
// finds nothing wrong.
func (d *deployment) requireIntact(t *testing.T, id ulid.ULID, p *strifev1.Payment) {
	t.Helper()
	d.requireHeld(t, 0, 0, 20*time.Millisecond, "no hold left")
	moved := int64(0)
	if p.GetStatus() == strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED {
		moved = amount
	}
	for bank, want := range map[string]struct {
		number  string
		balance int64
	}{"BankA": {"1001", aliceOpening - moved}, "BankB": {"2001", bobOpening + moved}} {
		client := d.bankClients[bank]
		acct, err := client.GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: want.number})
		require.NoError(t, err)
		require.Equal(t, want.balance, acct.GetAccount().GetPostedBalance(), bank)
		entries, err := client.ListEntries(t.Context(), &strifev1.ListEntriesRequest{Number: want.number})
		require.NoError(t, err)
		n := 0
		for _, e := range entries.GetEntries() {
			if e.GetTransactionId() == id.String() {
				n++
			}
		}
		require.Equal(t, int(moved/amount), n, "entries of %s at %s", id, bank)
	}
	stop(t, d.gateway)
	for _, b := range d.banks {
		stop(t, b)
	}
	var out, errOut bytes.Buffer
	files := []string{filepath.Join(d.dir, "gateway", "gateway-1.db"), filepath.Join(d.dir, "BankA", "BankA.db"), filepath.Join(d.dir, "BankB", "BankB.db")}
	code := recovery.Run(&out, &errOut, files, recovery.Options{})
	require.Equal(t, 0, code, "strife-recover check:\n%s%s", out.String(), errOut.String())
}

// The gateway dies right after its record of the staged attempt is
// durable, before it takes any vote. Restarted, it settles the attempt by
// asking both banks; the client's resend gets the outcome.
func TestGatewayDiesWithTheAttemptStagedBeforeTheVotes(t *testing.T) {
	d := deploy(t)
	stop(t, d.gateway)
	d.startGateway(t, "stagedBeforeVotes=return")
	a := d.login(t)
	id := ulid.Make()
	_, err := a.pay(id)
	require.Error(t, err, "no answer: the gateway died")
	d.gateway.Wait()
	require.Contains(t, d.gateway.Logs(), "failpoint stagedBeforeVotes")

	d.startGateway(t, "")
	p := a.payUntilFinal(t, id)
	require.Equal(t, strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED, p.GetStatus())
	d.requireIntact(t, id, p)
}

// The Prepares leave while the staging record commits, and the banks vote
// YES; the gateway is killed before the record is durable. The banks learn
// ABORT when they ask (presumed abort: the attempt was never staged), and
// the client's resend, accepted afresh, commits under an attempt number no
// bank has seen.
func TestGatewayKilledWithTheVotesBeforeTheStagingRecord(t *testing.T) {
	d := deploy(t)
	stop(t, d.gateway)
	d.startGateway(t, "stagingBeforeDurable=sleep(10000)")
	a := d.login(t)
	id := ulid.Make()
	go a.pay(id) // never answered
	d.requireHeld(t, amount, amount, 10*time.Millisecond, "both banks voted YES")
	d.gateway.Kill()

	d.startGateway(t, "")
	d.requireHeld(t, 0, 0, 20*time.Millisecond, "the banks' in-doubt resolvers learn ABORT once the gateway is back")
	p := a.payUntilFinal(t, id)
	require.Equal(t, strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED, p.GetStatus())
	require.Equal(t, uint32(1), p.GetAttempts(), "one attempt of the gateway's own: the first was never recorded")
	d.requireIntact(t, id, p)
}

// The last YES commits the attempt and the client is answered COMMITTED;
// the gateway is killed before the decision's record is durable (a
// failpoint makes it wait for another commit that never comes). Restarted,
// it resolves the attempt, and dies again while the answers come in;
// restarted again, it resolves it to COMMIT, and the payment settles once.
func TestGatewayKilledAfterTheImplicitCommitAndDuringResolution(t *testing.T) {
	d := deploy(t)
	stop(t, d.gateway)
	d.startGateway(t, `lazyDecisionLinger=return("1h")`)
	a := d.login(t)
	id := ulid.Make()
	p, err := a.pay(id)
	require.NoError(t, err)
	require.Equal(t, strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED, p.GetStatus())
	d.gateway.Kill()

	var out, errOut bytes.Buffer
	recovery.Run(&out, &errOut, []string{filepath.Join(d.dir, "gateway", "gateway-1.db")}, recovery.Options{})
	require.Regexp(t, id.String()+`/\d+: staged, no decision`, out.String(), "the decision was not durable")

	d.startGateway(t, "resolvedBeforeDecision=panic")
	d.gateway.Wait()
	require.Contains(t, d.gateway.Logs(), "failpoint panic")
	require.Contains(t, d.gateway.Logs(), "askResolve")

	d.startGateway(t, "")
	again := a.payUntilFinal(t, id)
	require.Equal(t, strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED, again.GetStatus(), "the answer stands")
	d.requireIntact(t, id, again)
}
