package bankd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// The tests of this package run the real strife-bank binary, built once by
// TestMain, as a child process: signals, exit codes and logs are the
// daemon's interface, and SIGKILL is a real crash.
var bankBinary string

func TestMain(m *testing.M) {
	os.Exit(banktest.RunWithBinary(m, "github.com/strife-pay/strife/cmd/strife-bank", &bankBinary))
}

// The bank under test and the accounts testdata/seed.yaml gives it.
const (
	bankName     = "BankA"
	alice        = "1001"
	aliceOpening = 100_000
	bob          = "1002"
	bobOpening   = 50_000
	carol        = "2001" // BankB's account: BankA must not open it
)

// How long the harness waits for a process to start serving or to exit.
const processTimeout = banktest.ProcessTimeout

// seedPath is the absolute path of testdata/seed.yaml.
func seedPath(t *testing.T) string {
	return banktest.Testdata(t, "seed.yaml")
}

// writeFile writes content to a new file in a temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// bankFlags are what varies between runs of strife-bank; the name, the
// certificate flags, --listen 127.0.0.1:0 and --log-format json are always
// given.
type bankFlags struct {
	DataDir        string
	Seed           string        // --seed, if set
	Coordinator    string        // --coordinator, if set
	InDoubtTimeout time.Duration // --in-doubt-timeout; zero means 1h: nothing resolves by itself
	Etcd           []string      // --etcd-endpoints, if set
	LeaseTTL       time.Duration // --lease-ttl, if set
}

func (f bankFlags) args(tls certs.Files) []string {
	timeout := f.InDoubtTimeout
	if timeout == 0 {
		timeout = time.Hour
	}
	args := []string{
		"--name", bankName,
		"--listen", "127.0.0.1:0",
		"--data-dir", f.DataDir,
		"--cert", tls.CertFile, "--key", tls.KeyFile, "--ca", tls.CAFile,
		"--in-doubt-timeout", timeout.String(),
		"--log-format", "json",
	}
	if f.Seed != "" {
		args = append(args, "--seed", f.Seed)
	}
	if f.Coordinator != "" {
		args = append(args, "--coordinator", f.Coordinator)
	}
	if len(f.Etcd) > 0 {
		args = append(args, "--etcd-endpoints", strings.Join(f.Etcd, ","))
	}
	if f.LeaseTTL != 0 {
		args = append(args, "--lease-ttl", f.LeaseTTL.String())
	}
	return args
}

// bankProcess is one run of strife-bank (see banktest.Process: its stderr
// goes to the test log and is kept for Count and Logs).
type bankProcess struct {
	*banktest.Process
	t      *testing.T
	pki    *banktest.PKI
	client strifev1.BankServiceClient
}

func bankCmd(t *testing.T, pki *banktest.PKI, f bankFlags) banktest.Cmd {
	return banktest.Cmd{Path: bankBinary, Args: f.args(pki.Files(t, certs.RoleBank, bankName)), Serving: "bank serving"}
}

// launchBank starts strife-bank and kills it, if it is still running, when
// the test ends.
func launchBank(t *testing.T, pki *banktest.PKI, f bankFlags) *bankProcess {
	t.Helper()
	return &bankProcess{Process: bankCmd(t, pki, f).Launch(t), t: t, pki: pki}
}

// startBank starts strife-bank and waits until it logs "bank serving".
func startBank(t *testing.T, pki *banktest.PKI, f bankFlags) *bankProcess {
	t.Helper()
	return &bankProcess{Process: bankCmd(t, pki, f).Start(t), t: t, pki: pki}
}

// Client is a BankService client with the gateway's certificate.
func (b *bankProcess) Client() strifev1.BankServiceClient {
	if b.client == nil {
		b.client = b.pki.GatewayClient(b.t, b.Addr)
	}
	return b.client
}

// waitFor polls cond every 20ms until it holds, failing the test after
// within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for range int(within / (20 * time.Millisecond)) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.True(t, cond(), "still not %s after %v", what, within)
}
