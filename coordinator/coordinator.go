package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// Errors of the coordinator's API.
var (
	// ErrConflict: the transaction ID was used before with other parameters.
	ErrConflict = errors.New("coordinator: transaction ID already used with other parameters")
	ErrNotFound = errors.New("coordinator: no such payment")
	ErrInvalid  = errors.New("coordinator: invalid payment")
	// ErrNotParticipant: a bank asked about a payment it takes no part in.
	ErrNotParticipant = errors.New("coordinator: bank is not a participant of the payment")
	// ErrResolving: the attempt asked about is being resolved after a
	// restart, or its decision is not durable yet; ask again.
	ErrResolving = errors.New("coordinator: the attempt's outcome is being settled; ask again")
)

// Participant is a bank as the coordinator sees it. Prepare and Resolve
// return a vote or an error; the coordinator classifies errors itself (see
// classify).
type Participant interface {
	Prepare(ctx context.Context, id ulid.ULID, attempt uint32, legs []*strifev1.Leg, memo string) (Vote, error)
	Commit(ctx context.Context, id ulid.ULID, attempt uint32) error
	Abort(ctx context.Context, id ulid.ULID, attempt uint32) error
	// Resolve asks whether the bank holds a YES vote for an attempt, for
	// status resolution after a restart: YES if it does (it keeps it), NO
	// otherwise (an attempt it never saw is aborted first).
	Resolve(ctx context.Context, id ulid.ULID, attempt uint32) (Vote, error)
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
	// DecisionLinger and EndLinger are how long a decision taken
	// implicitly, and an ATTEMPT_ENDED, wait for the log's next commit to
	// ride with before they are committed on their own (see Lazily). A
	// decision holds its Commits back, so it waits little; an END only
	// spares resending a decision after a crash. Defaults 2ms and 1s.
	DecisionLinger, EndLinger time.Duration
	Log                       zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Metrics, if not nil, measure the payments (see NewMetrics); given
	// to one Coordinator only. Nil measures nothing.
	Metrics *Metrics
}

