package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"

	"github.com/strife-pay/strife/internal/backoff"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// Errors of the coordinator's API.
var (
	// ErrConflict: the transaction ID was used before with other parameters.
	ErrConflict = errors.New("coordinator: transaction ID already used with other parameters")
	ErrNotFound = errors.New("coordinator: no such payment")
	ErrInvalid  = errors.New("coordinator: invalid payment")
)

// Participant is a bank as the coordinator sees it. Prepare returns a vote
// or an error; the coordinator classifies errors itself (see classify).
type Participant interface {
	Prepare(ctx context.Context, id ulid.ULID, attempt uint32, legs []*strifev1.Leg, memo string) (Vote, error)
	Commit(ctx context.Context, id ulid.ULID, attempt uint32) error
	Abort(ctx context.Context, id ulid.ULID, attempt uint32) error
}

// Directory finds the participant of a bank. ok is false for a bank that is
// not known to be up: payments that need it are held PENDING.
type Directory interface {
	Participant(bank string) (p Participant, ok bool)
}

// Notifier is an optional interface of a Directory: Changes delivers a
// value whenever the set of available banks may have changed (a bank came
// up or went away), so that held payments are tried again at once instead
// of at their next backoff. The channel is closed when the directory stops.
type Notifier interface {
	Changes() <-chan struct{}
}

// Config configures a Coordinator. Zero values take the defaults.
type Config struct {
	// PrepareTimeout bounds the wait for votes, and each Commit or Abort
	// call. Default 2s.
	PrepareTimeout time.Duration
	// MaxHold is how long a payment may stay PENDING before it fails with
	// EXPIRED. Default 10m.
	MaxHold time.Duration
	// RetryMin and RetryMax bound the backoff between attempts of a held
	// payment and between resends of a decision. Defaults 100ms and 5s.
	RetryMin, RetryMax time.Duration
	Log                zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate rejects durations that cannot be meant.
func (c Config) Validate() error {
	for _, d := range []time.Duration{c.PrepareTimeout, c.MaxHold, c.RetryMin, c.RetryMax} {
		if d < 0 {
			return fmt.Errorf("coordinator: negative duration %v in config", d)
		}
	}
	if c.RetryMax != 0 && c.RetryMin > c.RetryMax {
		return fmt.Errorf("coordinator: RetryMin %v exceeds RetryMax %v", c.RetryMin, c.RetryMax)
	}
	return nil
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.PrepareTimeout, 2*time.Second)
	def(&c.MaxHold, 10*time.Minute)
	def(&c.RetryMin, 100*time.Millisecond)
	def(&c.RetryMax, 5*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Coordinator runs the lifecycle of payments: idempotent acceptance, 2PC
// attempts against the participants, held payments, recovery. It is safe
// for concurrent use.
type Coordinator struct {
	log *wal.Log
	dir Directory
	cfg Config
	lg  zerolog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // runners and deliveries
	pool   *workers       // runs them, and the Prepares

	mu     sync.Mutex
	active map[ulid.ULID]*run // payments pending, or with a decision not yet acknowledged by all
	wake   chan struct{}      // closed and replaced when the directory changes
	subs   *broker
}

// run is one active payment. stepMu serializes its steps: each step reads
// p, persists what the core decided and replaces p. mu guards the fields
// below it for short reads and writes, never across a disk write: a reader
// sees p as last persisted, not a step in flight.
type run struct {
	id     ulid.ULID // never changes; read without mu
	stepMu sync.Mutex
	mu     sync.Mutex
	p      Payment
	round  *Round // votes and acks of the latest attempt

	// first holds the Prepares of attempt 1 when it was begun in the
	// acceptance's own transaction; the runner sends them first.
	first []Message

	accepted  chan struct{} // closed once p is known (accepted or found)
	acceptErr error         // set before accepted is closed, if acceptance failed
	outcome   chan struct{} // closed when the first Pay's answer is known
	once      sync.Once
	acked     chan struct{} // closed when the attempt of a final payment ends
	ackedOnce sync.Once
}

func newRun(p Payment) *run {
	return &run{id: p.ID, p: p, round: NewRound(p.Attempt), accepted: make(chan struct{}), outcome: make(chan struct{}), acked: make(chan struct{})}
}

func (r *run) snapshot() Payment {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.p
}

// resolve releases the callers waiting for the payment's first answer.
func (r *run) resolve() { r.once.Do(func() { close(r.outcome) }) }

// New returns a coordinator over the gateway's log and recovers: every
// undecided attempt is aborted, every decision not acknowledged by all is
// sent again, every PENDING payment resumes.
func New(log *wal.Log, dir Directory, cfg Config) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Coordinator{log: log, dir: dir, cfg: cfg, lg: cfg.Log, ctx: ctx, cancel: cancel, active: map[ulid.ULID]*run{}, wake: make(chan struct{}), subs: newBroker(), pool: newWorkers(poolSize)}
	if err := c.recover(); err != nil {
		c.Close()
		return nil, err
	}
	if n, ok := dir.(Notifier); ok {
		c.wg.Add(1)
		go c.followDirectory(n.Changes())
	}
	return c, nil
}

// followDirectory wakes every held payment when the directory changes.
func (c *Coordinator) followDirectory(changes <-chan struct{}) {
	defer c.wg.Done()
	for {
		select {
		case _, ok := <-changes:
			if !ok {
				return
			}
			c.mu.Lock()
			close(c.wake)
			c.wake = make(chan struct{})
			c.mu.Unlock()
		case <-c.ctx.Done():
			return
		}
	}
}

// Close stops runners and deliveries and waits for them. Payments stay as
// the log has them; the next New resumes them.
func (c *Coordinator) Close() {
	c.cancel()
	c.wg.Wait()
	c.pool.stop()
	c.subs.close()
}

func (c *Coordinator) recover() error {
	var open []Payment
	err := c.log.View(func(tx *wal.Tx) error {
		b, err := tx.Bucket(paymentsBucket)
		if err != nil || b == nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var id ulid.ULID
			copy(id[:], k)
			p, err := decodePayment(id, v)
			if err == nil && (!p.Final() || (p.Attempt > 0 && !p.Ended)) {
				open = append(open, p)
			}
			return err
		})
	})
	if err != nil {
		return err
	}
	for _, p := range open {
		r := newRun(p)
		close(r.accepted)
		c.active[p.ID] = r
		if err := c.step(r, func(p Payment) Ready { return p.Recover(c.cfg.Now()) }); err != nil {
			return err
		}
		c.startRunner(r)
	}
	if len(open) > 0 {
		c.lg.Info().Int("payments", len(open)).Msg("recovered open payments from the log")
	}
	return nil
}

