package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/strife-pay/strife/internal/plumbing/backoff"
	"github.com/strife-pay/strife/wal"
)

// run is one active payment: its steps, its runner, and its messages in
// flight. stepMu serializes its steps: each step reads p, persists what the
// core decided and replaces p. mu guards the fields below it for short
// reads and writes, never across a disk write.
type run struct {
	id     ulid.ULID // never changes; read without mu
	stepMu sync.Mutex
	asks   sync.WaitGroup // Prepares and Resolves out: the runner waits for their answers

	mu sync.Mutex
	p  Payment // as the last step left it: its durable records, and those persisted Lazily
	// decided is closed once the decision of attempt decidedOf is durable;
	// nil when that decision was persisted Durably.
	decided   chan struct{}
	decidedOf uint32
	lazy      int    // records persisted Lazily and not yet durable
	phases    phases // for Metrics only

	accepted  chan struct{} // closed once p is known (accepted or found)
	acceptErr error         // set before accepted is closed, if acceptance failed
	outcome   chan struct{} // closed when the first Pay's answer is known
	once      sync.Once
}

func newRun(p Payment) *run {
	return &run{id: p.ID, p: p, accepted: make(chan struct{}), outcome: make(chan struct{})}
}

func (r *run) snapshot() Payment {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.p
}

func (r *run) set(p Payment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p = p
}

// resolve releases the callers waiting for the payment's first answer.
func (r *run) resolve() { r.once.Do(func() { close(r.outcome) }) }

// durable waits, up to timeout, until the decision on attempt is durable,
// and reports whether it is.
func (r *run) durable(attempt uint32, timeout time.Duration) bool {
	r.mu.Lock()
	decided, of := r.decided, r.decidedOf
	r.mu.Unlock()
	if decided == nil || of != attempt {
		return true
	}
	select {
	case <-decided:
		return true
	case <-time.After(timeout):
		return false
	}
}

// step runs one step of the core on r's payment, under r.stepMu: it
// computes the Ready, persists its records and sends its messages in the
// order its Mode says, and takes the payment they make. A payment that
// becomes final releases its first caller; one that is final and needs no
// more messages is retired.
func (c *Coordinator) step(r *run, f func(Payment) (Payment, Ready)) error {
	r.stepMu.Lock()
	defer r.stepMu.Unlock()
	before := r.snapshot()
	p, ready := f(before)
	c.m.deciding(r, ready, c.m.now())
	var err error
	switch ready.Mode {
	case InParallel:
		c.sendAll(r, ready.Messages)
		// gofail: var stagingBeforeDurable struct{}
		if p, err = c.persist(p, ready.Records); err != nil {
			c.unstage(r, ready.Messages)
		}
		// gofail: var stagedBeforeVotes struct{}
		// // The process dies here, as if killed: a panic in a goroutine of
		// // its own, which no RPC interceptor recovers.
		// go panic("failpoint stagedBeforeVotes")
		// select {}
	case Lazily:
		p, err = c.persistLazily(r, p, ready)
	default:
		if p, err = c.persist(p, ready.Records); err == nil {
			c.sendAll(r, ready.Messages)
		}
	}
	if err != nil {
		c.lg.Error().Err(err).Str("transaction_id", r.id.String()).Msg("cannot persist payment step")
	}
	r.set(p)
	c.m.stepped(r, before, p, ready, err)
	if p.Status != before.Status { // after r.set: a watcher told may look it up
		c.subs.publish(p)
	}
	if p.Final() {
		r.resolve()
	}
	c.retireIfDone(r)
	return err
}

// unstage follows an attempt whose staging record could not be written,
// though its Prepares have left: the attempt was never staged, so it never
// committed and nobody was told it did (OnVote waits for the record).
// Each bank is sent an Abort at once, so that the money it may hold for a
// YES is released without waiting for its in-doubt timeout; an Abort that
// arrives first leaves a tombstone, and the Prepare then votes NO. The
// attempt's number is not used again: a payment keeps it in its Round, and
// an acceptance that failed burns the epoch (see Coordinator.burned).
func (c *Coordinator) unstage(r *run, prepares []Message) {
	aborts := make([]Message, 0, len(prepares))
	for _, m := range prepares {
		if m.Kind == KindPrepare {
			aborts = append(aborts, Message{Bank: m.Bank, Kind: KindAbort, Attempt: m.Attempt})
		}
	}
	c.sendAll(r, aborts)
}

