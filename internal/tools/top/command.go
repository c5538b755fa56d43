package top

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/internal/tools/deploy"
)

// Command returns `strife top`.
func Command() *cobra.Command {
	var (
		cfg     Config
		base    int
		targets []string
	)
	cmd := &cobra.Command{
		Use:   "top [NAME=URL ...]",
		Short: "Watch a running deployment: payments/s, latency, held, in doubt, fsync, errors per process",
		Long: `top reads the Prometheus endpoints of Strife's processes and shows, refreshed
every --interval, one row per process: payments/s, p50 and p99 latency, held
(payments PENDING at the gateway, holds at a bank), in doubt, the WAL's fsync
p99 and gRPC errors/s. Rates and percentiles cover the last interval only.

With no targets it watches the deployment "strife up --base-port" runs on this
machine (gateway-1, BankA-C, etcd). Otherwise give NAME=URL targets, as
arguments or --target; URL may be HOST:PORT (for http://HOST:PORT/metrics).

A process that does not answer within the interval is shown DOWN with the
reason, and comes back when it answers. A process that restarted shows
"restarted" for one interval. q or Ctrl-C quits. When standard output is not a
terminal, each frame is printed as plain text followed by a blank line.`,
		Example: `  strife top
  strife top --base-port 9000 --interval 2s
  strife top gateway=127.0.0.1:7090 BankA=127.0.0.1:7091
  strife top --once > frame.txt`,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			parsed, err := ParseTargets(append(targets, args...))
			if err != nil {
				return err
			}
			cfg.Targets = parsed
			if len(parsed) == 0 {
				cfg.Targets = DefaultTargets(base)
			}
			cfg.In, cfg.Out = cmd.InOrStdin(), cmd.OutOrStdout()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&targets, "target", nil, "an endpoint to watch, NAME=URL (repeatable)")
	f.IntVar(&base, "base-port", deploy.DefaultBasePort, "with no targets, the base port of the strife up deployment to watch")
	f.DurationVar(&cfg.Interval, "interval", DefaultInterval, "refresh period, and how long a process may take to answer")
	f.BoolVar(&cfg.Once, "once", false, "print one frame (after two scrapes an interval apart) and exit")
	return cmd
}
