package auth

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
)

// ErrBusy: every hashing slot is taken and the queue is full; the caller
// should try again in a moment.
var ErrBusy = errors.New("too many password checks in progress")

// DefaultHashSlots is how many bcrypt hashings a gateway runs at once:
// half the CPUs, at least one. A bcrypt comparison at cost 12 is about
// 350 ms of one CPU; with half of them for hashing, the other half always
// remains for payments, however many logins arrive.
func DefaultHashSlots() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// HashGate bounds the password hashings that run at once (slots) and the
// callers waiting for a slot (queue). It is safe for concurrent use.
type HashGate struct {
	slots   chan struct{} // a token per hashing running
	waiting chan struct{} // a token per caller waiting for a slot
	running atomic.Int32
	peak    atomic.Int32
}

// NewHashGate returns a gate of slots hashings at once (at least 1) and a
// queue of queue waiting callers (0: none wait; a full gate refuses).
func NewHashGate(slots, queue int) *HashGate {
	return &HashGate{slots: make(chan struct{}, max(1, slots)), waiting: make(chan struct{}, max(0, queue))}
}

// Do runs hash once a slot is free. It returns ErrBusy at once if every
// slot is taken and the queue is full, and ctx's error if ctx ends while
// waiting; hash then does not run.
func (g *HashGate) Do(ctx context.Context, hash func()) error {
	if err := g.acquire(ctx); err != nil {
		return err
	}
	defer func() { <-g.slots }()
	n := g.running.Add(1)
	defer g.running.Add(-1)
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	hash()
	return nil
}

func (g *HashGate) acquire(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case g.waiting <- struct{}{}:
	default:
		return ErrBusy
	}
	defer func() { <-g.waiting }()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Slots is the most hashings that run at once.
func (g *HashGate) Slots() int { return cap(g.slots) }

// Peak is the most hashings that ever ran at once: never more than Slots
// (tests check it; operators may read it).
func (g *HashGate) Peak() int { return int(g.peak.Load()) }