// retireIfDone retires r once its payment is final and needs nothing more:
// no message to send, and every record durable, so that a reader of the
// log sees it as the run did.
func (c *Coordinator) retireIfDone(r *run) {
	r.mu.Lock()
	done := r.p.Final() && (r.p.Ended || r.p.Attempt == 0) && r.lazy == 0
	r.mu.Unlock()
	if done {
		c.retire(r)
	}
}

// persist makes a step's records durable and returns the payment they
// make; on an error, p unchanged.
func (c *Coordinator) persist(p Payment, recs []Record) (Payment, error) {
	if len(recs) == 0 {
		return p, nil
	}
	next := p
	err := c.log.Append(func(tx *wal.Tx) (err error) {
		next, err = persistIn(tx, p, recs)
		return err
	})
	if err != nil {
		return p, err
	}
	return next, nil
}

// persistLazily gives p the records of a Lazily step at once, has the log
// commit them with its next commit, or on their own after Config's
// DecisionLinger or EndLinger (wal.Log.AppendWithin), and sends the step's
// messages once they are durable. A decision's durability is kept in r for
// GetDecision. Records whose commit fails are written again until they land
// (persistAgain, endAgain); the step's messages wait for them.
func (c *Coordinator) persistLazily(r *run, p Payment, ready Ready) (Payment, error) {
	next, err := p.Apply(ready.Records)
	if err != nil {
		return p, err
	}
	var decided chan struct{}
	r.mu.Lock()
	r.lazy++
	if next.Decision != p.Decision {
		decided = make(chan struct{})
		r.decided, r.decidedOf = decided, next.Attempt
	}
	r.mu.Unlock()
	done := func() {
		if decided != nil {
			c.m.decisionDurable(r)
			close(decided)
		}
		c.sendAll(r, ready.Messages)
		r.mu.Lock()
		r.lazy--
		r.mu.Unlock()
		c.retireIfDone(r)
	}
	write := func(tx *wal.Tx) error {
		_, err := persistIn(tx, p, ready.Records)
		return err
	}
	linger := c.cfg.EndLinger
	if decided != nil {
		linger = c.cfg.DecisionLinger
		// gofail: var lazyDecisionLinger string
		// linger, _ = time.ParseDuration(lazyDecisionLinger)
	}
	c.log.AppendWithin(write, linger, func(err error) {
		switch {
		case err == nil:
			done()
		case next.Final():
			// Nothing follows a final payment's records but their messages:
			// they are written again, as they were, until they are durable.
			c.lg.Error().Err(err).Str("transaction_id", r.id.String()).Msg("cannot persist a payment's records; trying again")
			c.spawn(func() { c.persistAgain(write, done) })
		default:
			// The END of an aborted attempt of a PENDING payment (the only
			// records a PENDING payment persists Lazily).
			c.lg.Error().Err(err).Str("transaction_id", r.id.String()).Msg("cannot persist the end of an aborted attempt; trying again")
			c.spawn(func() { c.endAgain(r, ready.Records, done) })
		}
	})
	return next, nil
}

// persistAgain appends write, durably, until it succeeds or the
// coordinator closes, then calls done.
func (c *Coordinator) persistAgain(write func(*wal.Tx) error, done func()) {
	for delay := c.cfg.RetryMin; c.ctx.Err() == nil; delay = min(2*delay, c.cfg.RetryMax) {
		if err := c.log.Append(write); err == nil {
			done()
			return
		}
		c.pause(backoff.Jitter(delay))
	}
}

// endAgain writes the END of an aborted attempt of a PENDING payment
// again, with backoff, until it lands or the coordinator closes, then
// calls done. Unlike a final payment's records, it cannot be written as it
// was: the payment goes on meanwhile (its next attempt may be staged, or it
// may expire), and an END appended after the next attempt's staging record
// would name an attempt that is no longer the latest, which Apply refuses
// when the log is replayed. So each try is a step of its own, under the
// run's step lock, from the payment as it is then: while the attempt is
// still the latest, its END is written with the payment as it stands;
// once another attempt is staged, the END is dropped, since only the
// latest attempt's decision is ever sent again (an earlier attempt's END
// spares nothing). Until the END lands the payment does not count the
// attempt as ended, so that what another step stores (an expiry's final
// status) does not claim an END the log lacks. One retry at most per
// attempt, and an attempt's retry ends when the next one is staged.
func (c *Coordinator) endAgain(r *run, ends []Record, done func()) {
	attempt := ends[0].Attempt
	for delay := c.cfg.RetryMin; c.ctx.Err() == nil; delay = min(2*delay, c.cfg.RetryMax) {
		err := c.step(r, func(p Payment) (Payment, Ready) {
			if p.Attempt != attempt {
				return p, Ready{} // a later attempt is staged
			}
			p.Ended = false
			return p, Ready{Records: ends}
		})
		if err == nil {
			done()
			return
		}
		c.pause(backoff.Jitter(delay))
	}
}

