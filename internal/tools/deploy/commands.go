package deploy

import (
	"bufio"
	"context"
	"io"
	"strings"
)

// commandsHelp documents the commands up reads on its stdin.
const commandsHelp = `Commands (type them here, then Enter):
  status          every process: state, pid, address
  stop NAME       stop it cleanly (SIGTERM, as Ctrl-C does for all)
  restart NAME    start it again, after stopping it if it runs
  kill NAME       kill it with SIGKILL, as kill -9 from another terminal would
  help            this list
NAME is etcd, BankA, BankB, BankC or gateway-1 (case does not matter).
Ctrl-C stops everything: the gateway, then the banks, then etcd.`

// command runs one line read from stdin. It reports its result and any
// error on the output: a mistyped command must not stop the deployment.
func (d *deployment) command(ctx context.Context, line string) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return
	}
	verb := strings.ToLower(f[0])
	switch verb {
	case "status":
		d.status()
		return
	case "help", "?":
		d.out.write(upPrefix, commandsHelp)
		return
	case "stop", "restart", "start", "kill":
	default:
		d.out.say("unknown command %q; type help", f[0])
		return
	}
	if len(f) != 2 {
		d.out.say("usage: %s NAME (etcd, BankA, BankB, BankC or gateway-1)", verb)
		return
	}
	c, ok := d.find(f[1])
	if !ok {
		d.out.say("no process called %q (etcd, BankA, BankB, BankC or gateway-1)", f[1])
		return
	}
	d.act(ctx, verb, c)
}

func (d *deployment) act(ctx context.Context, verb string, c *child) {
	switch verb {
	case "stop":
		if c.running() == nil {
			d.out.say("%s is not running", c.name)
			return
		}
		if err := c.stop(d.cfg.StopTimeout); err != nil {
			d.out.say("%v", err)
			return
		}
		d.out.say("%s stopped; type %q to start it again", c.name, "restart "+c.name)
	case "start", "restart":
		if r := c.running(); verb == "start" && r != nil {
			d.out.say("%s is already running (pid %d); type %q to restart it", c.name, r.pid(), "restart "+c.name)
			return
		}
		if err := d.restart(ctx, c); err != nil {
			d.out.say("%v", err)
		}
	case "kill":
		if !c.kill() {
			d.out.say("%s is not running", c.name)
		}
	}
}

// readLines sends each line of r, then closes the channel at its end. A nil
// r sends nothing and never closes.
func readLines(r io.Reader) <-chan string {
	lines := make(chan string)
	if r == nil {
		return lines
	}
	go func() {
		defer close(lines)
		s := bufio.NewScanner(r)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	return lines
}
