package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// Ledger is a bank's accounts, kept as events in a wal.Log with their
// projection in the same file. It holds no state of its own: everything is
// read from and written to the log's transactions, so it is safe for
// concurrent use exactly as the log is.
type Ledger struct {
	log *wal.Log
	now func() time.Time
}

// New returns the ledger kept in log, creating its buckets if needed. A
// ledger written before the postings bucket existed has its projection
// rebuilt from the log in the current layout (see store.go), once, in one
// transaction. now is the clock for event times; nil means time.Now.
func New(log *wal.Log, now func() time.Time) (*Ledger, error) {
	if now == nil {
		now = time.Now
	}
	err := log.Append(func(wtx *wal.Tx) error {
		if wtx.ExistingBucket(entriesBucket) != nil {
			return replay(wtx) // once: the projection of a ledger from before postings
		}
		_, err := openStore(wtx) // creates the buckets of a new ledger
		return err
	})
	return &Ledger{log: log, now: now}, err
}

// Attach returns the ledger kept in log without writing anything, for
// offline tools on a log from wal.OpenReadOnly: View and Verify work, and
// the projection's buckets must already exist.
func Attach(log *wal.Log) *Ledger { return &Ledger{log: log, now: time.Now} }

// Update runs fn in a durable write transaction (see wal.Log.Append): when
// Update returns nil, every event fn emitted is on disk. fn may run more than
// once and must have no other effects.
func (l *Ledger) Update(fn func(*Tx) error) error {
	return l.UpdateAll([]func(*Tx) error{fn})[0]
}

// UpdateAll runs each of fns as Update would, all in one durable commit,
// in order, and returns each one's error: one function's error rolls back
// only what that function did (see wal.Log.AppendAll).
func (l *Ledger) UpdateAll(fns []func(*Tx) error) []error {
	wfns := make([]func(*wal.Tx) error, len(fns))
	for i, fn := range fns {
		wfns[i] = func(wtx *wal.Tx) error {
			tx, err := l.begin(wtx)
			if err != nil {
				return err
			}
			return fn(tx)
		}
	}
	return l.log.AppendAll(wfns)
}

// View runs fn in a read-only transaction.
func (l *Ledger) View(fn func(*Tx) error) error {
	return l.log.View(func(wtx *wal.Tx) error {
		tx, err := l.begin(wtx)
		if err != nil {
			return err
		}
		return fn(tx)
	})
}

func (l *Ledger) begin(wtx *wal.Tx) (*Tx, error) {
	s, err := openStore(wtx)
	if err != nil {
		return nil, err
	}
	return &Tx{wal: wtx, store: s, now: l.now().UnixNano()}, nil
}

// Tx is a ledger transaction. Its operations check their preconditions
// first and return a sentinel error without writing anything if one fails;
// only then do they emit events.
type Tx struct {
	wal   *wal.Tx
	store *boltStore
	now   int64
}

// Log is the transaction on the underlying log, for records that are not
// ledger events (the participant's PREPARED, COMMITTED, ABORTED).
func (tx *Tx) Log() *wal.Tx { return tx.wal }

// Now is the time of the transaction, read once from the ledger's clock
// when it began: every event it emits carries it, and records written
// beside them (the participant's) should too, so that a bank has one clock.
func (tx *Tx) Now() time.Time { return time.Unix(0, tx.now) }

// emit appends an event to the log and folds it into the projection.
func (tx *Tx) emit(typ wal.Type, id ulid.ULID, attempt uint32, event proto.Message) error {
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(event)
	if err != nil {
		return err
	}
	r := wal.Record{Type: typ, TxID: id, Attempt: attempt, Payload: payload}
	if r.Seq, err = tx.wal.Append(r); err != nil {
		return err
	}
	return apply(tx.store, r, event)
}

// Account returns an account, or ErrAccountNotFound.
func (tx *Tx) Account(number string) (Account, error) {
	a, err := tx.state(number)
	if err != nil {
		return Account{}, err
	}
	return accountFrom(a), nil
}

