package coordinator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A task never waits for a worker: with the only worker busy, the next task
// runs on a goroutine of its own; after stop, every task does.
func TestWorkersNeverMakeATaskWait(t *testing.T) {
	w := newWorkers(1)
	release, ran := make(chan struct{}), make(chan string, 3)
	w.run(func() { <-release; ran <- "first" })
	w.run(func() { ran <- "second" })
	requireRan(t, ran, "second", "while the only worker is busy")
	close(release)
	requireRan(t, ran, "first", "")

	w.stop()
	w.stop() // as a second Coordinator.Close does
	w.run(func() { ran <- "after stop" })
	requireRan(t, ran, "after stop", "after stop")
}

func requireRan(t *testing.T, ran <-chan string, want, when string) {
	t.Helper()
	select {
	case got := <-ran:
		require.Equal(t, want, got)
	case <-time.After(5 * time.Second):
		require.Failf(t, "task did not run", "%s %s", want, when)
	}
}
