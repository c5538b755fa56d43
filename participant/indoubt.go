package participant

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// doubts tracks the attempts a participant has voted YES on and not yet
// seen decided. Each gets a timer; if it fires, a resolver goroutine asks
// the coordinator, with backoff, until it gets an answer and applies it.
type doubts struct {
	p     *Participant
	coord Coordinator
	cfg   Config

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	timers map[AttemptID]*time.Timer
}

func newDoubts(p *Participant, coord Coordinator, cfg Config) *doubts {
	ctx, cancel := context.WithCancel(context.Background())
	return &doubts{p: p, coord: coord, cfg: cfg, ctx: ctx, cancel: cancel, timers: map[AttemptID]*time.Timer{}}
}

// watch starts the timer of an attempt that was just prepared (or found
// prepared after a restart). Watching it twice is harmless.
func (d *doubts) watch(k AttemptID, coordinator string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.timers[k]; ok || d.ctx.Err() != nil {
		return
	}
	d.wg.Add(1)
	d.timers[k] = time.AfterFunc(d.cfg.InDoubtTimeout, func() {
		defer d.wg.Done()
		d.resolve(k, coordinator)
	})
}

// settle forgets an attempt that has been decided.
func (d *doubts) settle(k AttemptID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t, ok := d.timers[k]; ok && t.Stop() {
		d.wg.Done() // the timer will never run its function
	}
	delete(d.timers, k)
}

// resolve asks the coordinator until it answers, then applies the decision
// through the same Commit or Abort a coordinator would call.
func (d *doubts) resolve(k AttemptID, coordinator string) {
	log := d.p.log.With().Str("transaction_id", k.TxID.String()).Uint32("attempt", k.Attempt).Str("coordinator", coordinator).Logger()
	log.Info().Msg("no decision within the in-doubt timeout; asking the coordinator")
	for backoff := d.cfg.RetryMin; ; backoff = min(2*backoff, d.cfg.RetryMax) {
		decision, err := d.ask(k, coordinator)
		if err == nil {
			if decision == DecisionCommit {
				err = d.p.Commit(k.TxID, k.Attempt)
			} else {
				err = d.p.Abort(k.TxID, k.Attempt)
			}
		}
		if err == nil {
			log.Info().Stringer("decision", decision).Msg("in-doubt attempt resolved")
			return
		}
		log.Warn().Err(err).Dur("retry_in", backoff).Msg("cannot resolve in-doubt attempt yet")
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(jitter(backoff)):
		}
	}
}

func (d *doubts) ask(k AttemptID, coordinator string) (Decision, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.RetryMax)
	defer cancel()
	return d.coord.GetDecision(ctx, coordinator, k.TxID, k.Attempt)
}

// jitter spreads retries over [d/2, d) so that banks restarted together do
// not ask in lockstep.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// close stops all timers and resolvers and waits for them.
func (d *doubts) close() {
	d.mu.Lock()
	d.cancel()
	for k, t := range d.timers {
		if t.Stop() {
			d.wg.Done()
		}
		delete(d.timers, k)
	}
	d.mu.Unlock()
	d.wg.Wait()
}
