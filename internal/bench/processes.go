package bench

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/strife-pay/strife/internal/certscli"
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

// startProcesses starts the deployment as strife up does, each bank and the
// gateway a process of its own (exe with its bank and gateway commands),
// with the certificates made for it in dir. Each process then has a
// scheduler and a collector of its own, as in production.
func startProcesses(exe, dir string, logs io.Writer) (d *deployment, err error) {
	d = &deployment{dir: dir}
	defer func() {
		if err != nil {
			d.stop()
		}
	}()
	certDir := filepath.Join(dir, "certs")
	init := certscli.DefaultInitOptions(certDir)
	init.Banks, init.Clients = []string{"BankA", "BankB"}, []string{"bench"}
	if _, err := certscli.Init(init); err != nil {
		return nil, err
	}
	gateway, err := freeAddr()
	if err != nil {
		return nil, err
	}
	tlsArgs := func(name string) []string {
		return []string{"--ca", filepath.Join(certDir, "ca.crt"), "--cert", filepath.Join(certDir, name+".crt"), "--key", filepath.Join(certDir, name+".key")}
	}
	gatewayArgs := []string{"gateway", "--name", "gateway-1", "--listen", gateway, "--data-dir", filepath.Join(dir, "gateway"),
		"--token-key", filepath.Join(certDir, certscli.TokenKeyFile), "--bcrypt-cost", "4"}
	for _, name := range init.Banks {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		args := append([]string{"bank", "--name", name, "--listen", addr, "--data-dir", filepath.Join(dir, name), "--coordinator", gateway}, tlsArgs(name)...)
		if err := d.startProcess(exe, name, addr, args, logs); err != nil {
			return nil, err
		}
		gatewayArgs = append(gatewayArgs, "--bank", name+"="+addr)
	}
	usersFile, err := writeUsers(dir)
	if err != nil {
		return nil, err
	}
	gatewayArgs = append(append(gatewayArgs, "--users", usersFile), tlsArgs("gateway-1")...)
	if err := d.startProcess(exe, "gateway-1", gateway, gatewayArgs, logs); err != nil {
		return nil, err
	}
	return d, d.connect(gateway, certDir, "bench", adminPassword)
}

// startProcess runs exe with args and waits until addr accepts connections.
func (d *deployment) startProcess(exe, name, addr string, args []string, logs io.Writer) error {
	cmd := exec.Command(exe, args...)
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
		time.Sleep(20 * time.Millisecond)
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
