package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// deployment is the set of children and what up does with them. Its
// methods are called from one goroutine, except killAll.
type deployment struct {
	cfg      Config
	children []*child // in start order
	out      *output
}

func newDeployment(cfg Config) *deployment {
	d := &deployment{cfg: cfg}
	var names []string
	for _, s := range plan(cfg) {
		d.children = append(d.children, &child{spec: s})
		names = append(names, s.name)
	}
	d.out = newOutput(cfg.Stdout, cfg.Color, names)
	return d
}

// find returns the child called name, ignoring case; "gateway" is the
// gateway's alias.
func (d *deployment) find(name string) (*child, bool) {
	if strings.EqualFold(name, "gateway") {
		name = gatewayName
	}
	i := slices.IndexFunc(d.children, func(c *child) bool { return strings.EqualFold(c.name, name) })
	if i < 0 {
		return nil, false
	}
	return d.children[i], true
}

// tiers returns the children grouped by tier, lowest first.
func (d *deployment) tiers() [][]*child {
	var out [][]*child
	for _, c := range d.children {
		if len(out) == 0 || out[len(out)-1][0].tier != c.tier {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], c)
	}
	return out
}

// startAll starts the children tier by tier, each tier once the one before
// serves. On error it stops what it started.
func (d *deployment) startAll(ctx context.Context) error {
	for _, tier := range d.tiers() {
		err := each(tier, func(c *child) error { return d.start(ctx, c) })
		if err != nil {
			d.stopAll()
			return err
		}
	}
	return nil
}

// start starts c and waits until it serves.
func (d *deployment) start(ctx context.Context, c *child) error {
	r, err := c.start(d.cfg.Executable, d.cfg.Env, d.out)
	if err != nil {
		return err
	}
	err = c.waitReady(ctx, r, d.cfg.StartTimeout)
	if c.mayLag && errors.Is(err, errSlow) {
		d.out.say("%s has not said it serves within %v; starting the rest anyway (they serve without it, and register when it does)", c.name, d.cfg.StartTimeout)
		go d.announceLate(c, r)
		return nil
	}
	if err != nil {
		c.stop(d.cfg.StopTimeout)
		return err
	}
	d.out.say("%s is serving on %s (pid %d)", c.name, c.addr, r.pid())
	return nil
}

// announceLate says when a child that was slow to start serves at last.
func (d *deployment) announceLate(c *child, r *run) {
	select {
	case <-r.ready:
		d.out.say("%s is serving on %s (pid %d), late", c.name, c.addr, r.pid())
	case <-r.done:
	}
}

// restart stops c if it runs, then starts it again.
func (d *deployment) restart(ctx context.Context, c *child) error {
	if err := c.stop(d.cfg.StopTimeout); err != nil {
		d.out.say("%v", err)
	}
	return d.start(ctx, c)
}

// stopAll stops the children tier by tier, highest first: the gateway, then
// the banks, then etcd. It returns an error if any did not stop cleanly.
func (d *deployment) stopAll() error {
	tiers := d.tiers()
	var errs []error
	for _, tier := range slices.Backward(tiers) {
		errs = append(errs, each(tier, func(c *child) error { return c.stop(d.cfg.StopTimeout) }))
	}
	return errors.Join(errs...)
}

// killAll kills every running child at once.
func (d *deployment) killAll() {
	for _, c := range d.children {
		if r := c.running(); r != nil {
			r.stopping.Store(true)
			r.cmd.Process.Kill()
		}
	}
}

// each runs f for every child concurrently and joins the errors.
func each(children []*child, f func(*child) error) error {
	errs := make([]error, len(children))
	var wg sync.WaitGroup
	for i, c := range children {
		wg.Go(func() { errs[i] = f(c) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// status writes a line per child: state, pid, address, for how long.
func (d *deployment) status() {
	d.out.say("%-10s %-8s %-7s %s", "NAME", "STATE", "PID", "ADDRESS")
	for _, c := range d.children {
		state, pid, note := "stopped", "-", ""
		if r := c.current(); r != nil {
			state, pid, note = runState(r)
		}
		d.out.say("%-10s %-8s %-7s %-16s %s", c.name, state, pid, c.addr, note)
	}
}

func runState(r *run) (state, pid, note string) {
	pid = fmt.Sprint(r.pid())
	since := time.Since(r.started).Round(time.Second)
	switch {
	case r.exited() && r.stopping.Load():
		return "stopped", "-", ""
	case r.exited():
		return "exited", "-", exitText(r.err)
	case isClosed(r.ready):
		return "serving", pid, "up " + since.String()
	default:
		return "starting", pid, "for " + since.String()
	}
}
