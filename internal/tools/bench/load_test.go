package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/gatewayd"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	"github.com/strife-pay/strife/internal/tools/bench"
	"github.com/strife-pay/strife/internal/tools/certscli"
	"github.com/strife-pay/strife/internal/tools/recovery"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// A history made by LoadHistory is what a deployment would have left: the
// three files pass strife-recover check (each log verifies, each
// projection matches its log, money is conserved, no hold is left, the
// gateway and the banks agree), with exactly the open payments in doubt
// at the gateway and none at the banks. A gateway started on it resumes
// exactly those, and, its banks being up, commits them; the banks serve
// the balances the history made.
func TestLoadHistoryMakesFilesADeploymentServes(t *testing.T) {
	const payments, open, accounts = 2000, 5, 50
	dir := t.TempDir()
	require.NoError(t, bench.LoadHistory(dir, bench.History{Payments: payments, Open: open, Accounts: accounts}, time.Now(), nil))
	paths := []string{
		filepath.Join(dir, "gateway-1", "gateway-1.db"),
		filepath.Join(dir, "BankA", "BankA.db"),
		filepath.Join(dir, "BankB", "BankB.db"),
	}

	var out, errOut bytes.Buffer
	exit := recovery.Run(&out, &errOut, paths, recovery.Options{JSON: true})
	require.Zero(t, exit, "strife-recover check: %s %s", out.String(), errOut.String())
	var res recovery.Result
	require.NoError(t, json.Unmarshal(out.Bytes(), &res))
	require.Empty(t, res.CrossCheck)
	require.Len(t, res.Files, 3)
	var held []string
	for _, f := range res.Files {
		require.Empty(t, f.Differences, f.Path)
		if f.Kind != recovery.Gateway {
			require.Empty(t, f.InDoubt, "%s: no hold is left", f.Path)
			continue
		}
		for _, d := range f.InDoubt {
			held = append(held, d.TxID.String())
		}
	}
	require.Len(t, held, open, "the open payments, and only they, are unfinished")
	gw, err := wal.OpenReadOnly(paths[0], 0)
	require.NoError(t, err)
	require.NoError(t, gw.View(func(tx *wal.Tx) error {
		require.Equal(t, payments+open, recovery.Payments(tx, recovery.Gateway), "the tools count the open payments and the finished ones")
		return nil
	}))
	require.NoError(t, gw.Close())

	logs := &syncBuffer{}
	certDir, addr := serveHistory(t, dir, logs)
	require.Contains(t, logs.String(), `"payments":5,`, "the gateway resumes the open payments: %s", logs.lines("recovered"))
	require.Equal(t, 1, strings.Count(logs.String(), "recovered open payments from the log"))

	conn := dialGateway(t, certDir, addr)
	gateway := strifev1.NewGatewayServiceClient(conn)
	users := map[int]context.Context{}
	for i := range accounts {
		users[i] = loginAs(t, gateway, bench.HistoryUser(i))
	}
	// Each held payment is found by one of its users (the first five
	// payers), and commits once resumed.
	for _, id := range held {
		require.Eventually(t, func() bool {
			for i := range open {
				resp, err := gateway.GetPayment(users[i], &strifev1.GetPaymentRequest{TransactionId: id})
				if err == nil {
					return resp.GetPayment().GetStatus() == strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED
				}
			}
			return false
		}, 20*time.Second, 20*time.Millisecond, "held payment %s resumes and commits", id)
	}

	// Every payment moved 1 from BankA to BankB: user0 paid one in
	// accounts of them, and the money of both banks together is what the
	// accounts were opened with.
	var total int64
	for i := range accounts {
		resp, err := gateway.GetBalance(users[i], &strifev1.GetBalanceRequest{})
		require.NoError(t, err)
		require.Len(t, resp.GetAccounts(), 2)
		for _, a := range resp.GetAccounts() {
			total += a.GetPostedBalance()
			if i == 0 && a.GetBank() == "BankA" {
				require.Equal(t, int64(1<<40)-(payments+open+accounts-1)/accounts, a.GetPostedBalance(), "user0 at BankA")
			}
		}
	}
	require.Equal(t, int64(accounts)<<40, total, "money is conserved")
}

