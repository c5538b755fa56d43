package gatewayd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/internal/plumbing/auth"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
)

// Command returns the strife-gateway command line.
func Command() *cobra.Command {
	var cfg Config
	cmd := daemon.Command(&cobra.Command{
		Use:   "strife-gateway --name gateway-1 --data-dir DIR --cert F --key F --ca F --token-key F (--bank BankA=127.0.0.1:7001 ... | --etcd-endpoints URL,... [--bank ...])",
		Short: "Run the Strife gateway: users, logins and payments, the coordinator of two-phase commit",
		Long: `strife-gateway serves GatewayService to clients and CoordinatorService to banks
over mutual TLS. Users, payments and 2PC decisions live in one bbolt
write-ahead log in --data-dir; on start it finishes every payment the log
left open. The banks are found either statically, with --bank given once per
bank, or in etcd with --etcd-endpoints: the gateway watches /strife/banks/
and registers itself under /strife/gateways/<name> on a lease kept alive.
Both may be given: then the --bank addresses are used until etcd first
answers, so that a gateway started while etcd is down can pay; etcd's view
replaces them from then on. The gateway serves whether or not etcd can be
reached, and registers in the background when it can.
SIGTERM or SIGINT deletes its key, drains calls in flight and exits cleanly.`,
	}, &cfg.Config, daemon.FlagHelp{
		What: "gateway", Name: "gateway-1", NameUsage: "gateway name; should be the CN of its certificate", Listen: "127.0.0.1:7000",
		Etcd: "find the banks and register there",
	}, "gatewayd", func() (daemon.Running, error) { return Start(cfg) })
	f := cmd.Flags()
	f.StringVar(&cfg.TokenKeyFile, "token-key", "", "the login token signing key (hex, from strife-certs init)")
	f.StringToStringVar(&cfg.Banks, "bank", nil, "a bank and its address, NAME=HOST:PORT; repeat for each bank (with --etcd-endpoints: used until etcd answers)")
	f.StringVar(&cfg.UsersFile, "users", "", "YAML file of users to register when the user store is new")
	f.DurationVar(&cfg.Coordinator.PrepareTimeout, "prepare-timeout", 2*time.Second, "how long to wait for the banks' votes")
	f.DurationVar(&cfg.Coordinator.MaxHold, "max-hold", 10*time.Minute, "how long a payment may stay PENDING before it fails EXPIRED")
	f.DurationVar(&cfg.TokenLifetime, "token-lifetime", auth.DefaultTokenLifetime, "how long a login token is valid")
	f.IntVar(&cfg.BcryptCost, "bcrypt-cost", auth.DefaultCost, "bcrypt cost of password hashes")
	return cmd
}
