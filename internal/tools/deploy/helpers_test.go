package deploy_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	"github.com/strife-pay/strife/internal/tools/deploy"
)

// strifeBin is the strife binary that TestMain builds.
var strifeBin string

func TestMain(m *testing.M) {
	os.Exit(banktest.RunWithBinary(m, "github.com/strife-pay/strife/cmd/strife", &strifeBin))
}

// repoRoot is where `strife up` finds testdata/demo-users.yaml by default.
const repoRoot = "../../.."

// upProcess is `strife up` running as a real process, its stdin a pipe and
// its stdout read line by line.
type upProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *lines
	exited chan struct{} // closed when the process has exited
	err    error         // its exit error, read after exited
}

// startUp runs `strife up` on dataDir and base port. When the test ends it
// and every child it announced are killed, whatever state they are in.
func startUp(t *testing.T, dataDir string, base int) *upProcess {
	t.Helper()
	cmd := exec.Command(strifeBin, "up", "--data-dir", dataDir, "--base-port", strconv.Itoa(base))
	cmd.Dir = repoRoot
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	u := &upProcess{cmd: cmd, stdin: stdin, out: newLines(), exited: make(chan struct{})}
	go func() {
		u.out.read(stdout)
		u.err = cmd.Wait()
		close(u.exited)
	}()
	t.Cleanup(func() {
		if !isClosed(u.exited) {
			// up did not finish: kill it, then the children it announced
			// (up reaps them itself when it exits normally).
			cmd.Process.Kill()
			for _, pid := range u.childPIDs() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		<-u.exited
		if t.Failed() {
			t.Logf("the last lines of strife up:\n%s", u.out.tail(150))
		}
	})
	return u
}

// send types a command on up's stdin.
func (u *upProcess) send(t *testing.T, command string) {
	t.Helper()
	_, err := io.WriteString(u.stdin, command+"\n")
	require.NoError(t, err)
}

// servingRE matches up's line for a child that serves.
var servingRE = regexp.MustCompile(`\[up\]\s+(\S+) is serving on (\S+) \(pid (\d+)\)`)

// childPIDs are the pids of every child up said was serving.
func (u *upProcess) childPIDs() []int {
	var pids []int
	for _, m := range u.out.all(servingRE) {
		pid, _ := strconv.Atoi(m[3])
		pids = append(pids, pid)
	}
	return pids
}

// waitServing waits for up to say that name serves, after line from, and
// returns its pid.
func (u *upProcess) waitServing(t *testing.T, name string, from int, timeout time.Duration) int {
	t.Helper()
	re := regexp.MustCompile(`\[up\]\s+` + regexp.QuoteMeta(name) + ` is serving on \S+ \(pid (\d+)\)`)
	m, _ := u.out.wait(t, re, from, timeout)
	pid, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return pid
}

// statusPID asks up for its status and returns the pid it lists for name.
func (u *upProcess) statusPID(t *testing.T, name string) int {
	t.Helper()
	from := u.out.len()
	u.send(t, "status")
	m, _ := u.out.wait(t, regexp.MustCompile(`\[up\]\s+`+regexp.QuoteMeta(name)+`\s+serving\s+(\d+)\s`), from, 10*time.Second)
	pid, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return pid
}

// requireExited requires up's status to list name as exited: up restarts
// nothing by itself.
func (u *upProcess) requireExited(t *testing.T, name string) {
	t.Helper()
	from := u.out.len()
	u.send(t, "status")
	m, _ := u.out.wait(t, regexp.MustCompile(`\[up\]\s+`+regexp.QuoteMeta(name)+`\s+(\S+)`), from, 10*time.Second)
	require.Equal(t, "exited", m[1], "%s must stay down until the user restarts it", name)
}

// kill9 kills a child as a user's kill -9 would, and waits for up to
// report it.
func (u *upProcess) kill9(t *testing.T, name string, pid int) {
	t.Helper()
	from := u.out.len()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	u.out.wait(t, regexp.MustCompile(`\[up\]\s+`+regexp.QuoteMeta(name)+` \(pid `+strconv.Itoa(pid)+`\) exited: signal: killed.*restart `+regexp.QuoteMeta(name)), from, 10*time.Second)
}

// restart has up restart a child and returns its new pid.
func (u *upProcess) restart(t *testing.T, name string) int {
	t.Helper()
	from := u.out.len()
	u.send(t, "restart "+name)
	return u.waitServing(t, name, from, 40*time.Second)
}

// terminate sends SIGTERM to up and requires a clean exit within timeout,
// with every child gone.
func (u *upProcess) terminate(t *testing.T, timeout time.Duration) {
	t.Helper()
	require.NoError(t, u.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-u.exited:
	case <-time.After(timeout):
		t.Fatalf("strife up did not exit within %v of SIGTERM", timeout)
	}
	require.NoError(t, u.err, "strife up must exit with status 0")
	for _, pid := range u.childPIDs() {
		err := syscall.Kill(pid, 0)
		require.ErrorIs(t, err, syscall.ESRCH, "child pid %d still exists after up exited", pid)
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// lines is everything a process wrote, line by line, for waiting on.
type lines struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced at each new line, and at the end
	ended   bool
}

func newLines() *lines { return &lines{changed: make(chan struct{})} }

func (l *lines) read(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, s.Text())
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	}
	l.mu.Lock()
	l.ended = true
	close(l.changed)
	l.mu.Unlock()
}

func (l *lines) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// wait returns the submatches of the first line at or after index from that
// matches re, and the index after it; it fails the test after timeout or if
// the output ends first.
func (l *lines) wait(t *testing.T, re *regexp.Regexp, from int, timeout time.Duration) ([]string, int) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		for i := from; i < len(l.lines); i++ {
			if m := re.FindStringSubmatch(l.lines[i]); m != nil {
				l.mu.Unlock()
				return m, i + 1
			}
		}
		from = len(l.lines)
		changed, ended := l.changed, l.ended
		l.mu.Unlock()
		if ended {
			t.Fatalf("strife up's output ended without a line matching %q", re)
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no line matching %q within %v", re, timeout)
		}
	}
}

// all returns the submatches of every line that matches re.
func (l *lines) all(re *regexp.Regexp) [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]string
	for _, line := range l.lines {
		if m := re.FindStringSubmatch(line); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// contains reports whether any line contains s.
func (l *lines) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func (l *lines) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
}

// freeBasePort returns a base port whose whole range is free (see
// deploy.FreeBasePort).
func freeBasePort(t *testing.T) int {
	t.Helper()
	base, err := deploy.FreeBasePort()
	require.NoError(t, err)
	return base
}

// dial connects to a Strife server with the certificate of name in
// certDir, reconnecting quickly after the server restarts.
func dial(t *testing.T, certDir, name, addr string) *grpc.ClientConn {
	t.Helper()
	tlsConfig, err := certs.ClientConfig(certs.FilesIn(certDir, name), "")
	require.NoError(t, err)
	conn, err := rpc.Dial(addr, tlsConfig, grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
		MinConnectTimeout: 2 * time.Second,
	}))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// eventually runs f until it returns nil or timeout passes, and fails the
// test with f's last error.
func eventually(t *testing.T, timeout, every time.Duration, f func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err := f(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", timeout, err)
		}
		select {
		case <-time.After(every):
		case <-t.Context().Done():
			t.Fatal(errors.New("test ended"))
		}
	}
}