// Validate rejects durations that cannot be meant.
func (c Config) Validate() error {
	for _, d := range []time.Duration{c.PrepareTimeout, c.MaxHold, c.RetryMin, c.RetryMax, c.DecisionLinger, c.EndLinger} {
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
	def(&c.DecisionLinger, 2*time.Millisecond)
	def(&c.EndLinger, time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Coordinator runs the lifecycle of payments: idempotent acceptance, 2PC
// attempts against the participants, held payments, recovery. It is safe
// for concurrent use.
type Coordinator struct {
	log   *wal.Log
	dir   Directory
	cfg   Config
	lg    zerolog.Logger
	m     *Metrics      // nil: no metrics
	epoch atomic.Uint32 // attempts begun now are numbered in it (see nextAttempt)

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	pool   *workers // runs runners and messages

	// tasksMu guards starting a task against Close: once closed, no task
	// starts, so wg cannot grow while Close waits for it.
	tasksMu sync.Mutex
	closed  bool
	wg      sync.WaitGroup // runners and messages in flight

	epochMu sync.Mutex // serializes taking a new epoch
	// burned is 1 + an epoch in which an acceptance failed to write its
	// staging record after its Prepares left (0: none): the payment is
	// forgotten, and so is the attempt number they carried. The next
	// acceptance takes a new epoch first, so that a retry of that payment
	// cannot reuse the number.
	burned atomic.Uint32

	mu     sync.Mutex
	active map[ulid.ULID]*run // payments pending, or with a decision not yet durable or acknowledged by all
	wake   chan struct{}      // closed and replaced when the directory changes
	subs   *broker
}

// New returns a coordinator over the gateway's log. It takes a new epoch,
// durably, before anything else, then recovers: a staged attempt without a
// decision is resolved by asking its participants, an undecided attempt
// from before staging is aborted, a decision not acknowledged by all is
// sent again, and every PENDING payment resumes.
func New(log *wal.Log, dir Directory, cfg Config) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Coordinator{log: log, dir: dir, cfg: cfg, lg: cfg.Log, m: cfg.Metrics, ctx: ctx, cancel: cancel, active: map[ulid.ULID]*run{}, wake: make(chan struct{}), subs: newBroker(), pool: newWorkers(poolSize)}
	if err := c.newEpoch(); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.recover(); err != nil {
		c.Close()
		return nil, err
	}
	if n, ok := dir.(Notifier); ok {
		c.spawn(func() { c.followDirectory(n.Changes()) })
	}
	if c.m != nil {
		c.m.gauges.coord.Store(c)
	}
	return c, nil
}

// newEpoch takes the epoch after the last one recorded, durably (see
// nextAttempt).
func (c *Coordinator) newEpoch() error {
	c.epochMu.Lock()
	defer c.epochMu.Unlock()
	return c.appendEpoch()
}

// appendEpoch is newEpoch under epochMu. The epoch is taken only once its
// record is durable: an epoch whose record failed is taken again by the
// next start, and must not have numbered anything.
func (c *Coordinator) appendEpoch() error {
	var e uint32
	err := c.log.Append(func(tx *wal.Tx) (err error) {
		e, err = beginEpoch(tx, c.cfg.Now())
		return err
	})
	if err == nil {
		c.epoch.Store(e)
	}
	return err
}

// renewBurnedEpoch takes a new epoch if an acceptance burned the current
// one (see Coordinator.burned). While the disk fails, so does this, and
// the acceptance fails before any Prepare leaves.
func (c *Coordinator) renewBurnedEpoch() error {
	if c.burned.Load() != c.epoch.Load()+1 {
		return nil
	}
	c.epochMu.Lock()
	defer c.epochMu.Unlock()
	if c.burned.Load() != c.epoch.Load()+1 {
		return nil // renewed meanwhile
	}
	return c.appendEpoch()
}

// followDirectory wakes every held payment when the directory changes.
func (c *Coordinator) followDirectory(changes <-chan struct{}) {
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

// Close stops runners and deliveries and waits for them. Records persisted
// lazily are left to the log's next commit, or its Close. Payments stay as
// the log has them; the next New resumes them.
func (c *Coordinator) Close() {
	c.tasksMu.Lock()
	c.closed = true
	c.tasksMu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.pool.stop()
	c.subs.close()
}

// spawn runs f on a worker, counting it in wg, and reports whether it
// does: once the coordinator is closed, it does not.
func (c *Coordinator) spawn(f func()) bool {
	c.tasksMu.Lock()
	defer c.tasksMu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	c.pool.run(func() {
		defer c.wg.Done()
		f()
	})
	return true
}

// recover resumes the open payments (OpenBucket), moving them there first
// if the file predates the bucket: its cost grows with the open payments,
// not with every payment ever made.
func (c *Coordinator) recover() error {
	began := time.Now()
	if err := c.moveOpenPayments(); err != nil {
		return err
	}
	var open []Payment
	err := c.log.View(func(tx *wal.Tx) (err error) {
		open, err = openPayments(tx, func(key []byte, why string) {
			c.lg.Error().Hex("key", key).Str("why", why).Msg("the open payments' bucket holds one that is not open; skipped (strife-recover check reports it)")
		})
		return err
	})
	if err != nil {
		return err
	}
	open = slices.DeleteFunc(open, func(p Payment) bool {
		if wal.CheckTxID(p.ID) != nil {
			c.unresumable(p)
			return true
		}
		return false
	})
	recoverStep := func(p Payment) (Payment, Ready) { return p.Recover(c.cfg.Now()) }
	// gofail: var forgetImplicitCommits struct{}
	// // A coordinator broken on purpose, for strife-chaos's test: see
	// // forgetImplicitCommit.
	// recoverStep = c.forgetImplicitCommit
	for _, p := range open {
		r := newRun(p)
		close(r.accepted)
		c.active[p.ID] = r
		if err := c.step(r, recoverStep); err != nil {
			return err
		}
		c.startRunner(r)
	}
	if len(open) > 0 {
		c.lg.Info().Int("payments", len(open)).Uint32("epoch", c.epoch.Load()).Dur("took_ms", time.Since(began)).Msg("recovered open payments from the log")
	}
	return nil
}

// moveOpenPayments moves the open payments of a file written before the open
// bucket existed into it, once, in one transaction (migrateOpen). Any other
// file is left alone, and costs no write.
func (c *Coordinator) moveOpenPayments() error {
	var missing bool
	if err := c.log.View(func(tx *wal.Tx) error {
		missing = lacksOpenBucket(tx)
		return nil
	}); err != nil || !missing {
		return err
	}
	start := time.Now()
	var open int
	if err := c.log.Append(func(tx *wal.Tx) (err error) {
		open, err = migrateOpen(tx)
		return err
	}); err != nil {
		return fmt.Errorf("coordinator: moving the open payments to their bucket: %w", err)
	}
	c.lg.Info().Int("open", open).Dur("took", time.Since(start)).Msg("built the index of open payments, once (the file predates it)")
	return nil
}

// unresumable reports, at start, an unfinished payment whose ID is the
// zero ULID: a log written before such IDs were refused can have one. The
// banks cannot look up its attempt (their logs do not index the zero ID),
// so no Commit or Abort of it can succeed, and the log now refuses its
// records: it is left as it stands rather than retried forever.
func (c *Coordinator) unresumable(p Payment) {
	c.lg.Error().Str("transaction_id", p.ID.String()).Uint32("attempt", p.Attempt).Stringer("status", p.Status).
		Msg("payment with the zero transaction ID (accepted before such IDs were refused) cannot be settled; left as it stands")
}

// forgetImplicitCommit is the coordinator broken on purpose that the
// forgetImplicitCommits failpoint turns on (see recover), so that
// strife-chaos's test can show its checks catch a coordinator that forgets
// a decision: after a restart it fails, with ABORTED, every staged attempt
// whose decision did not reach the log, where Recover asks the banks
// whether they all hold a YES. Such an attempt may have committed
// implicitly and been answered COMMITTED (the decision follows lazily), so
// a gateway killed in that window breaks its word; one that lives on, or
// stops cleanly, writes every decision and loses nothing. In a normal build
// nothing calls it.
func (c *Coordinator) forgetImplicitCommit(p Payment) (Payment, Ready) {
	if p.Attempt > 0 && !p.Ended && p.Staged && p.Decision == DecisionNone {
		return p, p.decide(DecisionAbort, Failed, strifev1.Reason_REASON_ABORTED, false, c.cfg.Now())
	}
	return p.Recover(c.cfg.Now())
}

// Pay runs a payment exactly once per ID. A new ID is accepted and its
// first attempt staged (durably, in parallel with its Prepares); Pay waits
// for the first attempt's outcome, or ctx, and returns the payment as it
// then stands: COMMITTED (as soon as the attempt committed implicitly: see
// Payment.OnVote), FAILED, or PENDING if it is held. A known ID with the
// same parameters returns that payment, waiting for its first outcome if it
// is in flight; retry is true. A known ID with other parameters is
// ErrConflict.
func (c *Coordinator) Pay(ctx context.Context, id ulid.ULID, params Params) (p Payment, retry bool, err error) {
	if err := wal.CheckTxID(id); err != nil {
		return Payment{}, false, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := params.Validate(); err != nil {
		return Payment{}, false, err
	}
	r, fresh := c.claim(id)
	if !fresh {
		p, err := c.await(ctx, r, params)
		return p, err == nil, err
	}
	if found, err := c.accept(r, id, params); err != nil || found {
		return r.snapshot(), err == nil, err
	}
	c.startRunner(r)
	select {
	case <-r.outcome:
	case <-ctx.Done():
	}
	p = r.snapshot()
	if p.Status == Pending {
		c.m.answeredPending()
	}
	return p, false, nil
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
	var stored Payment
	err = c.log.View(func(tx *wal.Tx) (err error) {
		stored, found, err = getPayment(tx, id)
		return err
	})
	if err == nil && found {
		r.set(stored)
		if stored.Params != params {
			err = fmt.Errorf("%w: %s", ErrConflict, id)
		}
	}
	if err == nil && !found {
		err = c.renewBurnedEpoch()
	}
	if err == nil && !found {
		err = c.step(r, c.acceptance(params))
		if n := r.snapshot().Round.Attempt; err != nil && n != 0 {
			c.burned.Store(n>>EpochBits + 1)
		}
	}
	if err != nil || found {
		r.acceptErr = err
		r.resolve()
		c.retire(r)
		return found, err
	}
	return false, nil
}

// acceptance is the step of a new payment: PAYMENT_ACCEPTED and, if every
// bank of the payment is known, its first attempt staged by the same
// record (Payment.AcceptStaged), its Prepares sent while it commits. A bank not known now
// leaves the attempt to the runner.
func (c *Coordinator) acceptance(params Params) func(Payment) (Payment, Ready) {
	now := c.cfg.Now()
	_, banksUp := c.participants(Payment{Params: params})
	return func(p Payment) (Payment, Ready) {
		if !banksUp {
			return p, Accept(params, now)
		}
		staged, ready, err := p.AcceptStaged(params, c.epoch.Load(), now)
		if err != nil {
			c.lg.Error().Err(err).Str("transaction_id", p.ID.String()).Msg("cannot stage the first attempt")
			return p, Accept(params, now)
		}
		return staged, ready
	}
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

// activeRun returns the run of an accepted payment that is still active.
func (c *Coordinator) activeRun(id ulid.ULID) *run {
	c.mu.Lock()
	r := c.active[id]
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.accepted:
		if r.acceptErr == nil {
			return r
		}
	default:
	}
	return nil
}

// GetDecision answers bank, in doubt about an attempt (see
// Payment.DecisionFor). An unknown payment is aborted: presumed abort, as
// its acceptance and first attempt were never durable, so it cannot have
// committed. A bank that is not a participant of the payment gets
// ErrNotParticipant and changes nothing: otherwise any bank could abort
// other banks' attempts while they vote. The decision answered is durable:
// a COMMIT taken implicitly is waited for until its record is (up to
// PrepareTimeout). An attempt being resolved after a restart is
// ErrResolving: the bank asks again.
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
	stepErr := c.step(r, func(p Payment) (Payment, Ready) {
		switch {
		case p.Created.IsZero(): // the acceptance failed: unknown payment
			return p, Ready{}
		case !slices.Contains(p.Participants(), bank):
			err = fmt.Errorf("%w: %s, %s", ErrNotParticipant, bank, id)
			return p, Ready{}
		}
		var ready Ready
		d, ready = p.DecisionFor(attempt, c.cfg.Now())
		return p, ready
	})
	switch {
	case err != nil:
		return 0, err
	case stepErr != nil:
		return 0, stepErr
	case d == DecisionNone:
		return 0, fmt.Errorf("%w: %s attempt %d", ErrResolving, id, attempt)
	}
	if !r.durable(attempt, c.cfg.PrepareTimeout) {
		return 0, fmt.Errorf("%w: %s attempt %d", ErrResolving, id, attempt)
	}
	return d, nil
}

// Get returns a payment: as the coordinator holds it while it is active
// (a COMMITTED status can precede its record by a commit: see
// Payment.OnVote), as the log has it otherwise.
func (c *Coordinator) Get(id ulid.ULID) (Payment, error) {
	if r := c.activeRun(id); r != nil {
		return r.snapshot(), nil
	}
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
// range. Payments still active are as the coordinator holds them, as Get
// returns them.
func (c *Coordinator) List(user string, token []byte, limit int) ([]Payment, []byte, error) {
	var out []Payment
	var next []byte
	err := c.log.View(func(tx *wal.Tx) (err error) {
		out, next, err = listPayments(tx, user, token, limit)
		return err
	})
	for i, p := range out {
		if r := c.activeRun(p.ID); r != nil {
			out[i] = r.snapshot()
		}
	}
	return out, next, err
}

// Watch returns a channel of every status change of payments that user
// makes or receives, until ctx ends. A watcher that falls 64 changes behind
// is dropped: its channel closes, and it should watch again and catch up
// with List.
func (c *Coordinator) Watch(ctx context.Context, user string) <-chan Payment {
	return c.subs.subscribe(ctx, user)
}
