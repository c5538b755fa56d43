package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/strife-pay/strife/internal/tools/deploy"
)

// Fault actions, as counted in the summary.
const (
	actKill    = "kills"
	actStop    = "stops"
	actRestart = "restarts"
	// actExited counts processes found exited that no fault had killed:
	// a crash, or a daemon that gave up (today a bank that cannot reach
	// etcd at start exits). They are started again.
	actExited = "exited on their own"
	// actStartFailed counts starts that failed (the process exited, or
	// did not serve in time); they are tried again.
	actStartFailed = "failed starts"
)

var actions = []string{actKill, actStop, actRestart, actExited, actStartFailed}

// faults injects faults into a deployment and keeps every process running
// between them. Its random choices come from one seeded generator, drawn
// on one goroutine, so that a seed gives the same schedule of faults.
type faults struct {
	dep     *deploy.Deployment
	rng     *rand.Rand
	every   time.Duration
	maxDown time.Duration
	log     io.Writer // faults.log
	targets []string  // the processes faults hit (Config.Only)

	mu     sync.Mutex
	busy   map[string]bool // a fault or a start is under way
	counts map[string]map[string]int
	wg     sync.WaitGroup
}

func newFaults(dep *deploy.Deployment, rng *rand.Rand, cfg Config, log io.Writer) *faults {
	f := &faults{dep: dep, rng: rng, every: cfg.FaultEvery, maxDown: cfg.MaxDown, log: log,
		busy: map[string]bool{}, counts: map[string]map[string]int{}}
	for _, name := range dep.Names() {
		if len(cfg.Only) == 0 || slices.Contains(cfg.Only, dep.Kind(name)) {
			f.targets = append(f.targets, name)
		}
	}
	return f
}

// inject injects faults until ctx ends, then waits for the faults under
// way to end (a killed process restarted, a stopped one continued).
func (f *faults) inject(ctx context.Context) {
	for {
		// The next fault comes after a uniform wait of 0.5 to 1.5 times
		// the mean.
		wait := time.Duration(float64(f.every) * (0.5 + f.rng.Float64()))
		if !sleep(ctx, wait) {
			break
		}
		name := f.targets[f.rng.IntN(len(f.targets))]
		down := time.Duration(f.rng.Int64N(int64(f.maxDown) + 1))
		switch n := f.rng.IntN(4); {
		case n < 2:
			f.start(name, func() { f.kill(name, down) })
		case n == 2:
			f.start(name, func() { f.stop(name, max(down, 200*time.Millisecond)) })
		default:
			f.start(name, func() { f.restart(name) })
		}
		f.revive()
	}
	f.wg.Wait()
}

// start runs fault on a goroutine of its own unless the process is
// already in a fault, or not running (then it is left to revive).
func (f *faults) start(name string, fault func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy[name] || !f.dep.Running(name) {
		return
	}
	f.busy[name] = true
	f.wg.Go(func() {
		defer f.done(name)
		fault()
	})
}

func (f *faults) done(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.busy, name)
}

func (f *faults) count(name, action string) {
	kind := f.dep.Kind(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts[kind] == nil {
		f.counts[kind] = map[string]int{}
	}
	f.counts[kind][action]++
}

func (f *faults) say(format string, args ...any) {
	fmt.Fprintf(f.log, "%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
}

// kill kills the process with SIGKILL and starts it again after down.
func (f *faults) kill(name string, down time.Duration) {
	if ok, err := f.dep.Signal(name, syscall.SIGKILL); !ok || err != nil {
		return
	}
	f.count(name, actKill)
	f.say("SIGKILL %s; down for %v", name, down)
	time.Sleep(down)
	f.startAgain(name)
}

// stop freezes the process with SIGSTOP and continues it after down.
func (f *faults) stop(name string, down time.Duration) {
	if ok, err := f.dep.Signal(name, syscall.SIGSTOP); !ok || err != nil {
		return
	}
	f.count(name, actStop)
	f.say("SIGSTOP %s for %v", name, down)
	time.Sleep(down)
	f.dep.Signal(name, syscall.SIGCONT)
	f.say("SIGCONT %s", name)
}

// restart stops the process cleanly (SIGTERM) and starts it again.
func (f *faults) restart(name string) {
	f.count(name, actRestart)
	f.say("restart %s (SIGTERM, then start)", name)
	f.startAgain(name)
}

// startAgain starts the process (after stopping it if it runs) and waits
// until it serves. A start that fails is counted; revive tries again.
func (f *faults) startAgain(name string) {
	if err := f.dep.Restart(context.Background(), name); err != nil {
		f.count(name, actStartFailed)
		f.say("start of %s failed: %v", name, err)
		return
	}
	f.say("%s serving again", name)
}

// revive starts again, each on a goroutine of its own, the processes that
// are not running and not in a fault: found exited on their own (counted
// as such), or left down by a failed start.
func (f *faults) revive() {
	for _, name := range f.dep.Names() {
		f.mu.Lock()
		idle := !f.busy[name] && !f.dep.Running(name)
		if idle {
			f.busy[name] = true
		}
		f.mu.Unlock()
		if !idle {
			continue
		}
		if exit := f.dep.Exit(name); exit != "" && !f.leftDown(name) {
			f.count(name, actExited)
			f.say("%s found exited on its own (%s); starting it again", name, exit)
		}
		f.wg.Go(func() {
			defer f.done(name)
			f.startAgain(name)
		})
	}
}

// leftDown reports whether the process is down because its last start
// failed (already counted), not because it exited while serving.
func (f *faults) leftDown(name string) bool {
	return !f.dep.Served(name)
}

// reviveAll starts again every process that is not running, until all are
// or ctx ends, and reports whether all are.
func (f *faults) reviveAll(ctx context.Context) bool {
	for {
		f.revive()
		f.wg.Wait()
		all := true
		for _, name := range f.dep.Names() {
			all = all && f.dep.Running(name)
		}
		if all || !sleep(ctx, 500*time.Millisecond) {
			return all
		}
	}
}

// snapshotCounts copies the counts by kind and action.
func (f *faults) snapshotCounts() map[string]map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[string]int{}
	for k, m := range f.counts {
		out[k] = map[string]int{}
		for a, n := range m {
			out[k][a] = n
		}
	}
	return out
}
