package chaos

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/strife-pay/strife/internal/tools/deploy"
)

// Config configures a chaos run. Zero values take the defaults documented
// on each field (see Command for the flags that set them).
type Config struct {
	// Seed drives every random choice of the run: which process each fault
	// hits, what it does, how long it lasts, and every payment (payer,
	// payee, amount). The schedule of faults is therefore the same for a
	// seed; when they land against the payments in flight is not (that is
	// the machine's), so a replay reproduces the run's shape, not each
	// interleaving. Zero picks one at random; it is printed first.
	Seed uint64
	// Duration is how long faults are injected while the payers pay.
	// Default 60s.
	Duration time.Duration
	// Payers is how many payers pay at once, each from an account of its
	// own; every fourth starts with no money. Default 12.
	Payers int
	// Dir is the run directory: the deployment's data, the log of every
	// request and answer (payments.log), the faults (faults.log) and the
	// daemons' logs (daemons.log). It must not exist or be empty. Default:
	// strife-chaos/<time>-<seed> under the current directory.
	Dir string
	// FaultEvery is the mean time between two faults. Each fault picks a
	// process (etcd, a bank or the gateway, alike) and kills it (SIGKILL,
	// half the faults; restarted after up to MaxDown), stops it (SIGSTOP,
	// a quarter; SIGCONT after up to MaxDown) or restarts it cleanly
	// (SIGTERM and start, a quarter). Default 2s: about 150 kills in ten
	// minutes.
	FaultEvery time.Duration
	// Only, if set, limits the faults to these kinds of process
	// (deploy.KindEtcd, KindBank, KindGateway: "etcd", "bank",
	// "gateway"). Default: all.
	Only []string
	// MaxDown bounds how long a killed process stays down and a stopped
	// one stays stopped. Default 3s.
	MaxDown time.Duration
	// Settle bounds the wait, once the faults stop, for every payment to
	// have a final answer and every hold to be released. Default 60s.
	Settle time.Duration
	// Executable is the strife binary whose hidden bank, gateway and etcd
	// commands run the daemons (strife-chaos re-runs itself). Required.
	Executable string
	// Env is added to the daemons' environment: GOFAIL_FAILPOINTS for a
	// build with failpoints.
	Env []string
	// BasePort is the deployment's base port (see deploy.Config); 0 finds
	// free ones.
	BasePort int
	// Out receives the progress and the summary.
	Out io.Writer
}

// Defaults of Config.
const (
	DefaultDuration   = 60 * time.Second
	DefaultPayers     = 12
	DefaultFaultEvery = 2 * time.Second
	DefaultMaxDown    = 3 * time.Second
	DefaultSettle     = 60 * time.Second
)

// Validate reports everything wrong with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Duration < 0 || c.FaultEvery < 0 || c.MaxDown < 0 || c.Settle < 0 {
		errs = append(errs, errors.New("negative duration"))
	}
	if c.Payers < 0 || c.Payers == 1 || c.Payers > 1000 {
		errs = append(errs, fmt.Errorf("payers %d not in 2-1000 (a payer pays the others)", c.Payers))
	}
	for _, k := range c.Only {
		if k != deploy.KindEtcd && k != deploy.KindBank && k != deploy.KindGateway {
			errs = append(errs, fmt.Errorf("unknown kind of process %q (etcd, bank or gateway)", k))
		}
	}
	if c.Executable == "" {
		errs = append(errs, errors.New("no strife executable"))
	}
	if c.Out == nil {
		errs = append(errs, errors.New("no output"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("chaos: invalid config: %w", err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Duration, DefaultDuration)
	def(&c.FaultEvery, DefaultFaultEvery)
	def(&c.MaxDown, DefaultMaxDown)
	def(&c.Settle, DefaultSettle)
	if c.Payers == 0 {
		c.Payers = DefaultPayers
	}
	return c
}
