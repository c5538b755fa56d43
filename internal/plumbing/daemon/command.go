package daemon

import (
	"github.com/spf13/cobra"
)

// Command completes cmd, a daemon's command line with its Use and help:
// it declares the shared flags into cfg (see Flags) and --log-format, and
// sets its RunE, which makes cfg.Log, every line carrying the daemon's name
// under h.What ("bank": "BankA"), and serves what start starts until
// SIGTERM or SIGINT (see Run; pkg prefixes its errors). The daemon
// declares its own flags on cmd too; start reads its whole Config, of which
// cfg is a part.
func Command(cmd *cobra.Command, cfg *Config, h FlagHelp, pkg string, start func() (Running, error)) *cobra.Command {
	var logFormat string
	cmd.Args = cobra.NoArgs
	cmd.SilenceUsage = true
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log, err := NewLogger(cmd.ErrOrStderr(), logFormat)
		if err != nil {
			return err
		}
		cfg.Log = log.With().Str(h.What, cfg.Name).Logger()
		return Run(pkg, cfg.Log, start)
	}
	Flags(cmd.Flags(), cfg, h)
	LogFormatFlag(cmd.Flags(), &logFormat)
	return cmd
}