// Pay runs a payment exactly once per ID. A new ID is accepted (durably,
// before anything else) and executed; Pay waits for the first attempt's
// outcome, or ctx, and returns the payment as it then stands: COMMITTED,
// FAILED, or PENDING if it is held. A known ID with the same parameters
// returns that payment, waiting for its first outcome if it is in flight;
// retry is true. A known ID with other parameters is ErrConflict.
func (c *Coordinator) Pay(ctx context.Context, id ulid.ULID, params Params) (p Payment, retry bool, err error) {
	if err := params.Validate(); err != nil {
		return Payment{}, false, err
	}
	r, fresh := c.claim(id)
	if !fresh {
		p, err := c.await(ctx, r, params)
		return p, err == nil, err
	}
	if found, err := c.accept(r, id, params); err != nil || found {
		return r.p, err == nil, err
	}
	c.startRunner(r)
	select {
	case <-r.outcome:
	case <-ctx.Done():
	}
	return r.snapshot(), false, nil
}

// claim makes id active with a new run, unless it already is.
func (c *Coordinator) claim(id ulid.ULID) (*run, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.active[id]; ok {
		return r, false
	}
	r := newRun(Payment{ID: id})
	c.active[id] = r
	return r, true
}

// accept persists a new payment, or finds it stored from before (found).
// A payment stored from before is found by a read: a retry costs no write
// and no fsync (an empty bbolt commit still syncs). Either way r.accepted is
// closed; unless the payment is new, r is retired.
func (c *Coordinator) accept(r *run, id ulid.ULID, params Params) (found bool, err error) {
	defer close(r.accepted)
	err = c.log.View(func(tx *wal.Tx) (err error) {
		r.p, found, err = getPayment(tx, id)
		return err
	})
	if err == nil && !found {
		err = c.persistAccepted(r, id, params)
	}
	if err == nil && found && r.p.Params != params {
		err = fmt.Errorf("%w: %s", ErrConflict, id)
	}
	if err != nil || found {
		r.acceptErr = err
		r.resolve()
		c.retire(r)
		return found, err
	}
	c.subs.publish(r.p)
	return false, nil
}