// sendAll sends messages to the participants, each on its own worker: a
// Prepare or a Resolve once, its answer a step; a Commit or an Abort until
// it is acknowledged.
func (c *Coordinator) sendAll(r *run, msgs []Message) {
	for _, m := range msgs {
		switch m.Kind {
		case KindPrepare:
			r.asks.Add(1)
			if !c.spawn(func() { c.prepare(r, m) }) {
				r.asks.Done()
			}
		case KindResolve:
			r.asks.Add(1)
			if !c.spawn(func() { c.askResolve(r, m) }) {
				r.asks.Done()
			}
		default:
			c.spawn(func() { c.deliver(r, m) })
		}
	}
}

func (c *Coordinator) startRunner(r *run) { c.spawn(func() { c.drive(r) }) }

// drive runs attempts of a PENDING payment until it is final. Once the
// answers to the Prepares (or Resolves) out are in, it settles an attempt
// whose votes a restart lost, expires the payment, holds it with backoff
// after an attempt that could not reach a bank (the first caller is told
// PENDING), or begins the next attempt when every participant is known.
func (c *Coordinator) drive(r *run) {
	defer r.resolve()
	delay := c.cfg.RetryMin
	p := r.snapshot()
	attempted := p.Round.known(p.Attempt) && !p.Round.Resolving // by the acceptance
	for c.ctx.Err() == nil {
		r.asks.Wait()
		p := r.snapshot()
		switch {
		case p.Final():
			return
		case p.Resolving():
			if p.Round.Resolving { // answered, but no decision persisted
				c.pause(c.cfg.RetryMax)
			}
			c.stepOrWait(r, Payment.Recover)
			continue
		case !c.cfg.Now().Before(p.Created.Add(c.cfg.MaxHold)):
			c.stepOrWait(r, Payment.Expire)
			continue
		case p.Attempt > 0 && p.Decision == DecisionNone:
			c.stepOrWait(r, Payment.Recover) // the abort of a NO vote failed to persist
			continue
		}
		// Taken before the directory is read, so that a change after the
		// read still cuts the sleep short.
		wake := c.wakeup()
		if _, ok := c.participants(p); ok && !attempted {
			c.begin(r)
			attempted = true
			continue
		}
		r.resolve() // held: the first caller is told PENDING
		c.sleep(r, backoff.Jitter(delay), wake)
		delay = min(2*delay, c.cfg.RetryMax)
		attempted = false
	}
}

// pause waits d, or until the coordinator closes.
func (c *Coordinator) pause(d time.Duration) {
	select {
	case <-time.After(d):
	case <-c.ctx.Done():
	}
}

// begin stages the payment's next attempt. An epoch with no attempt number
// left for the payment is replaced by a new one, and begin tries again.
func (c *Coordinator) begin(r *run) {
	for range 2 {
		var exhausted bool
		c.step(r, func(p Payment) (Payment, Ready) {
			next, ready, err := p.Begin(c.epoch.Load(), c.cfg.Now())
			if err != nil {
				exhausted = errors.Is(err, ErrEpochExhausted)
				c.lg.Error().Err(err).Str("transaction_id", r.id.String()).Msg("cannot begin attempt")
				return p, Ready{}
			}
			return next, ready
		})
		if !exhausted {
			return
		}
		if err := c.newEpoch(); err != nil {
			c.lg.Error().Err(err).Msg("cannot take a new epoch")
			return
		}
	}
}

// stepOrWait runs a step, and waits a while if it could not be persisted,
// so that a failing disk is not hammered.
func (c *Coordinator) stepOrWait(r *run, f func(Payment, time.Time) (Payment, Ready)) {
	if err := c.step(r, func(p Payment) (Payment, Ready) { return f(p, c.cfg.Now()) }); err != nil {
		c.pause(c.cfg.RetryMax)
	}
}

// participants returns the participant of each bank of p, or false if one
// of them is not known to be up.
func (c *Coordinator) participants(p Payment) (map[string]Participant, bool) {
	parts := map[string]Participant{}
	for _, bank := range p.Participants() {
		part, ok := c.dir.Participant(bank)
		if !ok {
			return nil, false
		}
		parts[bank] = part
	}
	return parts, true
}

