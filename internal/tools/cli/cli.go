package cli

import (
	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/devetcd"
	"github.com/strife-pay/strife/internal/daemons/gatewayd"
	"github.com/strife-pay/strife/internal/tools/client"
	"github.com/strife-pay/strife/internal/tools/deploy"
	"github.com/strife-pay/strife/internal/tools/top"
)

// Command returns the strife root command.
func Command() *cobra.Command {
	root := &cobra.Command{
		Use:   "strife",
		Short: "Strife: payments between banks, atomic, exactly once, over mutual TLS",
		Long: `Strife moves money between accounts at independent banks through a gateway
that runs two-phase commit. "strife up" runs a whole deployment on this
machine; README.md has a tour. With no subcommand, strife is the interactive
client ("strife menu"); login, pay, balance, history, queue, watch and logout
are the same operations for scripts (--json; an error is then one JSON
object on standard error, {"code", "message"}).

After "strife login", the client commands use the gateway and certificate
directory the login used; --gateway and --certs, or $STRIFE_GATEWAY and
$STRIFE_CERTS, say otherwise.

` + client.ExitStatuses,
		Args:              cobra.NoArgs,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.AddCommand(deploy.UpCommand())
	root.AddCommand(DaemonCommands()...)
	root.AddCommand(client.Commands()...)
	root.AddCommand(top.Command())
	// With no subcommand, strife is the interactive menu with its defaults.
	root.RunE = func(cmd *cobra.Command, args []string) error {
		menu := client.MenuCommand()
		menu.SetIn(cmd.InOrStdin())
		menu.SetOut(cmd.OutOrStdout())
		menu.SetErr(cmd.ErrOrStderr())
		menu.SetContext(cmd.Context())
		return menu.RunE(menu, args)
	}
	client.UsageErrors(root)
	return root
}

// DaemonCommands returns the hidden `bank`, `gateway` and `etcd` commands
// that strife up runs as its children (see deploy.DaemonCommands). The
// programs that run the daemons as strife up does, re-running themselves
// (strife-bench, strife-chaos), carry them too: they take them from here,
// so that the daemons are imported by program roots only.
func DaemonCommands() []*cobra.Command {
	return deploy.DaemonCommands(deploy.Daemons{Bank: bankd.Command(), Gateway: gatewayd.Command(), Etcd: devetcd.Command()})
}
