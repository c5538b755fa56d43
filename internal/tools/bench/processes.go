package bench

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
	"github.com/strife-pay/strife/internal/tools/certscli"
)

// processTimeout bounds how long a daemon may take to serve, and to exit
// after SIGTERM before it is killed.
const processTimeout = 30 * time.Second

// process is a daemon started by startProcesses.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

// startProcesses starts the banks and the gateway as strife up does, each a
// process of its own (exe with its bank and gateway commands), and returns
// the gateway's address. Each process then has a scheduler and a collector
// of its own, as in production.
func (d *deployment) startProcesses(exe, certDir string, banks []string, logs io.Writer) (string, error) {
	gateway, err := freeAddr()
	if err != nil {
		return "", err
	}
	bankFlags, err := d.startBanks(exe, banks, logs, func(name, addr string) []string {
		return slices.Concat([]string{"bank", "--name", name, "--listen", addr, "--data-dir", filepath.Join(d.dir, name), "--coordinator", gateway},
			tlsArgs(certDir, name), d.metricsArgs())
	})
	if err != nil {
		return "", err
	}
	usersFile, err := writeUsers(d.dir)
	if err != nil {
		return "", err
	}
	gatewayArgs := slices.Concat([]string{"gateway", "--name", "gateway-1", "--listen", gateway, "--data-dir", filepath.Join(d.dir, "gateway"),
		"--token-key", filepath.Join(certDir, certscli.TokenKeyFile), "--bcrypt-cost", strconv.Itoa(d.bcryptCost)},
		bankFlags, []string{"--users", usersFile}, tlsArgs(certDir, "gateway-1"), d.metricsArgs())
	return gateway, d.startProcess(exe, "gateway-1", gateway, gatewayArgs, logs)
}

// startBanks starts a process of exe for each bank, on a free address, with
// the arguments that args gives for its name and address, and returns the
// gateway's --bank flags for them.
func (d *deployment) startBanks(exe string, banks []string, logs io.Writer, args func(name, addr string) []string) ([]string, error) {
	var bankFlags []string
	for _, name := range banks {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		if err := d.startProcess(exe, name, addr, args(name, addr), logs); err != nil {
			return nil, err
		}
		bankFlags = append(bankFlags, "--bank", name+"="+addr)
	}
	return bankFlags, nil
}

// tlsArgs are the flags that give a daemon its certificates.
func tlsArgs(certDir, name string) []string {
	f := certs.FilesIn(certDir, name)
	return []string{"--ca", f.CAFile, "--cert", f.CertFile, "--key", f.KeyFile}
}

// startProcess runs exe with args and waits until addr accepts
// connections, which a daemon does when it is about to serve: polled every
// millisecond, so that strife-bench startup can time a start by it.
func (d *deployment) startProcess(exe, name, addr string, args []string, logs io.Writer) error {
	cmd := exec.Command(exe, args...)
	if d.profileDir != "" {
		cmd.Env = append(os.Environ(), daemon.ProfileEnv+"="+filepath.Join(d.profileDir, name+d.profileTag+".pprof"))
	}
	if logs != io.Discard {
		cmd.Stderr = logs
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	d.processes = append(d.processes, p)
	deadline := time.Now().Add(processTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before serving: %v", name, cmd.ProcessState)
		default:
		}
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%s did not serve on %s within %v", name, addr, processTimeout)
}

// stop stops the process cleanly, or kills it after processTimeout.
func (p *process) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(processTimeout):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %v; killed", p.name, processTimeout)
	}
	if !p.cmd.ProcessState.Success() {
		return fmt.Errorf("%s: %v", p.name, p.cmd.ProcessState)
	}
	return nil
}

// freeAddr returns a loopback address with a port that was free a moment
// ago. Another program could take it before the daemon does; the daemon
// would then fail to start, and so would the run, with a clear error.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
