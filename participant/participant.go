package participant

import (
	"errors"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// Config configures a Participant. Zero durations take the defaults.
type Config struct {
	// InDoubtTimeout is how long a prepared attempt waits for the
	// coordinator's decision before asking for it. Default 5s.
	InDoubtTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between GetDecision calls that
	// fail. Defaults 100ms and 5s.
	RetryMin, RetryMax time.Duration
	Log                zerolog.Logger
	// Metrics, if not nil, measure votes, outcomes, holds and attempts in
	// doubt (see NewMetrics); given to one Participant only. Nil measures
	// nothing.
	Metrics *Metrics
}

// Validate rejects durations that cannot be meant.
func (c Config) Validate() error {
	if c.InDoubtTimeout < 0 || c.RetryMin < 0 || c.RetryMax < 0 {
		return errors.New("participant: negative duration in config")
	}
	if c.RetryMax != 0 && c.RetryMin > c.RetryMax {
		return fmt.Errorf("participant: RetryMin %v exceeds RetryMax %v", c.RetryMin, c.RetryMax)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.InDoubtTimeout == 0 {
		c.InDoubtTimeout = 5 * time.Second
	}
	if c.RetryMin == 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 5 * time.Second
	}
	return c
}

// Participant is a bank's side of presumed-abort two-phase commit over its
// ledger. It is safe for concurrent use; every method is idempotent on
// (transaction ID, attempt).
type Participant struct {
	ledger  *ledger.Ledger
	doubts  *doubts
	log     zerolog.Logger
	metrics *Metrics // nil: none
}

// New returns the participant of a ledger. Every attempt the log shows as
// prepared and undecided is in doubt from the start: after
// cfg.InDoubtTimeout without a decision it is resolved through coord.
func New(l *ledger.Ledger, coord Coordinator, cfg Config) (*Participant, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Participant{ledger: l, log: cfg.Log, metrics: cfg.Metrics}
	p.doubts = newDoubts(p, coord, cfg)
	if p.metrics != nil {
		p.metrics.source.p = p
	}
	inDoubt, err := p.InDoubt()
	if err != nil {
		return nil, err
	}
	for k, coordinator := range inDoubt {
		if wal.CheckTxID(k.TxID) != nil {
			p.unresolvable(k)
			delete(inDoubt, k)
			continue
		}
		p.doubts.watch(k, coordinator)
	}
	if len(inDoubt) > 0 {
		p.log.Info().Int("attempts", len(inDoubt)).Msg("in-doubt attempts reloaded from the log")
	}
	return p, nil
}

// unresolvable reports, once at start, an attempt held under the zero
// transaction ID: a log written before the ID was refused can have one.
// The log never indexed its records, so no Commit or Abort can find it, and
// asking the coordinator would be refused: it is left held and reported
// (strife-recover check lists its holds too), rather than retried forever.
func (p *Participant) unresolvable(k AttemptID) {
	p.log.Error().Str("transaction_id", k.TxID.String()).Uint32("attempt", k.Attempt).
		Msg("attempt held under the zero transaction ID (written before such IDs were refused) cannot be resolved; its holds stay")
}

// Close stops resolving attempts in doubt. It does not close the ledger.
func (p *Participant) Close() { p.doubts.close() }

// Request is a Prepare: the legs of one attempt of a payment at this bank.
type Request struct {
	TxID    ulid.ULID
	Attempt uint32
	Legs    []*storagev1.Leg
	Memo    string
	// Coordinator is who sent it, and whom to ask for the decision.
	Coordinator string
}

func (r Request) id() AttemptID { return AttemptID{r.TxID, r.Attempt} }

// Prepare votes on an attempt. A YES vote is durable before Prepare
// returns: the holds are placed and the bank must apply whichever decision
// follows. A NO vote releases nothing because it holds nothing.
//
// Business reasons to refuse (unknown or closed account, insufficient funds)
// are NO votes; malformed legs and a credit that would overflow are errors
// wrapping ledger.ErrInvalid or ledger.ErrBalanceOverflow, with nothing
// written; ErrConflict if the attempt was prepared with other legs.
func (p *Participant) Prepare(req Request) (Vote, error) {
	out := p.Apply([]Op{{Kind: OpPrepare, Prepare: req}})[0]
	return out.Vote, out.Err
}

// Commit applies a prepared attempt: COMMITTED and the postings are durable
// before it returns. Committing again is acknowledged; committing an attempt
// that is not prepared is ErrNotPrepared or ErrAborted.
func (p *Participant) Commit(id ulid.ULID, attempt uint32) error {
	return p.Apply([]Op{{Kind: OpCommit, Attempt: AttemptID{id, attempt}}})[0].Err
}

// Abort releases a prepared attempt. Aborting an attempt never seen leaves a
// tombstone, so that a Prepare arriving later votes NO. Aborting again is
// acknowledged; aborting a committed attempt is ErrCommitted.
func (p *Participant) Abort(id ulid.ULID, attempt uint32) error {
	return p.Apply([]Op{{Kind: OpAbort, Attempt: AttemptID{id, attempt}}})[0].Err
}

// Resolve answers a coordinator that lost its votes in a crash and is
// settling an attempt it staged (status resolution): YES if this bank holds
// a YES vote for it (prepared, or committed), which it keeps; NO if it
// voted NO or the attempt was aborted. An attempt this bank never saw is
// aborted with a tombstone first and answers NO, so that a Prepare still on
// its way votes NO when it arrives. Resolving again answers the same.
func (p *Participant) Resolve(id ulid.ULID, attempt uint32) (Vote, error) {
	out := p.Apply([]Op{{Kind: OpResolve, Attempt: AttemptID{id, attempt}}})[0]
	return out.Vote, out.Err
}

// OpKind is what an Op asks.
type OpKind int

const (
	OpPrepare OpKind = iota + 1
	OpCommit
	OpAbort
	OpResolve
)

// Op is one message of a batch: a Prepare, or a Commit, an Abort or a
// Resolve of one attempt.
type Op struct {
	Kind    OpKind
	Prepare Request   // for OpPrepare
	Attempt AttemptID // for the others
}

func (o Op) id() AttemptID {
	if o.Kind == OpPrepare {
		return o.Prepare.id()
	}
	return o.Attempt
}

// Outcome answers one Op: the vote of a Prepare or a Resolve, or the error
// the single call (Prepare, Commit, Abort, Resolve) would have returned.
type Outcome struct {
	Vote Vote
	Err  error
}

// Apply runs ops in order in one ledger transaction, so that the whole batch
// costs one commit, and answers each exactly as Prepare, Commit, Abort or
// Resolve would have answered it alone: one op's NO vote or error never
// fails the others. An op refused before it writes anything (a protocol
// error, a malformed leg) just gets its error; one that fails after writing
// is rolled back and the others run again without it (see
// wal.Log.AppendAll). Each answer follows the fsync of the commit. Ops of
// one attempt see each other in order: a Prepare followed by an Abort of
// the same attempt prepares it, then aborts it.
func (p *Participant) Apply(ops []Op) []Outcome {
	out := make([]Outcome, len(ops))
	acts := make([]action, len(ops)) // what each op wrote
	fns := make([]func(*ledger.Tx) error, len(ops))
	for i, op := range ops {
		// fns[i] may run more than once (see wal.Log.AppendAll): each run
		// overwrites the answer of the one before.
		fns[i] = func(tx *ledger.Tx) error {
			s, err := decide(tx, op)
			out[i], acts[i] = Outcome{Vote: s.vote, Err: err}, s.act
			if err != nil {
				return nil // nothing written, nothing to roll back
			}
			return write(tx, op, s)
		}
	}
	for i, err := range p.ledger.UpdateAll(fns) {
		if out[i].Err == nil && err != nil {
			out[i] = Outcome{Err: err}
		}
		p.metrics.applied(acts[i], out[i])
		switch {
		case out[i].Err != nil:
		case acts[i] == actVote && out[i].Vote.Yes:
			p.doubts.watch(ops[i].id(), ops[i].Prepare.Coordinator)
		case ops[i].Kind == OpCommit || ops[i].Kind == OpAbort:
			p.doubts.settle(ops[i].id())
		}
	}
	return out
}

// step is what decide makes of an op: what to write, the answer once it is
// written, and the attempt's history it was decided on.
type step struct {
	act  action
	vote Vote
	a    history
}

// decide reads in tx what op needs and says what to write, writing nothing
// itself: an error it returns is op's answer, with nothing to roll back.
func decide(tx *ledger.Tx, op Op) (step, error) {
	if err := wal.CheckTxID(op.id().TxID); err != nil {
		return step{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	a, err := load(tx, op.id())
	if err != nil {
		return step{}, err
	}
	s := step{a: a}
	switch op.Kind {
	case OpPrepare:
		s.act, s.vote, err = a.onPrepare(digest(op.Prepare.Legs, op.Prepare.Memo))
		if err == nil && s.act == actVote {
			s.vote, err = check(tx, op.Prepare)
		}
	case OpCommit:
		s.act, err = a.onCommit()
	case OpAbort:
		s.act, err = a.onAbort()
	case OpResolve:
		s.act, s.vote = a.onResolve()
	default:
		err = fmt.Errorf("%w: op kind %d", ErrInvalid, op.Kind)
	}
	if err != nil {
		return step{}, err
	}
	return s, nil
}

// write does what decide said. It may fail after writing part of it, and
// then tx must be rolled back.
func write(tx *ledger.Tx, op Op, s step) error {
	switch s.act {
	case actVote:
		return vote(tx, op.Prepare, s.vote)
	case actCommit:
		return commit(tx, op.id(), s.a)
	case actAbort, actTombstone:
		return abort(tx, op.id(), s.a, s.act)
	}
	return nil
}

// refusals maps the ledger's business errors to the reason of a NO vote.
var refusals = []struct {
	err    error
	reason strifev1.Reason
}{
	{ledger.ErrAccountNotFound, strifev1.Reason_REASON_ACCOUNT_NOT_FOUND},
	{ledger.ErrAccountClosed, strifev1.Reason_REASON_ACCOUNT_CLOSED},
	{ledger.ErrInsufficientFunds, strifev1.Reason_REASON_INSUFFICIENT_FUNDS},
}

// check is the vote on a new attempt, read without writing: YES if every
// leg can be held, else NO with the reason of the first leg that cannot. A
// malformed leg, or a credit that would overflow, is an error.
func check(tx *ledger.Tx, req Request) (Vote, error) {
	for _, h := range holds(req.TxID, req.Attempt, req.Legs) {
		err := tx.CheckHold(h)
		for _, r := range refusals {
			if errors.Is(err, r.err) {
				return Vote{Reason: r.reason}, nil
			}
		}
		if err != nil {
			return Vote{}, err
		}
	}
	return Vote{Yes: true}, nil
}

// vote writes the vote check came to: PREPARED, which places the holds,
// for a YES, or an ABORTED record with the reason and the request's digest
// for a NO.
func vote(tx *ledger.Tx, req Request, v Vote) error {
	if !v.Yes {
		rec := &storagev1.Aborted{Reason: v.Reason, RequestDigest: digest(req.Legs, req.Memo)}
		return appendRecord(tx, ledger.TypeAborted, req.id(), rec)
	}
	rec := &storagev1.Prepared{Legs: req.Legs, Memo: req.Memo, Coordinator: req.Coordinator, TimeUnixNano: tx.Now().UnixNano()}
	return tx.Prepare(req.TxID, req.Attempt, rec) // the record places the holds
}

// commit writes COMMITTED and posts the attempt's holds.
func commit(tx *ledger.Tx, k AttemptID, a history) error {
	rec := &storagev1.Committed{TimeUnixNano: tx.Now().UnixNano()}
	if err := appendRecord(tx, ledger.TypeCommitted, k, rec); err != nil {
		return err
	}
	for i, h := range holds(k.TxID, k.Attempt, a.Prepared.Legs) {
		if err := tx.SettleHold(h, a.Prepared.Memo, a.Prepared.Legs[i].Counterparty); err != nil {
			return err
		}
	}
	return nil
}

// abort writes ABORTED and releases the attempt's holds, or writes a
// tombstone for an attempt never seen.
func abort(tx *ledger.Tx, k AttemptID, a history, act action) error {
	if act == actTombstone {
		return appendRecord(tx, ledger.TypeAborted, k, &storagev1.Aborted{Tombstone: true})
	}
	if err := appendRecord(tx, ledger.TypeAborted, k, &storagev1.Aborted{}); err != nil {
		return err
	}
	for _, h := range holds(k.TxID, k.Attempt, a.Prepared.Legs) {
		if err := tx.ReleaseHold(h); err != nil {
			return err
		}
	}
	return nil
}

// InDoubt returns the attempts that are prepared and undecided, with the
// coordinator to ask about each.
func (p *Participant) InDoubt() (map[AttemptID]string, error) {
	out := map[AttemptID]string{}
	err := p.ledger.View(func(tx *ledger.Tx) error {
		all, err := tx.AllHolds()
		if err != nil {
			return err
		}
		for _, h := range all {
			k := AttemptID{h.TxID, h.Attempt}
			if _, seen := out[k]; seen {
				continue
			}
			a, err := load(tx, k)
			if err != nil {
				return err
			}
			out[k] = a.Prepared.GetCoordinator()
		}
		return nil
	})
	return out, err
}

func load(tx *ledger.Tx, k AttemptID) (history, error) {
	recs, err := tx.Log().Lookup(k.TxID, k.Attempt)
	if err != nil {
		return history{}, err
	}
	return historyFrom(recs)
}

func appendRecord(tx *ledger.Tx, typ wal.Type, k AttemptID, m proto.Message) error {
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = tx.Log().Append(wal.Record{Type: typ, TxID: k.TxID, Attempt: k.Attempt, Payload: payload})
	return err
}

func holds(id ulid.ULID, attempt uint32, legs []*storagev1.Leg) []ledger.Hold {
	out := make([]ledger.Hold, len(legs))
	for i, l := range legs {
		out[i] = ledger.Hold{TxID: id, Attempt: attempt, Number: l.Number, Direction: l.Direction, Amount: l.Amount}
	}
	return out
}
