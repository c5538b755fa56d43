package gatewayd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/internal/auth"
	"github.com/strife-pay/strife/internal/daemon"
	"github.com/strife-pay/strife/internal/discovery"
	"github.com/strife-pay/strife/internal/logging"
	"github.com/strife-pay/strife/internal/metrics"
)

// Command returns the strife-gateway command line.
func Command() *cobra.Command {
	var cfg Config
	var logFormat string
	cmd := &cobra.Command{
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
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logging.New(cmd.ErrOrStderr(), logFormat)
			if err != nil {
				return err
			}
			cfg.Log = log.With().Str("gateway", cfg.Name).Logger()
			return run(cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Name, "name", "gateway-1", "gateway name; should be the CN of its certificate")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:7000", "gRPC listen address")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory of the gateway's bbolt file (required)")
	f.StringVar(&cfg.TLS.CertFile, "cert", "", "the gateway's certificate (PEM)")
	f.StringVar(&cfg.TLS.KeyFile, "key", "", "the gateway's private key (PEM)")
	f.StringVar(&cfg.TLS.CAFile, "ca", "", "the CA certificate that every peer must be signed by (PEM)")
	f.StringVar(&cfg.TLS.CRLFile, "crl", "", "the CA's revocation list, reloaded when it changes (PEM; default: ca.crl next to --ca, if present)")
	f.StringVar(&cfg.TokenKeyFile, "token-key", "", "the login token signing key (hex, from strife-certs init)")
	f.StringToStringVar(&cfg.Banks, "bank", nil, "a bank and its address, NAME=HOST:PORT; repeat for each bank (with --etcd-endpoints: used until etcd answers)")
	discovery.Flags(f, &cfg.Etcd, &cfg.Advertise, &cfg.LeaseTTL, "gateway", "find the banks and register there")
	f.StringVar(&cfg.UsersFile, "users", "", "YAML file of users to register when the user store is new")
	f.DurationVar(&cfg.PrepareTimeout, "prepare-timeout", 2*time.Second, "how long to wait for the banks' votes")
	f.DurationVar(&cfg.MaxHold, "max-hold", 10*time.Minute, "how long a payment may stay PENDING before it fails EXPIRED")
	f.DurationVar(&cfg.TokenLifetime, "token-lifetime", auth.DefaultTokenLifetime, "how long a login token is valid")
	f.IntVar(&cfg.BcryptCost, "bcrypt-cost", auth.DefaultCost, "bcrypt cost of password hashes")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", 10*time.Second, "how long shutdown waits for calls in flight")
	metrics.Flag(f, &cfg.MetricsListen)
	f.StringVar(&logFormat, "log-format", "json", "log format: json or console")
	return cmd
}

// run serves until SIGTERM or SIGINT, then drains and stops.
func run(cfg Config) error {
	return daemon.Run("gatewayd", cfg.Log, func() (daemon.Server, error) { return Start(cfg) })
}
