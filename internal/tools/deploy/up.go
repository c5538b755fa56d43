package deploy

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/strife-pay/strife/users"
)

// Up runs the local deployment until SIGINT or SIGTERM: it makes the
// certificates if they are missing, starts etcd, the banks and the gateway
// as child processes and waits until each serves, prints how to use them,
// then runs the commands read from cfg.Stdin. The first signal stops the
// children in reverse order (a second one kills them); Up returns nil if
// every child that was running stopped cleanly.
func Up(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if cfg.Executable == "" {
		if cfg.Executable, err = os.Executable(); err != nil {
			return fmt.Errorf("deploy: finding the strife executable: %w", err)
		}
	}
	users, err := users.LoadSeed(cfg.UsersFile)
	if err != nil {
		return fmt.Errorf("deploy: %w (run from the repository's root, or pass --users)", err)
	}
	made, err := ensureCerts(cfg.certDir())
	if err != nil {
		return err
	}
	d := newDeployment(cfg)
	if made {
		d.out.say("made a CA, certificates and the token key in %s", cfg.certDir())
	}
	ignoreBackgroundRead()
	ctx, stopSignals := d.onSignals()
	defer stopSignals()
	if err := d.startAll(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	d.out.write(upPrefix, banner(cfg, d, users))
	d.serve(ctx)
	return d.shutdown()
}

// onSignals returns a context that the first SIGINT or SIGTERM cancels; a
// second one kills every child.
func (d *deployment) onSignals() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-signals:
			d.out.say("%v: stopping everything (a second Ctrl-C kills it all)", sig)
			cancel(fmt.Errorf("deploy: %v", sig))
		case <-done:
			return
		}
		select {
		case <-signals:
			d.out.say("killing everything")
			d.killAll()
		case <-done:
		}
	}()
	return ctx, func() { signal.Stop(signals); close(done); cancel(nil) }
}

// serve runs the commands read from stdin until ctx ends. The end of stdin
// ends the commands, not the deployment.
func (d *deployment) serve(ctx context.Context) {
	lines := readLines(d.cfg.Stdin)
	for {
		select {
		case <-ctx.Done():
			return
		case line, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			d.command(ctx, line)
		}
	}
}

// shutdown stops every child, the gateway first and etcd last.
func (d *deployment) shutdown() error {
	err := d.stopAll()
	if err != nil {
		d.out.say("stopped, not cleanly: %v", err)
		return err
	}
	d.out.say("everything stopped cleanly; the state is kept in %s", d.cfg.DataDir)
	return nil
}
