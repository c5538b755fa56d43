package deploy

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// UpCommand returns `strife up`.
func UpCommand() *cobra.Command {
	var cfg Config
	cmd := &cobra.Command{
		Use:   "up [--data-dir ./strife-data] [--base-port 7000]",
		Short: "Run a local payment network: etcd, three banks and the gateway, with demo users",
		Long: `up runs a whole Strife deployment on this machine, each program as a process of
its own: etcd, BankA, BankB, BankC and the gateway gateway-1, with the demo
users of testdata/demo-users.yaml. The first run makes the certificates; every
run keeps its state in --data-dir and carries on from it. Each process's log
is shown with its name in front.

up restarts nothing by itself: when a process dies it says so, and you decide.
It reads commands on its standard input:

` + commandsHelp,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Stdin, cfg.Stdout = cmd.InOrStdin(), cmd.OutOrStdout()
			cfg.Color = isTerminal(cfg.Stdout) && os.Getenv("NO_COLOR") == ""
			return Up(cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", DefaultDataDir, "directory of the certificates and every process's data")
	f.IntVar(&cfg.BasePort, "base-port", DefaultBasePort, "the gateway's port; the banks take the next three, etcd +379 and +380, metrics +90 to +93 and +381")
	f.StringVar(&cfg.UsersFile, "users", DefaultUsersFile, "users to register when the gateway's store is new")
	f.DurationVar(&cfg.StartTimeout, "start-timeout", DefaultStartTimeout, "how long each process may take to serve")
	f.DurationVar(&cfg.StopTimeout, "stop-timeout", DefaultStopTimeout, "how long each process may take to stop before it is killed")
	return cmd
}

// Daemons are the command lines of the programs that up runs as its
// children: bankd's, gatewayd's and devetcd's Command. The root of a
// program that runs up (or, like strife-bench, starts daemons as up does)
// gives them: deploy itself imports no daemon (DESIGN.md, "Who imports a
// daemon").
type Daemons struct {
	Bank, Gateway, Etcd *cobra.Command
}

// DaemonCommands returns the daemons' commands renamed and hidden, as up
// runs them: `strife bank`, `strife gateway` and `strife etcd` are
// strife-bank, strife-gateway and the development etcd under the names up
// calls them by.
func DaemonCommands(d Daemons) []*cobra.Command {
	return []*cobra.Command{
		daemon(bankCommand, d.Bank),
		daemon(gatewayCommand, d.Gateway),
		daemon(etcdCommand, d.Etcd),
	}
}

// daemon renames cmd to name (the first word of Use) and hides it.
func daemon(name string, cmd *cobra.Command) *cobra.Command {
	_, rest, _ := strings.Cut(cmd.Use, " ")
	cmd.Use = strings.TrimSpace(name + " " + rest)
	cmd.Hidden = true
	return cmd
}

// isTerminal reports whether w is a terminal, where colors are welcome.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
