package backoff

import (
	"math/rand/v2"
	"time"
)

// Jitter returns a delay drawn uniformly from [d/2, d], so that processes
// that failed together do not retry in lockstep. It is d for d <= 0.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}
