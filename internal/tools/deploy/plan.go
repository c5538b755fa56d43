package deploy

import (
	"path/filepath"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/tools/certscli"
)

// The hidden subcommands of the strife binary that run the children.
const (
	etcdCommand    = "etcd"
	bankCommand    = "bank"
	gatewayCommand = "gateway"
)

// The programs of the deployment, named as in the certificates that
// certscli.DefaultInitOptions makes.
const (
	etcdName    = "etcd"
	gatewayName = "gateway-1"
)

var bankNames = []string{"BankA", "BankB", "BankC"}

// spec is one child process of the deployment.
type spec struct {
	name    string
	addr    string   // where it listens
	metrics string   // where it serves its metrics (see MetricsPorts)
	args    []string // after the executable
	ready   string   // the message of its JSON log line that says it serves
	tier    int      // started in increasing tiers, stopped in decreasing ones
	// mayLag: the next tier starts even if this child has not said it
	// serves within the start timeout (etcd: the others serve without it).
	mayLag bool
}

// plan returns the children in the order they start: etcd, the banks, the
// gateway. Each logs JSON (up renders it for people) and finds the others
// through etcd; the gateway is also given the banks' addresses, which it
// uses until etcd answers, so that a slow or absent etcd delays nothing.
func plan(c Config) []spec {
	etcdURL := "http://" + c.addr(etcdPortOffset)
	metrics := MetricsPorts(c.BasePort)
	metricsAddr := func(name string) string { return c.addr(metrics[name] - c.BasePort) }
	specs := []spec{{
		name: etcdName, addr: c.addr(etcdPortOffset), metrics: metricsAddr(etcdName), ready: "etcd serving", tier: 0, mayLag: true,
		args: []string{etcdCommand, "--data-dir", filepath.Join(c.DataDir, "etcd"), "--listen-client", etcdURL,
			"--listen-peer", "http://" + c.addr(etcdPeerPortOffset), "--metrics-listen", metricsAddr(etcdName), "--log-format", "json"},
	}}
	var known []string
	for i, bank := range bankNames {
		addr := c.addr(1 + i)
		known = append(known, "--bank", bank+"="+addr)
		specs = append(specs, spec{
			name: bank, addr: addr, metrics: metricsAddr(bank), ready: "bank serving", tier: 1,
			args: append([]string{bankCommand, "--name", bank, "--listen", addr, "--advertise", addr,
				"--data-dir", filepath.Join(c.DataDir, "banks"), "--etcd-endpoints", etcdURL,
				"--metrics-listen", metricsAddr(bank), "--log-format", "json"},
				append(tlsArgs(c, bank), c.BankArgs...)...),
		})
	}
	addr := c.addr(0)
	return append(specs, spec{
		name: gatewayName, addr: addr, metrics: metricsAddr(gatewayName), ready: "gateway serving", tier: 2,
		args: append([]string{gatewayCommand, "--name", gatewayName, "--listen", addr, "--advertise", addr,
			"--data-dir", filepath.Join(c.DataDir, "gateway"), "--etcd-endpoints", etcdURL, "--metrics-listen", metricsAddr(gatewayName),
			"--token-key", filepath.Join(c.certDir(), certscli.TokenKeyFile), "--users", c.UsersFile, "--log-format", "json"},
			append(append(known, tlsArgs(c, gatewayName)...), c.GatewayArgs...)...),
	})
}

// tlsArgs names a daemon's certificate files, and the CA's revocation list
// even before the first revocation: the daemon picks it up when it appears.
func tlsArgs(c Config, name string) []string {
	f := certs.FilesIn(c.certDir(), name)
	return []string{"--cert", f.CertFile, "--key", f.KeyFile, "--ca", f.CAFile, "--crl", f.CRLFile}
}
