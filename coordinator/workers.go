package coordinator

import "sync"

// workers runs tasks on a pool of long-lived goroutines. Each payment needs
// several goroutines of its own (its runner, one per Prepare, one per
// delivery), and each of them goes deep into gRPC: started fresh, every one
// grows its stack by copying, which cost the gateway about 7% of its CPU
// under load. A worker keeps the stack it grew. A task that finds every
// worker busy runs on a new goroutine, so the pool never makes anything
// wait.
type workers struct {
	tasks    chan func()
	quit     chan struct{}
	quitOnce sync.Once
}

// poolSize is how many workers a Coordinator keeps: enough for 256
// payments in flight, each with its runner and two Prepares or deliveries.
const poolSize = 768

// newWorkers starts n workers; stop ends them.
func newWorkers(n int) *workers {
	w := &workers{tasks: make(chan func()), quit: make(chan struct{})}
	for range n {
		go func() {
			for {
				select {
				case f := <-w.tasks:
					f()
				case <-w.quit:
					return
				}
			}
		}()
	}
	return w
}

// run runs f on an idle worker, or on a goroutine of its own.
func (w *workers) run(f func()) {
	select {
	case w.tasks <- f:
	default:
		go f()
	}
}

// stop ends each worker once it is idle; run still works after, on
// goroutines of their own. Stopping again does nothing, so that
// Coordinator.Close may be called more than once.
func (w *workers) stop() { w.quitOnce.Do(func() { close(w.quit) }) }
