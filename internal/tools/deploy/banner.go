package deploy

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/tools/client"
	"github.com/strife-pay/strife/users"
)

// banner is what up prints once everything serves: where things are, who
// can log in, and what to try next.
func banner(cfg Config, d *deployment, users *users.SeedFile) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("Strife is up. Its state is in %s: a second `strife up` carries on from it; delete it to start afresh.", cfg.DataDir)
	p("")
	for _, c := range d.children {
		p("  %-10s %-22s %s", c.name, c.addr, roleOf(c.name))
	}
	p("")
	p("Metrics (Prometheus text format, plain HTTP; `strife top` reads them):")
	for _, c := range d.children {
		p("  %-10s http://%s/metrics", c.name, c.metrics)
	}
	p("")
	p("Demo users (from %s; these passwords are for this demo only):", cfg.UsersFile)
	for _, u := range users.Users {
		account := "no account"
		if u.Account != "" {
			account = fmt.Sprintf("%s, opened with %s", u.Account, client.FormatAmount(u.OpeningBalance))
		}
		p("  %-8s password %-24q %-8s %s", u.Username, u.Password, u.Role, account)
	}
	p("Each user's client program has a certificate: %s and .key (CA %s).",
		filepath.Join(cfg.certDir(), "<user>.crt"), filepath.Join(cfg.certDir(), certs.CACertFile))
	p("")
	p("Next:")
	p("  go test -race ./...          in another terminal: the tests, end-to-end included")
	p("  kill -9 <pid of BankB>       in another terminal (or type \"kill BankB\" here): up reports it")
	p("  restart BankB                typed here: start it again; its payments carry on")
	p("  README.md                    a five-minute tour with grpcurl")
	p("")
	b.WriteString(commandsHelp)
	return b.String()
}

func roleOf(name string) string {
	switch name {
	case gatewayName:
		return "gateway: GatewayService for clients, mutual TLS"
	case etcdName:
		return "etcd: discovery (plain HTTP, loopback only)"
	}
	return "bank: BankService, for the gateway only"
}
