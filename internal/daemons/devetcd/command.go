package devetcd

import (
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/internal/plumbing/daemon"
)

// Command returns the command line that runs the development etcd as a
// process of its own: "etcd --data-dir D --listen-client URL". Once it
// serves it logs "etcd serving" with the endpoint; it runs until SIGTERM,
// SIGINT or the end of the command's context.
func Command() *cobra.Command {
	var cfg Config
	var logFormat string
	cmd := &cobra.Command{
		Use:   "etcd --data-dir DIR [--listen-client http://127.0.0.1:2379] [--metrics-listen 127.0.0.1:7381]",
		Short: "Run a single-member etcd for development and tests (loopback only, no TLS)",
		Long: `etcd runs an embedded single-member etcd for the local deployment, so that
nothing needs installing. It listens on loopback addresses only and speaks
plain HTTP: anything else is refused. In production, point the daemons at a
real etcd cluster with --etcd-endpoints and the --etcd-ca/--etcd-cert/--etcd-key
TLS options instead.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := daemon.NewLogger(cmd.ErrOrStderr(), logFormat)
			if err != nil {
				return err
			}
			cfg.Log = log
			s, err := Start(cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			u, _ := url.Parse(s.Endpoints()[0])
			log.Info().Str("endpoint", s.Endpoints()[0]).Str("addr", u.Host).Str("data_dir", cfg.Dir).Msg("etcd serving")
			if cfg.MetricsListen != "" {
				log.Info().Str("addr", cfg.MetricsListen).Msg("metrics serving")
			}
			signals := make(chan os.Signal, 1)
			signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
			defer signal.Stop(signals)
			select {
			case sig := <-signals:
				log.Info().Stringer("signal", sig).Msg("etcd stopping")
			case <-cmd.Context().Done():
			case err := <-s.Err():
				return fmt.Errorf("devetcd: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "data-dir", "", "directory of etcd's data (required)")
	f.StringVar(&cfg.ClientURL, "listen-client", DefaultClientURL, "client URL: http on a loopback address; port 0 picks one")
	f.StringVar(&cfg.PeerURL, "listen-peer", DefaultPeerURL, "peer URL: http on a loopback address")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", "", "serve etcd's own Prometheus metrics at http://ADDR/metrics, ADDR a loopback HOST:PORT (default: none)")
	daemon.LogFormatFlag(f, &logFormat)
	cmd.MarkFlagRequired("data-dir")
	return cmd
}
