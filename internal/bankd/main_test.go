package bankd_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/testbank"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// The tests of this package run the real strife-bank binary, built once by
// TestMain, as a child process: signals, exit codes and logs are the
// daemon's interface, and SIGKILL is a real crash.
var bankBinary string

func TestMain(m *testing.M) {
	os.Exit(testbank.RunWithBinary(m, "github.com/strife-pay/strife/cmd/strife-bank", &bankBinary))
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
const processTimeout = 15 * time.Second

// seedPath is the absolute path of testdata/seed.yaml.
func seedPath(t *testing.T) string {
	return testbank.Testdata(t, "seed.yaml")
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

// bankProcess is one run of strife-bank. Its stderr goes to the test log
// and is kept for count and stderr.
type bankProcess struct {
	t      *testing.T
	pki    *testbank.PKI
	cmd    *exec.Cmd
	addr   chan string   // the address of the "bank serving" line
	exited chan struct{} // closed once the process has exited and its stderr is read

	// Addr is where the bank serves; set by startBank.
	Addr   string
	client strifev1.BankServiceClient

	mu    sync.Mutex
	lines []logLine
}

// logLine is one line of stderr: a zerolog JSON object, or nil fields for
// anything else (such as cobra's "Error: ..." line).
type logLine struct {
	raw    string
	fields map[string]any
}

// launchBank starts strife-bank and kills it, if it is still running, when
// the test ends.
func launchBank(t *testing.T, pki *testbank.PKI, f bankFlags) *bankProcess {
	t.Helper()
	b := &bankProcess{t: t, pki: pki, addr: make(chan string, 1), exited: make(chan struct{})}
	b.cmd = exec.Command(bankBinary, f.args(pki.Files(t, certs.RoleBank, bankName))...)
	stderr, err := b.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, b.cmd.Start())
	go b.read(stderr)
	t.Cleanup(func() {
		b.cmd.Process.Kill() // an error means it has exited already
		select {
		case <-b.exited:
		case <-time.After(processTimeout):
			t.Errorf("strife-bank (pid %d) still running after SIGKILL", b.cmd.Process.Pid)
		}
	})
	return b
}

// startBank starts strife-bank and waits until it logs "bank serving".
func startBank(t *testing.T, pki *testbank.PKI, f bankFlags) *bankProcess {
	t.Helper()
	b := launchBank(t, pki, f)
	select {
	case b.Addr = <-b.addr:
	case <-b.exited:
		t.Fatalf("strife-bank exited before serving: %v", b.cmd.ProcessState)
	case <-time.After(processTimeout):
		t.Fatalf("strife-bank did not log \"bank serving\" within %v", processTimeout)
	}
	return b
}

func (b *bankProcess) read(r io.Reader) {
	defer close(b.exited)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := logLine{raw: sc.Text()}
		b.t.Logf("strife-bank[%d]: %s", b.cmd.Process.Pid, line.raw)
		if json.Unmarshal(sc.Bytes(), &line.fields) != nil {
			line.fields = nil
		}
		b.mu.Lock()
		b.lines = append(b.lines, line)
		b.mu.Unlock()
		if line.fields["message"] == "bank serving" {
			addr, _ := line.fields["addr"].(string)
			select {
			case b.addr <- addr:
			default:
			}
		}
	}
	io.Copy(io.Discard, r) // a line too long for the scanner must not block the child
	b.cmd.Wait()
}

// Client is a BankService client with the gateway's certificate.
func (b *bankProcess) Client() strifev1.BankServiceClient {
	if b.client == nil {
		b.client = b.pki.GatewayClient(b.t, b.Addr)
	}
	return b.client
}

// Wait waits for the process to exit and returns its exit code (-1 if a
// signal killed it).
func (b *bankProcess) Wait() int {
	b.t.Helper()
	select {
	case <-b.exited:
	case <-time.After(processTimeout):
		b.t.Fatalf("strife-bank did not exit within %v", processTimeout)
	}
	return b.cmd.ProcessState.ExitCode()
}

// Stop sends SIGTERM and returns the exit code.
func (b *bankProcess) Stop() int {
	b.t.Helper()
	require.NoError(b.t, b.cmd.Process.Signal(syscall.SIGTERM))
	return b.Wait()
}

// Kill crashes the process with SIGKILL.
func (b *bankProcess) Kill() {
	b.t.Helper()
	require.NoError(b.t, b.cmd.Process.Signal(syscall.SIGKILL))
	require.Equal(b.t, -1, b.Wait(), "exit code of a killed process")
}

// count returns how many log lines have the message and the given string
// fields, as pairs of key and value.
func (b *bankProcess) count(message string, fields ...string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, l := range b.lines {
		if l.fields["message"] == message && hasFields(l.fields, fields) {
			n++
		}
	}
	return n
}

func hasFields(m map[string]any, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if m[kv[i]] != kv[i+1] {
			return false
		}
	}
	return true
}

// stderr is everything the process wrote to stderr so far.
func (b *bankProcess) stderr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s strings.Builder
	for _, l := range b.lines {
		s.WriteString(l.raw)
		s.WriteByte('\n')
	}
	return s.String()
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
