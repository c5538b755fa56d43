package client_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/daemons/gatewayd"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
	"github.com/strife-pay/strife/internal/tools/cli"
	"github.com/strife-pay/strife/internal/tools/client"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// passwords of testdata/users.yaml.
var passwords = map[string]string{"admin": "admin password", "alice": "alice password", "bob": "bob password", "carol": "carol password"}

// world is two banks and a gateway in-process over mutual TLS. The gateway
// listens on a fixed port, so that it can be stopped and started again
// where clients expect it.
type world struct {
	pki         *banktest.PKI
	cfg         gatewayd.Config
	gw          *gatewayd.Gateway
	bankClients map[string]strifev1.BankServiceClient
	banks       map[string]*bankd.Bank
	bankConfigs map[string]bankd.Config
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{pki: banktest.NewPKI(t), bankClients: map[string]strifev1.BankServiceClient{}, banks: map[string]*bankd.Bank{}, bankConfigs: map[string]bankd.Config{}}
	w.cfg = gatewayd.Config{
		Config: daemon.Config{
			Name: "gateway-1", Listen: freeAddr(t), DataDir: banktest.DataDir(t),
			TLS: w.pki.Files(t, certs.RoleGateway, "gateway-1"),
			Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		},
		TokenKeyFile: banktest.TokenKey(t), Banks: map[string]string{},
		UsersFile: banktest.Testdata(t, "users.yaml"), BcryptCost: bcrypt.MinCost,
	}
	for _, name := range []string{"BankA", "BankB"} {
		cfg := w.pki.Config(t, name, banktest.DataDir(t))
		cfg.Log = cfg.Log.Level(zerolog.WarnLevel)
		b := banktest.Start(t, cfg)
		w.bankClients[name], w.cfg.Banks[name] = w.pki.GatewayClient(t, b.Addr()), b.Addr()
		cfg.Listen = b.Addr() // a restart listens where the bank was
		w.banks[name], w.bankConfigs[name] = b, cfg
	}
	for user := range passwords {
		w.pki.Files(t, certs.RoleClient, user)
	}
	w.start(t)
	return w
}

func freeAddr(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	return lis.Addr().String()
}

func (w *world) start(t *testing.T) {
	t.Helper()
	gw, err := gatewayd.Start(w.cfg)
	require.NoError(t, err)
	w.gw = gw
	t.Cleanup(func() { gw.Stop() })
}

func (w *world) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, w.gw.Stop())
}

// config is a client configuration for w with its state in stateDir.
func (w *world) config(stateDir string) client.Config {
	return client.Config{Gateway: w.cfg.Listen, CertsDir: w.pki.Dir, StateDir: stateDir}
}

// login logs user in with a fresh state dir, returning the dir.
func (w *world) login(t *testing.T, user string) string {
	t.Helper()
	dir := t.TempDir()
	c, err := client.Open(w.config(dir))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Dial(user))
	_, err = c.Login(t.Context(), user, passwords[user])
	require.NoError(t, err)
	return dir
}

// open opens a logged-in client on dir, with its queue: what starting the
// client program does.
func (w *world) open(t *testing.T, dir string) *client.Client {
	t.Helper()
	c, err := client.Open(w.config(dir))
	require.NoError(t, err)
	require.NoError(t, c.CheckSession())
	require.NoError(t, c.Dial(""))
	require.NoError(t, c.OpenQueue())
	return c
}

// posted is an account's posted balance as its bank reports it once every
// committed payment has settled there: a COMMITTED answer comes before the
// bank applies the Commit, and until then the amount shows as held or
// pending.
func (w *world) posted(t *testing.T, bank, number string) int64 {
	t.Helper()
	var account *strifev1.Account
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, err := w.bankClients[bank].GetAccount(context.Background(), &strifev1.GetAccountRequest{Number: number})
		require.NoError(c, err)
		account = resp.GetAccount()
		assert.Zero(c, account.GetHeld(), "held")
		assert.Zero(c, account.GetPendingCredits(), "pending credits")
	}, 10*time.Second, 5*time.Millisecond, "%s/%s settled", bank, number)
	return account.GetPostedBalance()
}

// debits counts the debit entries of a transaction on an account, once
// the account has settled (see posted).
func (w *world) debits(t *testing.T, bank, number, id string) int {
	t.Helper()
	w.posted(t, bank, number)
	resp, err := w.bankClients[bank].ListEntries(context.Background(), &strifev1.ListEntriesRequest{Number: number, PageSize: 1000})
	require.NoError(t, err)
	n := 0
	for _, e := range resp.GetEntries() {
		if e.GetTransactionId() == id && e.GetKind() == strifev1.EntryKind_ENTRY_KIND_DEBIT {
			n++
		}
	}
	return n
}

// run runs the strife command with args and stdin, returning its output.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := cli.Command()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

// result is what a strife process shows: its outputs and exit status.
type result struct {
	stdout, stderr string
	exit           int
}

// runMain runs the strife command as cmd/strife's main does, errors and
// exit status included.
func runMain(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := cli.Command()
	var out, errOut bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	exit := client.Execute(ctx, cmd, args)
	return result{stdout: out.String(), stderr: errOut.String(), exit: exit}
}
