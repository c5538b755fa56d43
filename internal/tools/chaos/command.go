package chaos

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/internal/tools/cli"
)

// ErrViolations is returned by the command when an invariant does not
// hold; the summary says which.
var ErrViolations = errors.New("chaos: invariants violated")

// Command returns the strife-chaos command line. The daemons it starts are
// its own hidden bank, gateway and etcd commands (it re-runs itself), so
// one binary is all it needs.
func Command() *cobra.Command {
	var cfg Config
	cmd := &cobra.Command{
		Use:   "strife-chaos [--duration 60s] [--seed N] [--payers 12] [--fault-every 2s] [--dir DIR]",
		Short: "Kill, freeze and restart a real deployment under payments, then check that no money was lost",
		Long: `strife-chaos starts a whole deployment (etcd, BankA, BankB, BankC and the
gateway, each a process of its own as strife up runs them, over mutual TLS),
has --payers payers pay each other, each payment retried under its ID until
its answer is final, while it kills (SIGKILL), freezes (SIGSTOP, then SIGCONT)
and restarts random processes for --duration. It then stops the faults, waits
for every payment to be answered and every hold released (at most --settle),
stops the deployment and checks the banks' files: every COMMITTED payment
debited and credited once, nothing moved for a FAILED one, nothing for an ID
never sent, money conserved, no hold left, no payment left unanswered, and
strife-recover check content with every file. It prints a summary and exits
1 if any of that does not hold.

The seed is printed first: --seed replays the same schedule of faults and
payments. The run directory keeps the data, payments.log (every request and
answer), faults.log and daemons.log for a post-mortem.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: false,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.Executable, cfg.Out = exe, cmd.OutOrStdout()
			s, err := Run(cfg)
			if err != nil {
				return err
			}
			if !s.OK() {
				return ErrViolations
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&cfg.Seed, "seed", 0, "seed of every random choice (0: a random one, printed at the start)")
	f.DurationVar(&cfg.Duration, "duration", DefaultDuration, "how long to inject faults while paying")
	f.IntVar(&cfg.Payers, "payers", DefaultPayers, "concurrent payers; every fourth starts with no money")
	f.DurationVar(&cfg.FaultEvery, "fault-every", DefaultFaultEvery, "mean time between faults (half are kills)")
	f.DurationVar(&cfg.MaxDown, "max-down", DefaultMaxDown, "longest a killed process stays down, or a stopped one stopped")
	f.DurationVar(&cfg.Settle, "settle", DefaultSettle, "longest wait, after the faults, for every payment's answer and every hold's release")
	f.StringSliceVar(&cfg.Only, "only", nil, "fault only these kinds of process: etcd, bank, gateway (default all)")
	f.StringVar(&cfg.Dir, "dir", "", "run directory, new or empty (default strife-chaos/<time>-<seed>)")
	f.IntVar(&cfg.BasePort, "base-port", 0, "the deployment's base port, as strife up's (0: find free ports)")
	cmd.AddCommand(cli.DaemonCommands()...) // what the processes run
	return cmd
}