// persistAccepted writes a new payment; r is claimed, so no other call can
// store the same ID meanwhile. If every bank of the payment is known,
// attempt 1 begins in the same transaction: one fsync where two would do the
// same job.
func (c *Coordinator) persistAccepted(r *run, id ulid.ULID, params Params) error {
	now := c.cfg.Now()
	_, banksUp := c.participants(Payment{Params: params})
	return c.log.Append(func(tx *wal.Tx) error {
		p, err := persistIn(tx, Payment{ID: id}, Accept(params, now).Records)
		if err != nil || !banksUp {
			r.p = p
			return err
		}
		ready, err := p.Begin(now)
		if err != nil {
			return err
		}
		r.p, err = persistIn(tx, p, ready.Records)
		r.first, r.round = ready.Messages, NewRound(1)
		return err
	})
}

// await answers a repeated Pay: the stored payment once the first call's
// outcome is known, or as it stands when ctx ends.
func (c *Coordinator) await(ctx context.Context, r *run, params Params) (Payment, error) {
	select {
	case <-r.accepted:
	case <-ctx.Done():
		return Payment{}, ctx.Err()
	}
	if r.acceptErr != nil && !errors.Is(r.acceptErr, ErrConflict) {
		return Payment{}, r.acceptErr
	}
	if p := r.snapshot(); p.Params != params {
		return Payment{}, fmt.Errorf("%w: %s", ErrConflict, p.ID)
	}
	select {
	case <-r.outcome:
	case <-ctx.Done():
	}
	return r.snapshot(), nil
}

// retire forgets a run that needs no more work.
func (c *Coordinator) retire(r *run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active[r.id] == r {
		delete(c.active, r.id)
	}
}

// step runs one step of the core on r's payment: under r.stepMu it computes
// the Ready, persists its records (durably, in one transaction) and takes
// the payment they make; then it sends the decisions the Ready carries. The
// Prepare messages of Begin are left to the runner.
func (c *Coordinator) step(r *run, f func(Payment) Ready) error {
	r.stepMu.Lock()
	defer r.stepMu.Unlock()
	r.mu.Lock()
	ready := f(r.p)
	p := r.p
	r.mu.Unlock()
	if p.Final() && ends(ready) {
		// Every participant acknowledged the decision: the answer need not
		// wait for the ATTEMPT_ENDED record that says so.
		r.ackedOnce.Do(func() { close(r.acked) })
	}
	if len(ready.Records) > 0 {
		next, err := c.persist(r.id, p, ready.Records)
		if err != nil {
			c.lg.Error().Err(err).Str("transaction_id", r.id.String()).Msg("cannot persist payment step")
			return err
		}
		r.mu.Lock()
		if next.Attempt != r.round.Attempt { // a new attempt: its votes and acks
			r.round = NewRound(next.Attempt)
		}
		r.p = next
		r.mu.Unlock()
		if next.Status != p.Status { // after r.p: a watcher told may look it up
			c.subs.publish(next)
		}
		p = next
	}
	for _, m := range ready.Messages {
		if m.Kind != KindPrepare {
			c.wg.Add(1)
			c.pool.run(func() { c.deliver(r, m) })
		}
	}
	if p.Final() && (p.Ended || p.Attempt == 0) {
		c.retire(r)
	}
	return nil
}

// persist makes a step's records durable and returns the payment they
// make. ATTEMPT_ENDED alone is not waited for: it is no force point, it
// only spares the resends of a decision after a crash, so it rides with the
// log's next commit (wal.Log.AppendLater) instead of paying for one of its
// own. The steps of a payment are serialized and the log commits in queue
// order, so the next step's records still follow it.
func (c *Coordinator) persist(id ulid.ULID, p Payment, recs []Record) (Payment, error) {
	if len(recs) == 1 && recs[0].Type == wal.TypeAttemptEnded {
		next, err := p.Apply(recs)
		if err == nil {
			c.log.AppendLater(func(tx *wal.Tx) error {
				_, err := persistIn(tx, p, recs)
				return err
			}, func(err error) {
				if err != nil {
					c.lg.Error().Err(err).Str("transaction_id", id.String()).Msg("cannot persist the end of an attempt; its decision will be sent again after a restart")
				}
			})
		}
		return next, err
	}
	var next Payment
	err := c.log.Append(func(tx *wal.Tx) (err error) {
		next, err = persistIn(tx, p, recs)
		return err
	})
	return next, err
}

