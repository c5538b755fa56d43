package bench

import (
	"errors"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/internal/tools/cli"
)

// Command returns the strife-bench command line.
func Command() *cobra.Command {
	var opts Options
	var logFile, cpuProfile string
	var inProcess, bare, compare bool
	var rounds int
	cmd := &cobra.Command{
		Use:   "strife-bench [--payers 1,16,256] [--duration 10s]",
		Short: "Measure payments/s and p50/p99 latency through gateway and banks",
		Long: `strife-bench starts a deployment of its own (certificates, two banks and a
gateway, each a process of its own as with strife up, over mutual TLS on
127.0.0.1, with every fsync), registers one payer per concurrent client, and
has each pay as fast as it can for --duration at each level of --payers.
Logs go to --log-file (they are written, as in production, and count
towards the cost). --in-process runs the daemons in this process instead,
where a CPU profile (--cpuprofile) sees all of them; --profile-dir has each
daemon process write its own.

--bare measures the floor instead: two banks that vote YES and acknowledge at
once, and a gateway whose Pay only sends Prepare to both banks, then Commit to
both, then answers COMMITTED. Same processes, certificates, mutual TLS and
gRPC transport, same payers and report, but no logic, no log, no disk, no
login. The real mode's figures read against it.

--compare-bare runs both, alternately, bare first, --rounds times each, and
prints the ratio Strife/bare per level: on a noisy machine, only runs
interleaved like this compare. --json prints each level (and each ratio) as
a JSON object on a line of its own.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (bare || compare) && (inProcess || opts.Gateway != "") {
				return errors.New("--bare and --compare-bare start processes of their own: they do not go with --in-process or --gateway")
			}
			if opts.ProfileDir != "" && (inProcess || opts.Gateway != "") {
				return errors.New("--profile-dir profiles the daemon processes strife-bench starts: it does not go with --in-process (use --cpuprofile) or --gateway")
			}
			if opts.Keep != "" && opts.Gateway != "" {
				return errors.New("--keep keeps the files of the deployment strife-bench starts: it does not go with --gateway")
			}
			opts.Out = cmd.OutOrStdout()
			opts.Logs = io.Discard
			if logFile != "" {
				f, err := os.Create(logFile)
				if err != nil {
					return err
				}
				defer f.Close()
				opts.Logs = f
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			if !inProcess && opts.Gateway == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				opts.Executable = exe
			}
			var err error
			switch {
			case compare:
				_, err = Compare(opts, rounds)
			case bare:
				_, err = RunBare(opts)
			default:
				_, err = Run(opts)
			}
			return err
		},
	}
	cmd.Flags().IntSliceVar(&opts.Payers, "payers", []int{1, 16, 256}, "concurrent payers at each level")
	cmd.Flags().DurationVar(&opts.Duration, "duration", 10*time.Second, "measuring window of each level")
	cmd.Flags().StringVar(&logFile, "log-file", "", "write the daemons' logs here (default: formatted, then discarded)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run here")
	cmd.Flags().BoolVar(&inProcess, "in-process", false, "run the banks and the gateway in this process, not as processes of their own")
	cmd.Flags().BoolVar(&bare, "bare", false, "measure the bare pipeline, the same RPCs with no logic and no disk, instead of Strife")
	cmd.Flags().BoolVar(&compare, "compare-bare", false, "measure the bare pipeline and Strife alternately and print the ratio per level")
	cmd.Flags().IntVar(&rounds, "rounds", 2, "with --compare-bare: how many runs of each")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print each level as a JSON object: payers, payments, payments_per_s, p50_ms, p99_ms, failed, cpu_us_per_payment")
	cmd.Flags().StringVar(&opts.ProfileDir, "profile-dir", "", "have each daemon process write a CPU profile, <name>.pprof, into this directory")
	cmd.Flags().StringVar(&opts.Gateway, "gateway", "", "measure a running deployment at this address (e.g. strife up's 127.0.0.1:7000) instead of starting one")
	cmd.Flags().StringVar(&opts.CertDir, "certs", "strife-data/certs", "with --gateway: the deployment's certificate directory")
	cmd.Flags().IntVar(&opts.LoginFlood, "login-flood", 0, "run this many goroutines logging in with a wrong password in a loop alongside the payers, and report their logins/s")
	cmd.Flags().IntVar(&opts.BcryptCost, "bcrypt-cost", 0, "the gateway's bcrypt cost (default 4, bcrypt's minimum; 12 is production's, for --login-flood)")
	cmd.Flags().StringVar(&opts.Keep, "keep", "", "make the deployment's directory (data files included) in this directory and leave it after the run, e.g. for strife-inspect stats")
	cmd.Flags().BoolVar(&opts.Metrics, "metrics", false, "have the daemon processes serve Prometheus metrics, scraped once a second, so that their cost is measured")
	cmd.Flags().StringVar(&opts.AdminPassword, "admin-password", "admin-demo-password", "with --gateway: the admin's password")
	cmd.AddCommand(cli.DaemonCommands()...) // what the processes run
	cmd.AddCommand(BareCommands()...)       // and with --bare
	cmd.AddCommand(startupCommand())
	return cmd
}

// startupCommand is strife-bench startup: start to serving with a history.
func startupCommand() *cobra.Command {
	opts := StartupOptions{}
	var logFile string
	cmd := &cobra.Command{
		Use:   "startup [--payments 1000000,10000000] [--open 100] --dir DIR",
		Short: "Measure the gateway's and a bank's start to serving with millions of payments in their files",
		Long: `strife-bench startup makes, in --dir, the data files of a gateway and of two
banks (BankA pays, BankB is paid) that have made --payments finished
payments and hold --open more (PENDING: a bank was unreachable), through
the packages' own write paths in large transactions (bench.LoadHistory),
once per size: a later run with the same --dir reuses them. It then starts
BankA, BankB and the gateway on a copy of them, each a process of its own
as strife up starts it, and measures from the start of the process to the
first health check it answers SERVING over mutual TLS; --runs times, the
median reported, in a table (or --json, a line per size).`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Dir == "" {
				return errors.New("--dir is required: the files are kept there for the next run")
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			opts.Executable, opts.Out, opts.Logs = exe, cmd.OutOrStdout(), cmd.ErrOrStderr()
			if logFile != "" {
				f, err := os.Create(logFile)
				if err != nil {
					return err
				}
				defer f.Close()
				opts.Logs = f
			}
			_, err = RunStartup(opts)
			return err
		},
	}
	cmd.Flags().IntSliceVar(&opts.Payments, "payments", []int{1000000}, "finished payments in the files, one measurement per size")
	cmd.Flags().IntVar(&opts.Open, "open", 100, "held (PENDING) payments in the files besides")
	cmd.Flags().IntVar(&opts.Accounts, "accounts", 10000, "users, each with an account at BankA and one at BankB")
	cmd.Flags().IntVar(&opts.BankEvents, "bank-events", 0, "make the banks' files this many records (events) whatever --payments: they take part in the oldest payments only (each file passes its own checks, not the cross-check); 0: in every payment")
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "where the files are made and kept, keyed by size (required)")
	cmd.Flags().IntVar(&opts.Runs, "runs", 5, "starts measured per size; the median is reported")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print each size as a JSON object: payments, open, gateway_bytes, bank_bytes, bank_records, gateway_ms, bank_ms, gateway_runs_ms, bank_runs_ms, load_s")
	cmd.Flags().StringVar(&opts.ProfileDir, "profile-dir", "", "have each daemon process write a CPU profile, <name>-<payments>-<run>.pprof, into this directory")
	cmd.Flags().StringVar(&logFile, "log-file", "", "write the daemons' logs here (default: standard error)")
	return cmd
}