// serveHistory starts BankA, BankB and the gateway in this process on the
// files in dir, with certificates of their own, and returns the
// certificates' directory and the gateway's address. Their logs go to
// logs.
func serveHistory(t *testing.T, dir string, logs *syncBuffer) (certDir, addr string) {
	t.Helper()
	init := certscli.DefaultInitOptions(filepath.Join(t.TempDir(), "certs"))
	init.Banks, init.Clients = []string{"BankA", "BankB"}, []string{"bench"}
	_, err := certscli.Init(init)
	require.NoError(t, err)
	log := zerolog.New(logs).With().Timestamp().Logger()
	addrs := map[string]string{}
	for _, name := range init.Banks {
		b, err := bankd.Start(bankd.Config{Config: daemon.Config{
			Name: name, Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, name), TLS: certs.FilesIn(init.Dir, name), Log: log,
		}})
		require.NoError(t, err)
		t.Cleanup(func() { b.Stop() })
		addrs[name] = b.Addr()
	}
	g, err := gatewayd.Start(gatewayd.Config{
		Config: daemon.Config{
			Name: "gateway-1", Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "gateway-1"),
			TLS: certs.FilesIn(init.Dir, "gateway-1"), Log: log,
		},
		TokenKeyFile: filepath.Join(init.Dir, certscli.TokenKeyFile),
		Banks:        addrs, BcryptCost: 4,
	})
	require.NoError(t, err)
	t.Cleanup(func() { g.Stop() })
	return init.Dir, g.Addr()
}

func dialGateway(t *testing.T, certDir, addr string) *grpc.ClientConn {
	t.Helper()
	tlsConfig, err := certs.ClientConfig(certs.FilesIn(certDir, "bench"), "")
	require.NoError(t, err)
	conn, err := rpc.Dial(addr, tlsConfig)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

func loginAs(t *testing.T, gateway strifev1.GatewayServiceClient, user string) context.Context {
	t.Helper()
	resp, err := gateway.Login(context.Background(), &strifev1.LoginRequest{Username: user, Password: bench.HistoryPassword})
	require.NoError(t, err)
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+resp.GetToken())
}

// With BankEvents, the banks' files stop at that many records (the smaller,
// BankB's, to within one payment's; BankA's has its accounts' deposits
// more) however many payments the gateway holds, and each file
// still passes strife-recover check on its own: the gateway's with every
// payment and the open ones in doubt, the banks' with no hold left. (The
// cross-check between them is not expected to hold: the gateway's later
// payments are committed at no bank.)
func TestLoadHistoryMakesBanksOfTheirOwnSize(t *testing.T) {
	const payments, open, accounts, bankEvents = 2000, 5, 50, 1000
	dir := t.TempDir()
	require.NoError(t, bench.LoadHistory(dir, bench.History{Payments: payments, Open: open, Accounts: accounts, BankEvents: bankEvents}, time.Now(), nil))
	records := map[string]uint64{}
	for _, name := range []string{"gateway-1", "BankA", "BankB"} {
		path := filepath.Join(dir, name, name+".db")
		var out, errOut bytes.Buffer
		exit := recovery.Run(&out, &errOut, []string{path}, recovery.Options{JSON: true})
		require.Zero(t, exit, "strife-recover check %s: %s %s", name, out.String(), errOut.String())
		var res recovery.Result
		require.NoError(t, json.Unmarshal(out.Bytes(), &res))
		require.Len(t, res.Files, 1)
		f := res.Files[0]
		require.Empty(t, f.Differences, name)
		if name == "gateway-1" {
			require.Len(t, f.InDoubt, open, "the open payments, and only they, are unfinished")
			continue
		}
		require.Empty(t, f.InDoubt, name)
		l, err := wal.OpenReadOnly(path, 0)
		require.NoError(t, err)
		require.NoError(t, l.View(func(tx *wal.Tx) error { records[name] = tx.LastSeq(); return nil }))
		require.NoError(t, l.Close())
	}
	require.GreaterOrEqual(t, records["BankB"], uint64(bankEvents))
	require.Less(t, records["BankB"], uint64(bankEvents+10), "cut to within a payment's records")
	require.Less(t, records["BankA"], uint64(bankEvents+accounts+10), "the payer's file: its deposits more")
}

// strife-bench startup makes a history once, measures the daemons started
// as processes on copies of it, and on a second run with the same
// directory reuses the files. Only that: the figures are for people.
func TestStartupMeasuresAndKeepsTheFiles(t *testing.T) {
	t.Setenv(daemonEnv, "1")
	dir := t.TempDir()
	opts := bench.StartupOptions{Payments: []int{300}, Open: 3, Accounts: 20, Dir: dir, Runs: 2, Executable: os.Args[0], JSON: true}
	for run := range 2 {
		var out bytes.Buffer
		opts.Out = &out
		results, err := bench.RunStartup(opts)
		require.NoError(t, err)
		require.Len(t, results, 1)
		r := results[0]
		require.Len(t, r.GatewayRuns, 2)
		require.Positive(t, r.Gateway)
		require.Positive(t, r.Bank)
		require.Positive(t, r.GatewayBytes)
		if run == 0 {
			require.Positive(t, r.Loaded, "made the files")
		} else {
			require.Zero(t, r.Loaded, "reused the files")
		}
		require.Contains(t, out.String(), `"gateway_ms":`)
	}
}

// syncBuffer is a bytes.Buffer safe for the daemons' concurrent logging.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the lines that contain s.
func (b *syncBuffer) lines(s string) string {
	var out []string
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