func (c *Coordinator) startRunner(r *run) {
	c.wg.Add(1)
	c.pool.run(func() { c.drive(r) })
}

// drive runs attempts of a PENDING payment until it is final: it begins an
// attempt when every participant is known, collects the votes (the core
// decides as they arrive), and holds the payment with backoff when an
// attempt could not reach a bank.
func (c *Coordinator) drive(r *run) {
	defer c.wg.Done()
	defer r.resolve()
	delay := c.cfg.RetryMin
	for c.ctx.Err() == nil {
		p := r.snapshot()
		switch {
		case p.Final():
			c.awaitAcks(r)
			return
		case !c.cfg.Now().Before(p.Created.Add(c.cfg.MaxHold)):
			c.stepOrWait(r, Payment.Expire)
		case p.Attempt > 0 && p.Decision == DecisionNone && !r.hasFirst():
			// Only after a step failed to persist: abort, as after a crash.
			c.stepOrWait(r, Payment.Recover)
		default:
			// Taken before the directory is read, so that a change after
			// the read still cuts the sleep short.
			wake := c.wakeup()
			if parts, ok := c.participants(p); ok {
				c.attempt(r, parts)
			}
			if r.snapshot().Status == Pending {
				r.resolve() // held: the first caller is told PENDING
				c.sleep(r, backoff.Jitter(delay), wake)
				delay = min(2*delay, c.cfg.RetryMax)
			}
		}
	}
}

