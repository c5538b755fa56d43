package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Deployment is a local deployment run by another program rather than by a
// person at a terminal: strife-chaos starts one, signals its processes and
// restarts them. It is Up without the terminal: no banner, no commands, no
// signal handling; the children, their arguments, their state in
// Config.DataDir and their logs (on Config.Stdout) are exactly Up's.
//
// Its methods may be called from any goroutine, but calls that start or
// stop one child must not overlap with another such call for the same
// child.
type Deployment struct {
	d *deployment
}

// Kinds of child, for Deployment.Kind.
const (
	KindEtcd    = "etcd"
	KindBank    = "bank"
	KindGateway = "gateway"
)

// Start makes the certificates if they are missing and starts every child,
// tier by tier, as Up does, returning once each serves. On error it stops
// what it started.
func Start(ctx context.Context, cfg Config) (*Deployment, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Executable == "" {
		if cfg.Executable, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("deploy: finding the strife executable: %w", err)
		}
	}
	if _, err := ensureCerts(cfg.certDir()); err != nil {
		return nil, err
	}
	d := newDeployment(cfg)
	if err := d.startAll(ctx); err != nil {
		return nil, err
	}
	return &Deployment{d: d}, nil
}

// Names lists the children in start order: etcd, the banks, the gateway.
func (dp *Deployment) Names() []string {
	var out []string
	for _, c := range dp.d.children {
		out = append(out, c.name)
	}
	return out
}

// Kind is KindEtcd, KindBank or KindGateway for the child called name.
func (dp *Deployment) Kind(name string) string {
	c, ok := dp.d.find(name)
	switch {
	case !ok:
		return ""
	case c.tier == 0:
		return KindEtcd
	case c.tier == 1:
		return KindBank
	}
	return KindGateway
}

// CertDir is the directory of the deployment's certificates (certscli's
// demo set: a CA, each program's, "admin" and the demo clients').
func (dp *Deployment) CertDir() string { return dp.d.cfg.certDir() }

// DataDir is Config.DataDir, made absolute.
func (dp *Deployment) DataDir() string { return dp.d.cfg.DataDir }

// Addr is where the child called name listens.
func (dp *Deployment) Addr(name string) string {
	c, ok := dp.d.find(name)
	if !ok {
		return ""
	}
	return c.addr
}

// GatewayAddr is the gateway's address.
func (dp *Deployment) GatewayAddr() string { return dp.Addr(gatewayName) }

// BankFile and GatewayFile are the paths of the daemons' bbolt files.
func (dp *Deployment) BankFile(bank string) string {
	return filepath.Join(dp.d.cfg.DataDir, "banks", bank+".db")
}

// GatewayFile: see BankFile.
func (dp *Deployment) GatewayFile() string {
	return filepath.Join(dp.d.cfg.DataDir, "gateway", gatewayName+".db")
}

// Banks lists the banks' names.
func (dp *Deployment) Banks() []string { return append([]string(nil), bankNames...) }

// errUnknown is returned for a name that is not a child's.
var errUnknown = errors.New("deploy: no such process")

// Signal sends sig to the child's running process. It returns false if the
// child is not running. SIGKILL is reported in the log like any death
// nobody asked for (as the kill command does).
func (dp *Deployment) Signal(name string, sig syscall.Signal) (bool, error) {
	c, ok := dp.d.find(name)
	if !ok {
		return false, fmt.Errorf("%w: %s", errUnknown, name)
	}
	r := c.running()
	if r == nil {
		return false, nil
	}
	return true, r.cmd.Process.Signal(sig)
}

// Running reports whether the child has a process that has not exited.
func (dp *Deployment) Running(name string) bool {
	c, ok := dp.d.find(name)
	return ok && c.running() != nil
}

// Exit describes how the child's latest process ended ("" while it runs or
// if it never started).
func (dp *Deployment) Exit(name string) string {
	c, ok := dp.d.find(name)
	if !ok {
		return ""
	}
	r := c.current()
	if r == nil || !r.exited() {
		return ""
	}
	return exitText(r.err)
}

// Restart stops the child if it runs (SIGTERM, then SIGKILL after
// Config.StopTimeout), starts it again and waits until it serves, for at
// most Config.StartTimeout.
func (dp *Deployment) Restart(ctx context.Context, name string) error {
	c, ok := dp.d.find(name)
	if !ok {
		return fmt.Errorf("%w: %s", errUnknown, name)
	}
	return dp.d.restart(ctx, c)
}

// Stop stops every child, the gateway first and etcd last, as Up does at
// its end; the error says which did not stop cleanly.
func (dp *Deployment) Stop() error { return dp.d.stopAll() }

// Kill kills every running child at once, for a caller giving up.
func (dp *Deployment) Kill() { dp.d.killAll() }

// Served reports whether the child's latest process logged its ready
// message (it may have exited since).
func (dp *Deployment) Served(name string) bool {
	c, ok := dp.d.find(name)
	if !ok {
		return false
	}
	r := c.current()
	return r != nil && isClosed(r.ready)
}
