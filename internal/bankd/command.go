package bankd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/internal/daemon"
	"github.com/strife-pay/strife/internal/discovery"
	"github.com/strife-pay/strife/internal/logging"
	"github.com/strife-pay/strife/internal/metrics"
)

// Command returns the strife-bank command line.
func Command() *cobra.Command {
	var cfg Config
	var logFormat string
	cmd := &cobra.Command{
		Use:   "strife-bank --name BankA --listen 127.0.0.1:7001 --data-dir DIR --cert F --key F --ca F",
		Short: "Run a Strife bank: a ledger and the participant side of two-phase commit",
		Long: `strife-bank serves BankService for one bank over mutual TLS. Its ledger is a
bbolt write-ahead log in --data-dir; acknowledged writes survive kill -9, and
attempts left in doubt are reloaded and resolved through the coordinator.
With --etcd-endpoints it registers under /strife/banks/<name> on a lease
kept alive, and finds the gateway of an attempt in doubt under
/strife/gateways/. SIGTERM or SIGINT deletes the key, drains calls in flight
and exits cleanly; after SIGKILL the key expires with the lease.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logging.New(cmd.ErrOrStderr(), logFormat)
			if err != nil {
				return err
			}
			cfg.Log = log.With().Str("bank", cfg.Name).Logger()
			return run(cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Name, "name", "", "bank name, e.g. BankA (required)")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:7001", "gRPC listen address")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory of the bank's bbolt file (required)")
	f.StringVar(&cfg.TLS.CertFile, "cert", "", "the bank's certificate (PEM)")
	f.StringVar(&cfg.TLS.KeyFile, "key", "", "the bank's private key (PEM)")
	f.StringVar(&cfg.TLS.CAFile, "ca", "", "the CA certificate that every peer must be signed by (PEM)")
	f.StringVar(&cfg.TLS.CRLFile, "crl", "", "the CA's revocation list, reloaded when it changes (PEM; default: ca.crl next to --ca, if present)")
	f.StringVar(&cfg.CoordinatorAddr, "coordinator", "", "gateway address for GetDecision on in-doubt attempts (overrides the gateways found in etcd)")
	discovery.Flags(f, &cfg.Etcd, &cfg.Advertise, &cfg.LeaseTTL, "bank", "register there and find gateways there")
	f.StringVar(&cfg.SeedFile, "seed", "", "YAML file of accounts to open when the ledger is new")
	f.DurationVar(&cfg.Participant.InDoubtTimeout, "in-doubt-timeout", 5*time.Second, "how long a prepared attempt waits for a decision before asking the coordinator")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", 10*time.Second, "how long shutdown waits for calls in flight")
	metrics.Flag(f, &cfg.MetricsListen)
	f.StringVar(&logFormat, "log-format", "json", "log format: json or console")
	return cmd
}

// run serves until SIGTERM or SIGINT, then drains and stops.
func run(cfg Config) error {
	return daemon.Run("bankd", cfg.Log, func() (daemon.Server, error) { return Start(cfg) })
}