// Accounts returns every account's stored state, in number order: the
// whole accounts bucket, for the offline tools.
func (tx *Tx) Accounts() ([]*storagev1.AccountState, error) {
	var out []*storagev1.AccountState
	err := tx.store.accounts.ForEach(func(k, v []byte) error {
		a := &storagev1.AccountState{}
		if err := proto.Unmarshal(v, a); err != nil {
			return fmt.Errorf("account %q: %w", k, err)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// state returns the stored state of an account, or ErrAccountNotFound.
func (tx *Tx) state(number string) (*storagev1.AccountState, error) {
	a, err := tx.store.account(number)
	if err == nil && a == nil {
		err = fmt.Errorf("%w: %q", ErrAccountNotFound, number)
	}
	return a, err
}

// OpenAccount creates an account with an opening deposit (which may be
// zero). If the account exists with the same owner it is returned with
// created false and nothing changes; with another owner it is
// ErrAccountExists.
func (tx *Tx) OpenAccount(number, owner string, opening int64) (acct Account, created bool, err error) {
	if err := validOpen(number, owner, opening); err != nil {
		return Account{}, false, err
	}
	switch a, err := tx.Account(number); {
	case err == nil && a.Owner != owner:
		return Account{}, false, fmt.Errorf("%w: %q", ErrAccountExists, number)
	case err == nil:
		return a, false, nil
	case !errors.Is(err, ErrAccountNotFound):
		return Account{}, false, err
	}
	if err := tx.emit(TypeAccountOpened, ulid.ULID{}, 0, &storagev1.AccountOpened{Number: number, Owner: owner, TimeUnixNano: tx.now}); err != nil {
		return Account{}, false, err
	}
	if opening > 0 {
		deposit := &storagev1.Deposited{Number: number, Amount: opening, BalanceAfter: opening, TimeUnixNano: tx.now}
		if err := tx.emit(TypeDeposited, ulid.ULID{}, 0, deposit); err != nil {
			return Account{}, false, err
		}
	}
	acct, err = tx.Account(number)
	return acct, true, err
}

func validOpen(number, owner string, opening int64) error {
	if err := ValidNumber(number); err != nil {
		return err
	}
	if err := ValidOwner(owner); err != nil {
		return err
	}
	if opening < 0 {
		return fmt.Errorf("%w: opening balance %d is negative", ErrInvalid, opening)
	}
	return nil
}

// UpdateAccount changes the owner (if owner is not empty) and the status (if
// not UNSPECIFIED). Closing an account with holds is ErrAccountBusy.
func (tx *Tx) UpdateAccount(number, owner string, status strifev1.AccountStatus) (Account, error) {
	a, err := tx.Account(number)
	if err != nil {
		return Account{}, err
	}
	if owner != "" {
		if err := ValidOwner(owner); err != nil {
			return Account{}, err
		}
		a.Owner = owner
	}
	switch status {
	case strifev1.AccountStatus_ACCOUNT_STATUS_UNSPECIFIED:
	case Open, Closed:
		a.Status = status
	default:
		return Account{}, fmt.Errorf("%w: account status %v", ErrInvalid, status)
	}
	if a.Status == Closed && (a.Held != 0 || a.Pending != 0) {
		return Account{}, fmt.Errorf("%w: %q", ErrAccountBusy, number)
	}
	err = tx.emit(TypeAccountUpdated, ulid.ULID{}, 0, &storagev1.AccountUpdated{Number: number, Owner: a.Owner, Status: a.Status})
	return a, err
}

// CheckHold reports whether PlaceHold(h) would succeed, without writing:
// the account must be open; a debit must be covered by the available
// balance; a credit must not be able to take the balance past MaxInt64
// together with the other pending credits.
func (tx *Tx) CheckHold(h Hold) error {
	if h.Amount <= 0 {
		return fmt.Errorf("%w: amount %d is not positive", ErrInvalid, h.Amount)
	}
	a, err := tx.Account(h.Number)
	if err != nil {
		return err
	}
	if a.Status != Open {
		return fmt.Errorf("%w: %q", ErrAccountClosed, h.Number)
	}
	switch h.Direction {
	case Debit:
		if a.Available() < h.Amount {
			return fmt.Errorf("%w: %q has %d available, needs %d", ErrInsufficientFunds, h.Number, a.Available(), h.Amount)
		}
	case Credit:
		if h.Amount > math.MaxInt64-a.Balance-a.Pending {
			return fmt.Errorf("%w: %q", ErrBalanceOverflow, h.Number)
		}
	default:
		return fmt.Errorf("%w: direction %v", ErrInvalid, h.Direction)
	}
	return nil
}

// Prepare writes an attempt's PREPARED record p, which places a hold for
// each of its legs, if CheckHold allows every one, each after the ones
// before it: the participant's YES vote and its holds in one record. It
// sets p.HoldsPlaced.
func (tx *Tx) Prepare(id ulid.ULID, attempt uint32, p *storagev1.Prepared) error {
	// Legs on one account in one direction add up, as if each leg's hold
	// were placed before the next is checked.
	type side struct {
		number    string
		direction Direction
	}
	before := map[side]int64{}
	for _, l := range p.GetLegs() {
		h := Hold{TxID: id, Attempt: attempt, Number: l.GetNumber(), Direction: l.GetDirection(), Amount: l.GetAmount()}
		at := side{h.Number, h.Direction}
		sum, ok := add(h.Amount, before[at])
		switch {
		case !ok && h.Direction == Debit: // more than any balance
			return fmt.Errorf("%w: %q cannot cover its legs", ErrInsufficientFunds, h.Number)
		case !ok:
			return fmt.Errorf("%w: %q", ErrBalanceOverflow, h.Number)
		case h.Amount > 0:
			h.Amount = sum
		}
		if err := tx.CheckHold(h); err != nil {
			return err
		}
		before[at] = h.Amount
	}
	p.HoldsPlaced = true
	return tx.emit(TypePrepared, id, attempt, p)
}

// PlaceHold reserves money for one leg of a prepared attempt, if CheckHold
// allows it: a HOLD_PLACED record, as a bank wrote after its PREPARED
// before Prepare placed the holds in the PREPARED record itself.
func (tx *Tx) PlaceHold(h Hold) error {
	if err := tx.CheckHold(h); err != nil {
		return err
	}
	return tx.emit(TypeHoldPlaced, h.TxID, h.Attempt, &storagev1.HoldPlaced{Number: h.Number, Amount: h.Amount, Direction: h.Direction})
}

// ReleaseHold removes a hold without posting it: the attempt was aborted.
func (tx *Tx) ReleaseHold(h Hold) error {
	return tx.emit(TypeHoldReleased, h.TxID, h.Attempt, &storagev1.HoldReleased{Number: h.Number, Amount: h.Amount, Direction: h.Direction})
}

// SettleHold removes a hold and posts its amount, in one SETTLED event: the
// attempt committed.
func (tx *Tx) SettleHold(h Hold, memo, counterparty string) error {
	a, err := tx.Account(h.Number)
	if err != nil {
		return err
	}
	e := &storagev1.Settled{
		Number: h.Number, Direction: h.Direction, Amount: h.Amount,
		Memo: memo, Counterparty: counterparty, TimeUnixNano: tx.now,
	}
	e.BalanceAfter = a.Balance + settledAmount(e)
	return tx.emit(TypeSettled, h.TxID, h.Attempt, e)
}

// Holds returns the holds of one attempt.
func (tx *Tx) Holds(id ulid.ULID, attempt uint32) ([]Hold, error) {
	var out []Hold
	prefix := attemptPrefix(id, attempt)
	c := tx.store.holds.Cursor()
	for k, v := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, v = c.Next() {
		h, err := holdFrom(k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// AllHolds returns every hold, grouped by attempt: the attempts a restarted
// participant is in doubt about.
func (tx *Tx) AllHolds() ([]Hold, error) {
	var out []Hold
	err := tx.store.holds.ForEach(func(k, v []byte) error {
		h, err := holdFrom(k, v)
		out = append(out, h)
		return err
	})
	return out, err
}

// HoldCount is how many holds and pending credits are open, counted
// without decoding them (for metrics).
func (tx *Tx) HoldCount() (int, error) {
	n := 0
	err := tx.store.holds.ForEach(func(_, _ []byte) error { n++; return nil })
	return n, err
}

func holdFrom(k, v []byte) (Hold, error) {
	p := &storagev1.HoldPlaced{}
	if err := proto.Unmarshal(v, p); err != nil {
		return Hold{}, err
	}
	key := parseHoldKey(k)
	return Hold{TxID: key.txID, Attempt: key.attempt, Number: key.number, Direction: p.Direction, Amount: p.Amount}, nil
}

// Entries returns up to limit posted entries of an account, newest first,
// with sequence numbers below before (0: from the newest).
func (tx *Tx) Entries(number string, before uint64, limit int) ([]Entry, error) {
	a, err := tx.state(number)
	if err != nil {
		return nil, err
	}
	seqs, err := tx.store.entrySeqs(a, before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(seqs))
	for _, seq := range seqs {
		e, err := tx.entry(seq)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// entry reads the DEPOSITED, POSTED or SETTLED record behind an entry.
func (tx *Tx) entry(seq uint64) (Entry, error) {
	r, err := tx.wal.Get(seq)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Seq: seq, TxID: r.TxID, Attempt: r.Attempt}
	switch r.Type {
	case TypeDeposited:
		d, err := decode(r, nil, &storagev1.Deposited{})
		e.Number, e.Kind, e.Amount, e.BalanceAfter, e.Time = d.Number, strifev1.EntryKind_ENTRY_KIND_DEPOSIT, d.Amount, d.BalanceAfter, unixNano(d.TimeUnixNano)
		return e, err
	case TypePosted:
		p, err := decode(r, nil, &storagev1.Posted{})
		e.Number, e.Amount, e.BalanceAfter, e.Time = p.Number, p.Amount, p.BalanceAfter, unixNano(p.TimeUnixNano)
		e.Memo, e.Counterparty, e.Kind = p.Memo, p.Counterparty, postingKind(p.Amount)
		return e, err
	case TypeSettled:
		p, err := decode(r, nil, &storagev1.Settled{})
		e.Number, e.Amount, e.BalanceAfter, e.Time = p.Number, settledAmount(p), p.BalanceAfter, unixNano(p.TimeUnixNano)
		e.Memo, e.Counterparty, e.Kind = p.Memo, p.Counterparty, postingKind(e.Amount)
		return e, err
	}
	return Entry{}, fmt.Errorf("%w: entry %d is a %v record", ErrInconsistent, seq, r.Type)
}

func postingKind(amount int64) strifev1.EntryKind {
	if amount < 0 {
		return strifev1.EntryKind_ENTRY_KIND_DEBIT
	}
	return strifev1.EntryKind_ENTRY_KIND_CREDIT
}

func unixNano(n int64) time.Time { return time.Unix(0, n).UTC() }