// stepOrWait runs a step, and waits a while if it could not be persisted,
// so that a failing disk is not hammered.
func (c *Coordinator) stepOrWait(r *run, f func(Payment, time.Time) Ready) {
	if err := c.step(r, func(p Payment) Ready { return f(p, c.cfg.Now()) }); err != nil {
		select {
		case <-time.After(c.cfg.RetryMax):
		case <-c.ctx.Done():
		}
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

// attempt begins the next attempt, unless the acceptance began it, and
// collects its votes.
func (c *Coordinator) attempt(r *run, parts map[string]Participant) {
	r.mu.Lock()
	prepares, round := r.first, r.round
	r.first = nil
	r.mu.Unlock()
	if prepares == nil {
		err := c.step(r, func(p Payment) Ready {
			ready, err := p.Begin(c.cfg.Now())
			if err != nil {
				c.lg.Error().Err(err).Msg("cannot begin attempt")
				return Ready{}
			}
			prepares = ready.Messages
			return ready
		})
		if err != nil || prepares == nil {
			return
		}
		r.mu.Lock()
		round = r.round // the new attempt's, made when its record was persisted
		r.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.PrepareTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range prepares {
		wg.Add(1)
		c.pool.run(func() {
			defer wg.Done()
			vote := c.vote(ctx, r.id, parts[m.Bank], m)
			if c.ctx.Err() != nil {
				return // shutting down: decide nothing; recovery aborts the attempt
			}
			c.step(r, func(p Payment) Ready { return p.OnVote(round, m.Bank, vote, c.cfg.Now()) })
		})
	}
	wg.Wait()
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

// awaitAcks gives the participants up to PrepareTimeout to acknowledge a
// final decision before the first caller is answered, so that a COMMITTED
// answer is normally already visible in the balances. The ATTEMPT_ENDED
// record that follows the acks is not waited for: it only spares resends
// after a crash. Delivery goes on after the deadline, until every
// participant has acknowledged.
func (c *Coordinator) awaitAcks(r *run) {
	if p := r.snapshot(); p.Ended || p.Attempt == 0 {
		return // acknowledged before a restart, or nothing to acknowledge
	}
	select {
	case <-r.acked:
	case <-time.After(c.cfg.PrepareTimeout):
	case <-c.ctx.Done():
	}
}

// ends reports whether a step's Ready ends the attempt: the core writes
// ATTEMPT_ENDED once, when the last participant acknowledges its decision.
func ends(ready Ready) bool {
	return slices.ContainsFunc(ready.Records, func(r Record) bool { return r.Type == wal.TypeAttemptEnded })
}

// hasFirst reports whether attempt 1, begun with the acceptance, still has
// its Prepares to send.
func (r *run) hasFirst() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first != nil
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

// deliver sends a decision to one participant until it is acknowledged: a
// committed payment is never rolled back, so a Commit is retried for as long
// as it takes. Each acknowledgement is a core step; the last one ends the
// attempt.
func (c *Coordinator) deliver(r *run, m Message) {
	defer c.wg.Done()
	for delay := c.cfg.RetryMin; c.ctx.Err() == nil; delay = min(2*delay, c.cfg.RetryMax) {
		wake := c.wakeup()
		err := c.send(r.id, m)
		if err == nil {
			c.step(r, func(p Payment) Ready {
				if m.Attempt != p.Attempt {
					return Ready{} // an older attempt's abort: nothing left to end
				}
				return p.OnAck(r.round, m.Bank, c.cfg.Now())
			})
			return
		}
		c.lg.Warn().Err(err).Str("transaction_id", r.id.String()).Uint32("attempt", m.Attempt).Str("bank", m.Bank).Stringer("message", m.Kind).Msg("decision not delivered; will retry")
		select {
		case <-time.After(backoff.Jitter(delay)):
		case <-wake:
		case <-c.ctx.Done():
		}
	}
}

func (c *Coordinator) send(id ulid.ULID, m Message) error {
	part, ok := c.dir.Participant(m.Bank)
	if !ok {
		return fmt.Errorf("coordinator: bank %s is not available", m.Bank)
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.PrepareTimeout)
	defer cancel()
	if m.Kind == KindCommit {
		return part.Commit(ctx, id, m.Attempt)
	}
	return part.Abort(ctx, id, m.Attempt)
}

// ErrNotParticipant: a bank asked about a payment it takes no part in.
var ErrNotParticipant = errors.New("coordinator: bank is not a participant of the payment")

// GetDecision answers bank, in doubt about an attempt (see
// Payment.DecisionFor). An unknown payment is aborted: presumed abort. A
// bank that is not a participant of the payment gets ErrNotParticipant and
// changes nothing: otherwise any bank could abort other banks' attempts
// while they vote.
func (c *Coordinator) GetDecision(bank string, id ulid.ULID, attempt uint32) (Decision, error) {
	c.mu.Lock()
	r := c.active[id]
	c.mu.Unlock()
	if r == nil {
		p, err := c.Get(id)
		if errors.Is(err, ErrNotFound) {
			return DecisionAbort, nil
		}
		if err == nil && !slices.Contains(p.Participants(), bank) {
			return 0, fmt.Errorf("%w: %s, %s", ErrNotParticipant, bank, id)
		}
		d, _ := p.DecisionFor(attempt, c.cfg.Now())
		return d, err
	}
	<-r.accepted
	d, err := DecisionAbort, error(nil)
	stepErr := c.step(r, func(p Payment) Ready {
		switch {
		case p.Created.IsZero(): // the acceptance failed: unknown payment
			return Ready{}
		case !slices.Contains(p.Participants(), bank):
			err = fmt.Errorf("%w: %s, %s", ErrNotParticipant, bank, id)
			return Ready{}
		}
		var ready Ready
		d, ready = p.DecisionFor(attempt, c.cfg.Now())
		return ready
	})
	if err != nil {
		return 0, err
	}
	return d, stepErr
}

// Get returns a payment.
func (c *Coordinator) Get(id ulid.ULID) (Payment, error) {
	var p Payment
	var ok bool
	err := c.log.View(func(tx *wal.Tx) (err error) {
		p, ok, err = getPayment(tx, id)
		return err
	})
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return p, err
}

// List returns up to limit payments that user made or received, newest
// first, after the page token (empty: from the newest), and the token of
// the next page (empty on the last page). The token comes from clients and
// is untrusted: whatever it holds, the listing stays within user's own key
// range.
func (c *Coordinator) List(user string, token []byte, limit int) ([]Payment, []byte, error) {
	var out []Payment
	var next []byte
	err := c.log.View(func(tx *wal.Tx) (err error) {
		out, next, err = listPayments(tx, user, token, limit)
		return err
	})
	return out, next, err
}

// Watch returns a channel of every status change of payments that user
// makes or receives, until ctx ends. A watcher that falls 64 changes behind
// is dropped: its channel closes, and it should watch again and catch up
// with List.
func (c *Coordinator) Watch(ctx context.Context, user string) <-chan Payment {
	return c.subs.subscribe(ctx, user)
}
