package bankd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/internal/plumbing/daemon"
)

// Command returns the strife-bank command line.
func Command() *cobra.Command {
	var cfg Config
	cmd := daemon.Command(&cobra.Command{
		Use:   "strife-bank --name BankA --listen 127.0.0.1:7001 --data-dir DIR --cert F --key F --ca F",
		Short: "Run a Strife bank: a ledger and the participant side of two-phase commit",
		Long: `strife-bank serves BankService for one bank over mutual TLS. Its ledger is a
bbolt write-ahead log in --data-dir; acknowledged writes survive kill -9, and
attempts left in doubt are reloaded and resolved through the coordinator.
With --etcd-endpoints it registers under /strife/banks/<name> on a lease
kept alive, and finds the gateway of an attempt in doubt under
/strife/gateways/. SIGTERM or SIGINT deletes the key, drains calls in flight
and exits cleanly; after SIGKILL the key expires with the lease.`,
	}, &cfg.Config, daemon.FlagHelp{
		What: "bank", NameUsage: "bank name, e.g. BankA (required)", Listen: "127.0.0.1:7001",
		Etcd: "register there and find gateways there",
	}, "bankd", func() (daemon.Running, error) { return Start(cfg) })
	f := cmd.Flags()
	f.StringVar(&cfg.CoordinatorAddr, "coordinator", "", "gateway address for GetDecision on in-doubt attempts (overrides the gateways found in etcd)")
	f.StringVar(&cfg.SeedFile, "seed", "", "YAML file of accounts to open when the ledger is new")
	f.DurationVar(&cfg.Participant.InDoubtTimeout, "in-doubt-timeout", 5*time.Second, "how long a prepared attempt waits for a decision before asking the coordinator")
	return cmd
}
