package participant_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/ledger"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// bankName is the bank every service test runs; gatewayName is the CN of the
// certificate banktest.PKI.GatewayClient dials with.
const (
	bankName    = "BankA"
	gatewayName = "gateway-1"
)

// testBank is a bank daemon started in-process with real mutual TLS, and a
// BankService client holding a gateway certificate of the same CA.
type testBank struct {
	pki    *banktest.PKI
	cfg    bankd.Config
	daemon *bankd.Bank
	client strifev1.BankServiceClient
}

// startBank starts a fresh bank. When the test ends, after the bank has
// stopped, its log is reopened and the ledger's invariants are verified.
func startBank(t *testing.T) *testBank {
	t.Helper()
	return startBankWith(t, func(*bankd.Config) {})
}

// startBankWith is startBank with a configuration that change has changed.
func startBankWith(t *testing.T, change func(*bankd.Config)) *testBank {
	t.Helper()
	pki := banktest.NewPKI(t)
	cfg := pki.Config(t, bankName, banktest.DataDir(t))
	change(&cfg)
	// Nothing may be resolved behind a test's back.
	cfg.Participant.InDoubtTimeout = time.Hour
	b := &testBank{pki: pki, cfg: cfg}
	// Registered before the first banktest.Start, so that it runs after every
	// Stop cleanup (cleanups run last in, first out).
	t.Cleanup(func() { verifyLedger(t, b.walPath()) })
	b.start(t)
	return b
}

func (b *testBank) start(t *testing.T) {
	t.Helper()
	b.daemon = banktest.Start(t, b.cfg)
	b.client = b.pki.GatewayClient(t, b.daemon.Addr())
}

func (b *testBank) walPath() string {
	return filepath.Join(b.cfg.DataDir, b.cfg.Name+".db")
}

// stop stops the bank and returns the number of records in its log.
func (b *testBank) stop(t *testing.T) uint64 {
	t.Helper()
	require.NoError(t, b.daemon.Stop())
	log := openWAL(t, b.walPath())
	defer log.Close()
	var n uint64
	require.NoError(t, log.View(func(tx *wal.Tx) error { n = tx.LastSeq(); return nil }))
	return n
}

// requireNoRecords runs calls against a restarted bank and requires that
// they appended nothing to its log. The bank is running again afterwards.
func (b *testBank) requireNoRecords(t *testing.T, calls func()) {
	t.Helper()
	before := b.stop(t)
	b.start(t)
	calls()
	require.Equal(t, before, b.stop(t), "records in the log")
	b.start(t)
}

func openWAL(t *testing.T, path string) *wal.Log {
	t.Helper()
	log, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	return log
}

// verifyLedger is the invariant check run after every test: the projection
// matches the log, money is conserved and no hold is orphaned.
func verifyLedger(t *testing.T, path string) {
	log := openWAL(t, path)
	defer log.Close()
	l, err := ledger.New(log, nil)
	require.NoError(t, err)
	require.NoError(t, l.Verify())
}

// balances are the amounts of an account as GetAccount reports them.
type balances struct {
	Posted, Held, Available, Pending int64
}

func (b *testBank) open(t *testing.T, number string, opening int64) *strifev1.Account {
	t.Helper()
	resp, err := b.client.OpenAccount(t.Context(), &strifev1.OpenAccountRequest{Number: number, Owner: "owner-" + number, OpeningBalance: opening})
	require.NoError(t, err)
	require.True(t, resp.GetCreated())
	return resp.GetAccount()
}

func (b *testBank) account(t *testing.T, number string) *strifev1.Account {
	t.Helper()
	resp, err := b.client.GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: number})
	require.NoError(t, err)
	return resp.GetAccount()
}

func (b *testBank) balances(t *testing.T, number string) balances {
	t.Helper()
	a := b.account(t, number)
	return balances{Posted: a.GetPostedBalance(), Held: a.GetHeld(), Available: a.GetAvailableBalance(), Pending: a.GetPendingCredits()}
}

// entries returns all posted entries of an account, newest first.
func (b *testBank) entries(t *testing.T, number string) []*strifev1.Entry {
	t.Helper()
	resp, err := b.client.ListEntries(t.Context(), &strifev1.ListEntriesRequest{Number: number, PageSize: 1000})
	require.NoError(t, err)
	require.Empty(t, resp.GetNextPageToken())
	return resp.GetEntries()
}

// vote is a Prepare's answer.
type vote struct {
	Vote   strifev1.Vote
	Reason strifev1.Reason
}

var yes = vote{Vote: strifev1.Vote_VOTE_YES}

func no(reason strifev1.Reason) vote { return vote{Vote: strifev1.Vote_VOTE_NO, Reason: reason} }

func debit(number string, amount int64) *strifev1.Leg {
	return &strifev1.Leg{Account: number, Direction: strifev1.Direction_DIRECTION_DEBIT, Amount: amount, Counterparty: "BankB/2001"}
}

func credit(number string, amount int64) *strifev1.Leg {
	return &strifev1.Leg{Account: number, Direction: strifev1.Direction_DIRECTION_CREDIT, Amount: amount, Counterparty: "BankB/2001"}
}

func prepareRequest(id ulid.ULID, attempt uint32, legs ...*strifev1.Leg) *strifev1.PrepareRequest {
	return &strifev1.PrepareRequest{TransactionId: id.String(), Attempt: attempt, Legs: legs}
}

// prepare sends a Prepare that must be answered with a vote.
func (b *testBank) prepare(t *testing.T, req *strifev1.PrepareRequest) vote {
	t.Helper()
	resp, err := b.client.Prepare(t.Context(), req)
	require.NoError(t, err)
	return vote{Vote: resp.GetVote(), Reason: resp.GetReason()}
}

// resolve sends a ResolveAttempt that must be answered with a vote.
func (b *testBank) resolve(t *testing.T, id ulid.ULID, attempt uint32) vote {
	t.Helper()
	resp, err := b.client.ResolveAttempt(t.Context(), &strifev1.ResolveAttemptRequest{TransactionId: id.String(), Attempt: attempt})
	require.NoError(t, err)
	return vote{Vote: resp.GetVote(), Reason: resp.GetReason()}
}

func (b *testBank) commit(t *testing.T, id ulid.ULID, attempt uint32) error {
	t.Helper()
	_, err := b.client.Commit(t.Context(), &strifev1.CommitRequest{TransactionId: id.String(), Attempt: attempt})
	return err
}

func (b *testBank) abort(t *testing.T, id ulid.ULID, attempt uint32) error {
	t.Helper()
	_, err := b.client.Abort(t.Context(), &strifev1.AbortRequest{TransactionId: id.String(), Attempt: attempt})
	return err
}

// requireCode requires err to be a gRPC status with the given code.
func requireCode(t *testing.T, want codes.Code, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want.String(), status.Code(err).String(), "error: %v", err)
}

// dial connects to addr with any transport credentials, for callers the
// bank must turn away.
func dial(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}