// prepare sends one Prepare, within PrepareTimeout, and takes what comes
// back as the bank's vote.
func (c *Coordinator) prepare(r *run, m Message) {
	defer r.asks.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.PrepareTimeout)
	defer cancel()
	v := Vote{Failure: Unavailable}
	if part, ok := c.dir.Participant(m.Bank); ok {
		v = c.vote(ctx, r.id, part, m)
	}
	if c.ctx.Err() != nil {
		return // shutting down: decide nothing; recovery settles the attempt
	}
	c.step(r, func(p Payment) (Payment, Ready) { return p.OnVote(m.Attempt, m.Bank, v, c.cfg.Now()) })
}

// vote sends one Prepare and turns what comes back into a vote.
func (c *Coordinator) vote(ctx context.Context, id ulid.ULID, part Participant, m Message) Vote {
	v, err := part.Prepare(ctx, id, m.Attempt, m.Legs, m.Memo)
	if err != nil {
		v = Vote{Failure: classify(ctx, err)}
		c.lg.Warn().Err(err).Str("transaction_id", id.String()).Uint32("attempt", m.Attempt).Str("bank", m.Bank).Msg("prepare failed")
	}
	return v
}

// askResolve asks a participant whether it holds a YES vote for an attempt
// being resolved, until it answers, and takes the answer as a step.
func (c *Coordinator) askResolve(r *run, m Message) {
	defer r.asks.Done()
	c.retry(r, m, func(ctx context.Context, part Participant) error {
		v, err := part.Resolve(ctx, r.id, m.Attempt)
		// gofail: var resolvedBeforeDecision struct{}
		if err == nil {
			c.step(r, func(p Payment) (Payment, Ready) { return p.OnResolved(m.Attempt, m.Bank, v, c.cfg.Now()) })
		}
		return err
	})
}

// deliver sends a decision to one participant until it is acknowledged: a
// committed payment is never rolled back, so a Commit is retried for as long
// as it takes. Each acknowledgement is a core step; the last one ends the
// attempt.
func (c *Coordinator) deliver(r *run, m Message) {
	c.retry(r, m, func(ctx context.Context, part Participant) error {
		var err error
		if m.Kind == KindCommit {
			err = part.Commit(ctx, r.id, m.Attempt)
		} else {
			err = part.Abort(ctx, r.id, m.Attempt)
		}
		if err == nil {
			c.step(r, func(p Payment) (Payment, Ready) { return p.OnAck(m.Attempt, m.Bank, c.cfg.Now()) })
		}
		return err
	})
}

// retry calls send with m's participant, each time within PrepareTimeout,
// until it succeeds or the coordinator closes, with jittered backoff and
// at once when the directory changes.
func (c *Coordinator) retry(r *run, m Message, send func(context.Context, Participant) error) {
	for delay := c.cfg.RetryMin; c.ctx.Err() == nil; delay = min(2*delay, c.cfg.RetryMax) {
		wake := c.wakeup()
		err := fmt.Errorf("coordinator: bank %s is not available", m.Bank)
		if part, ok := c.dir.Participant(m.Bank); ok {
			ctx, cancel := context.WithTimeout(c.ctx, c.cfg.PrepareTimeout)
			err = send(ctx, part)
			cancel()
		}
		if err == nil {
			return
		}
		c.lg.Warn().Err(err).Str("transaction_id", r.id.String()).Uint32("attempt", m.Attempt).Str("bank", m.Bank).Stringer("message", m.Kind).Msg("message not delivered; will retry")
		select {
		case <-time.After(backoff.Jitter(delay)):
		case <-wake:
		case <-c.ctx.Done():
		}
	}
}

// sleep waits d, but not past the payment's expiry, and no longer once wake
// is closed by a change of the directory.
func (c *Coordinator) sleep(r *run, d time.Duration, wake <-chan struct{}) {
	if left := r.snapshot().Created.Add(c.cfg.MaxHold).Sub(c.cfg.Now()); left < d {
		d = max(left, 0)
	}
	select {
	case <-time.After(d):
	case <-wake:
	case <-c.ctx.Done():
	}
}

// wakeup returns a channel that is closed when the directory next changes.
// Take it before reading the directory: a change between the read and the
// wait is then not lost.
func (c *Coordinator) wakeup() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wake
}
