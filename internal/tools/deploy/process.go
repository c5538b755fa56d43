package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// child is one program of the deployment and its latest process.
type child struct {
	spec
	mu  sync.Mutex
	run *run // nil until first started
}

// run is one OS process of a child.
type run struct {
	cmd     *exec.Cmd
	started time.Time
	ready   chan struct{} // closed when the child logs its ready message
	done    chan struct{} // closed once it exited and its output is drained
	err     error         // how it exited; read after done
	// stopping is set before up signals the process itself, so that its
	// exit is not reported as a death.
	stopping atomic.Bool
}

func (r *run) pid() int { return r.cmd.Process.Pid }

func (r *run) exited() bool { return isClosed(r.done) }

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// current returns the child's latest process, nil if it never started.
func (c *child) current() *run {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run
}

// running returns the child's process if it has not exited.
func (c *child) running() *run {
	if r := c.current(); r != nil && !r.exited() {
		return r
	}
	return nil
}

// start starts a new process of the child from exe. Its stdout and stderr
// go, line by line, through out; an exit that up did not ask for is
// reported there with the way to restart it.
func (c *child) start(exe string, env []string, out *output) (*run, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, c.args...)
	cmd.Stdout, cmd.Stderr = pw, pw
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("deploy: starting %s: %w", c.name, err)
	}
	r := &run{cmd: cmd, started: time.Now(), ready: make(chan struct{}), done: make(chan struct{})}
	c.mu.Lock()
	c.run = r
	c.mu.Unlock()
	go c.supervise(r, pr, out)
	return r, nil
}

// supervise copies the process's output until it ends, waits for the
// process, and reports an exit nobody asked for once it served (before,
// the waitReady of whoever started it reports it).
func (c *child) supervise(r *run, pr *os.File, out *output) {
	c.pump(r, pr, out)
	pr.Close()
	r.err = r.cmd.Wait()
	close(r.done)
	if !r.stopping.Load() && isClosed(r.ready) {
		out.say("%s (pid %d) exited: %s. Nothing restarts it for you: type %q to start it again (its data is kept).",
			c.name, r.pid(), exitText(r.err), "restart "+c.name)
	}
}

// pump renders each line of the child's output and closes r.ready at the
// child's ready message. A long line is read whole: the child must never
// block on a full pipe.
func (c *child) pump(r *run, pr io.Reader, out *output) {
	br := bufio.NewReader(pr)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && out.child(c.name, line) == c.ready && !isClosed(r.ready) {
			close(r.ready)
		}
		if err != nil {
			return
		}
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// errSlow is waitReady's error when the child runs but has not said it
// serves in time.
var errSlow = errors.New("too slow")

// waitReady waits until r serves, exits, or timeout or ctx ends.
func (c *child) waitReady(ctx context.Context, r *run, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.ready:
		return nil
	case <-r.done:
		return fmt.Errorf("deploy: %s exited before serving (%s); its log above says why", c.name, exitText(r.err))
	case <-t.C:
		return fmt.Errorf("deploy: %s did not log %q within %v: %w", c.name, c.ready, timeout, errSlow)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// stop sends SIGTERM to the running process, if any, and waits up to
// timeout for it to exit, then kills it. It returns nil only for a clean
// exit (status 0) after SIGTERM.
func (c *child) stop(timeout time.Duration) error {
	r := c.running()
	if r == nil {
		return nil
	}
	r.stopping.Store(true)
	r.cmd.Process.Signal(syscall.SIGTERM)
	r.cmd.Process.Signal(syscall.SIGCONT) // a stopped process (SIGSTOP) acts on SIGTERM only once continued
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.done:
		if r.err != nil {
			return fmt.Errorf("deploy: %s: %w", c.name, r.err)
		}
		return nil
	case <-t.C:
	}
	r.cmd.Process.Kill()
	<-r.done
	return fmt.Errorf("deploy: %s did not stop within %v of SIGTERM; killed", c.name, timeout)
}

// kill sends SIGKILL to the running process, if any, as `kill -9` would:
// its exit is reported like any other unexpected one.
func (c *child) kill() bool {
	r := c.running()
	if r == nil {
		return false
	}
	r.cmd.Process.Kill()
	return true
}
