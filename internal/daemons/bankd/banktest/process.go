package banktest

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
)

// ProcessTimeout bounds how long a Process may take to serve, and to exit
// once it is told to or killed.
const ProcessTimeout = 20 * time.Second

// Cmd is a Strife program to run as a child process, for tests of what a
// daemon shows the world: flags, signals, exit codes and JSON logs
// (--log-format json).
type Cmd struct {
	// Path is the binary (see RunWithBinary and RunWithFailpoints).
	Path string
	Args []string
	// Env is added to the test's environment.
	Env []string
	// Serving is the message of the log line that says the program serves
	// ("bank serving"), with the address in its "addr" field.
	Serving string
}

// Process is a run of a Cmd. Its stderr is read a line at a time, to the
// end: each line goes to the test log and is kept for Logs and Count.
type Process struct {
	// Addr is where it serves, from its Serving line; Start sets it.
	Addr string

	t       testing.TB
	name    string // for messages: the binary and its subcommand
	serving string
	cmd     *exec.Cmd
	addr    chan string   // the address of the first Serving line
	exited  chan struct{} // closed once it has exited and its stderr is read

	mu    sync.Mutex
	lines []logLine
}

// logLine is one line of stderr: a JSON object, or nil fields for anything
// else (a panic's trace, cobra's "Error: ...").
type logLine struct {
	raw    string
	fields map[string]any
}

// Launch starts the program and kills it (SIGKILL), if it is still running,
// when the test ends.
func (c Cmd) Launch(t testing.TB) *Process {
	t.Helper()
	p := &Process{t: t, name: filepath.Base(c.Path), serving: c.Serving, cmd: exec.Command(c.Path, c.Args...),
		addr: make(chan string, 1), exited: make(chan struct{})}
	if len(c.Args) > 0 && !strings.HasPrefix(c.Args[0], "-") {
		p.name += " " + c.Args[0]
	}
	p.cmd.Env = append(os.Environ(), c.Env...)
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go p.read(stderr)
	t.Cleanup(func() {
		p.cmd.Process.Kill() // an error means it has exited already
		select {
		case <-p.exited:
		case <-time.After(ProcessTimeout):
			t.Errorf("%s (pid %d) still running after SIGKILL", p.name, p.cmd.Process.Pid)
		}
	})
	return p
}

// Start launches the program and waits until it logs its Serving line,
// failing the test if it exits first.
func (c Cmd) Start(t testing.TB) *Process {
	t.Helper()
	p := c.Launch(t)
	select {
	case p.Addr = <-p.addr:
	case <-p.exited:
		select {
		case p.Addr = <-p.addr: // it served, then exited: a test may want that
		default:
			t.Fatalf("%s exited before serving (%v):\n%s", p.name, p.cmd.ProcessState, p.Logs())
		}
	case <-time.After(ProcessTimeout):
		t.Fatalf("%s did not log %q within %v", p.name, c.Serving, ProcessTimeout)
	}
	return p
}

func (p *Process) read(r io.Reader) {
	defer close(p.exited)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := logLine{raw: sc.Text()}
		p.t.Logf("%s[%d]: %s", p.name, p.cmd.Process.Pid, line.raw)
		if json.Unmarshal(sc.Bytes(), &line.fields) != nil {
			line.fields = nil
		}
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.mu.Unlock()
		if p.serving != "" && line.fields["message"] == p.serving {
			addr, _ := line.fields["addr"].(string)
			select {
			case p.addr <- addr:
			default: // a later Serving line must not block the reader, and so the child
			}
		}
	}
	io.Copy(io.Discard, r) // a line too long for the scanner must not block the child
	p.cmd.Wait()
}

// Wait waits for the process to exit and returns its exit code (-1 if a
// signal killed it).
func (p *Process) Wait() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(ProcessTimeout):
		p.t.Fatalf("%s did not exit within %v", p.name, ProcessTimeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// Stop sends SIGTERM, waits, and returns the exit code: 0 for a clean
// exit.
func (p *Process) Stop() int {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	return p.Wait()
}

// Kill crashes the process with SIGKILL.
func (p *Process) Kill() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGKILL))
	require.Equal(p.t, -1, p.Wait(), "exit code of a killed process")
}

// Logs is everything the process wrote to stderr so far.
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s strings.Builder
	for _, l := range p.lines {
		s.WriteString(l.raw)
		s.WriteByte('\n')
	}
	return s.String()
}

// Count returns how many log lines have the message and the given string
// fields, as pairs of key and value.
func (p *Process) Count(message string, fields ...string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
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
