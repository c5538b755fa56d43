package participant

import (
	"context"
	"sync"
	"time"

	"github.com/strife-pay/strife/internal/plumbing/backoff"
)

// doubts tracks the attempts a participant has voted YES on and not yet
// seen decided. Each gets a timer; if it fires, a resolver goroutine asks
// the coordinator, with backoff, until it gets an answer and applies it, or
// until the attempt is decided some other way (the coordinator called).
type doubts struct {
	p     *Participant
	coord Coordinator
	cfg   Config

	ctx    context.Context // cancelled by close; parent of every watch
	cancel context.CancelFunc
	wg     sync.WaitGroup // one per watch whose timer has not been stopped

	mu      sync.Mutex
	watches map[AttemptID]*watch
}

// watch is one attempt in doubt. cancel stops its resolver, if it runs.
type watch struct {
	timer  *time.Timer
	cancel context.CancelFunc
}

func newDoubts(p *Participant, coord Coordinator, cfg Config) *doubts {
	ctx, cancel := context.WithCancel(context.Background())
	return &doubts{p: p, coord: coord, cfg: cfg, ctx: ctx, cancel: cancel, watches: map[AttemptID]*watch{}}
}

// watch starts the timer of an attempt that was just prepared (or found
// prepared after a restart). Watching it twice is harmless.
func (d *doubts) watch(k AttemptID, coordinator string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.watches[k]; ok || d.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(d.ctx)
	d.wg.Add(1)
	d.watches[k] = &watch{cancel: cancel, timer: time.AfterFunc(d.cfg.InDoubtTimeout, func() {
		defer d.wg.Done()
		d.resolve(ctx, k, coordinator)
	})}
}

// settle forgets an attempt that has been decided, stopping its timer or
// its resolver.
func (d *doubts) settle(k AttemptID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if w, ok := d.watches[k]; ok {
		d.stop(w)
		delete(d.watches, k)
	}
}

// stop stops a watch; d.mu is held.
func (d *doubts) stop(w *watch) {
	w.cancel()
	if w.timer.Stop() {
		d.wg.Done() // the timer will never run its function
	}
}

// resolve asks the coordinator until it answers, then applies the decision
// through the same Commit or Abort a coordinator would call. It gives up
// when ctx is cancelled: the attempt was decided, or the participant closed.
func (d *doubts) resolve(ctx context.Context, k AttemptID, coordinator string) {
	log := d.p.log.With().Str("transaction_id", k.TxID.String()).Uint32("attempt", k.Attempt).Str("coordinator", coordinator).Logger()
	log.Info().Msg("no decision within the in-doubt timeout; asking the coordinator")
	for delay := d.cfg.RetryMin; ; delay = min(2*delay, d.cfg.RetryMax) {
		decision, err := d.ask(ctx, k, coordinator)
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
		if ctx.Err() != nil {
			return
		}
		log.Warn().Err(err).Dur("retry_in", delay).Msg("cannot resolve in-doubt attempt yet")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff.Jitter(delay)):
		}
	}
}

func (d *doubts) ask(ctx context.Context, k AttemptID, coordinator string) (Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RetryMax)
	defer cancel()
	return d.coord.GetDecision(ctx, coordinator, k.TxID, k.Attempt)
}

// close stops all timers and resolvers and waits for them.
func (d *doubts) close() {
	d.mu.Lock()
	d.cancel()
	for k, w := range d.watches {
		d.stop(w)
		delete(d.watches, k)
	}
	d.mu.Unlock()
	d.wg.Wait()
}
