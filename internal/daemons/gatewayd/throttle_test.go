package gatewayd_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/auth"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// Passwords of the users the attack matrix registers for its throttling
// cases.
const (
	davePassword = "dave password"
	erinPassword = "erin password"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// requireRetryInfo checks that err is RESOURCE_EXHAUSTED with the retry
// time in its message and as a google.rpc.RetryInfo detail, and returns it.
func requireRetryInfo(t *testing.T, err error) time.Duration {
	t.Helper()
	st := status.Convert(err)
	require.Equal(t, codes.ResourceExhausted, st.Code(), "%v", err)
	require.Contains(t, st.Message(), "try again in", st.Message())
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.RetryInfo); ok {
			wait := info.GetRetryDelay().AsDuration()
			require.Positive(t, wait)
			return wait
		}
	}
	require.Fail(t, "no RetryInfo detail", "%v", st.Details())
	return 0
}

// TestLoginThrottle walks a user through the throttle's whole policy with
// the gateway's throttle clock in hand: free failures, delays that double,
// the lock at the threshold, and the right password working again after
// the cool-down. It also shows that the right password is refused while
// throttled, and that the retry time given is the one that works.
func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	clock := newFakeClock()
	e.cfg.UserThrottle = auth.ThrottleConfig{Now: clock.Now}
	e.cfg.CertThrottle = auth.ThrottleConfig{Now: clock.Now, Free: 100, LockAfter: 100} // the user's alone here
	e.restart(t)
	c := e.client(t, certs.RoleClient, "bob-laptop")
	login := func(password string) error {
		_, err := c.Login(t.Context(), &strifev1.LoginRequest{Username: "bob", Password: password})
		return err
	}
	policy := auth.DefaultUserThrottle

	for i := range policy.Free {
		requireCode(t, codes.Unauthenticated, login("wrong password"), "free failure %d", i+1)
	}
	for failures := policy.Free; failures < policy.LockAfter; failures++ {
		wait := requireRetryInfo(t, login(bobPassword))
		want := min(policy.Delay<<(failures-policy.Free), policy.MaxDelay)
		require.Equal(t, want, wait, "after %d failures", failures)
		clock.Add(wait - time.Millisecond)
		requireRetryInfo(t, login("wrong password")) // not yet: and not counted
		clock.Add(time.Millisecond)
		requireCode(t, codes.Unauthenticated, login("wrong password"), "failure %d", failures+1)
	}
	require.Equal(t, policy.LockFor, requireRetryInfo(t, login(bobPassword)), "locked")
	clock.Add(policy.LockFor - time.Second)
	requireRetryInfo(t, login(bobPassword))

	clock.Add(time.Second) // the cool-down is over
	require.NoError(t, login(bobPassword))
	requireCode(t, codes.Unauthenticated, login("wrong password"), "the success forgot the failures")
}

// TestHashingBound floods the gateway with logins that each cost a real
// bcrypt comparison (unknown users, so no name is throttled) and checks
// that no more of them ever ran at once than the configured slots.
func TestHashingBound(t *testing.T) {
	e := newEnv(t)
	e.cfg.BcryptCost = 8 // long enough for concurrent logins to overlap
	e.cfg.HashSlots, e.cfg.HashQueue = 1, 32
	e.restart(t)
	const logins = 8
	codesSeen := make(chan codes.Code, logins)
	var wg sync.WaitGroup
	for i := range logins {
		c := e.client(t, certs.RoleClient, "flood-"+string(rune('a'+i)))
		wg.Go(func() {
			_, err := c.Login(t.Context(), &strifev1.LoginRequest{Username: "nobody", Password: "wrong password"})
			codesSeen <- status.Code(err)
		})
	}
	wg.Wait()
	close(codesSeen)
	for code := range codesSeen {
		require.Contains(t, []codes.Code{codes.Unauthenticated, codes.ResourceExhausted}, code)
	}
	require.Equal(t, 1, e.gw.HashGate().Peak(), "hashings at once")
	require.Equal(t, 1, e.gw.HashGate().Slots())
}
