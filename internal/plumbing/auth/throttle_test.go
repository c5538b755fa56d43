package auth_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/plumbing/auth"
)

// A spray of names holds at most MaxKeys entries: the oldest failures are
// forgotten first, and a key with no failure for LockFor is forgotten.
func TestThrottleBounded(t *testing.T) {
	now := time.Unix(0, 0)
	th, err := auth.NewThrottle(auth.ThrottleConfig{MaxKeys: 100, Now: func() time.Time { return now }})
	require.NoError(t, err)
	for i := range 1000 {
		for range auth.DefaultUserThrottle.Free {
			th.Failed(auth.UserKey(fmt.Sprint("name", i)))
		}
	}
	require.Equal(t, 100, th.Len())
	require.NoError(t, th.Allow(auth.UserKey("name0")), "evicted")
	require.ErrorIs(t, th.Allow(auth.UserKey("name999")), auth.ErrThrottled)

	now = now.Add(auth.DefaultUserThrottle.LockFor)
	require.NoError(t, th.Allow(auth.UserKey("name999")), "forgotten after LockFor")
}

func TestThrottleConfig(t *testing.T) {
	_, err := auth.NewThrottle(auth.ThrottleConfig{Free: 5, LockAfter: 2})
	require.Error(t, err)
	_, err = auth.NewThrottle(auth.ThrottleConfig{Delay: -time.Second})
	require.Error(t, err)
	require.Equal(t, "user:"+string(make([]byte, 64)), auth.UserKey(string(make([]byte, 1<<20))), "a huge name is cut")
}

// A full gate refuses at once; a waiting caller gives up with its context.
func TestHashGate(t *testing.T) {
	g := auth.NewHashGate(1, 1)
	running, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = g.Do(context.Background(), func() { close(running); <-release }) })
	<-running

	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error)
	go func() { waited <- g.Do(ctx, func() {}) }()
	// Wait for the waiter to be queued without queueing a probe: a probe
	// holding the queue's place would turn the waiter away.
	require.Eventually(t, func() bool { return g.Waiting() == 1 }, 5*time.Second, time.Millisecond, "the waiter is queued")
	full, stop := context.WithTimeout(context.Background(), 5*time.Second) // bounded, were the gate to queue it
	defer stop()
	require.ErrorIs(t, g.Do(full, func() {}), auth.ErrBusy, "the queue of one is taken by the waiter")
	cancel()
	require.ErrorIs(t, <-waited, context.Canceled)

	close(release)
	wg.Wait()
	require.NoError(t, g.Do(context.Background(), func() {}))
	require.Equal(t, 1, g.Peak())
}
