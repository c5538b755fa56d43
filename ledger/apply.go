package ledger

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// apply folds one record into the projection: its event is ev, or, if ev is
// nil, decoded from the payload (emit passes the event it just encoded, so
// the live path does not decode what it encoded). It is the only code that
// changes the projection, for the live ledger and for Replay alike, so a
// replayed projection is the live one by construction. The 2PC records
// leave it alone (COMMITTED, ABORTED), except a PREPARED that places its
// attempt's holds (holds_placed), which is folded as its HOLD_PLACED
// records would be.
//
// apply re-checks every invariant an event relies on and returns an error
// wrapping ErrInconsistent if one fails: the ledger's operations check first
// and never emit such an event, so a failure here means a damaged log or a
// bug, and must stop the write rather than be folded in.
func apply(s store, r wal.Record, ev proto.Message) error {
	var err error
	switch r.Type {
	case TypeAccountOpened:
		err = applyOpened(s, r, ev)
	case TypeAccountUpdated:
		err = applyUpdated(s, r, ev)
	case TypeDeposited:
		err = applyDeposited(s, r, ev)
	case TypePrepared:
		err = applyPrepared(s, r, ev)
	case TypeHoldPlaced:
		err = applyHoldPlaced(s, r, ev)
	case TypeHoldReleased:
		err = applyHoldReleased(s, r, ev)
	case TypePosted:
		err = applyPosted(s, r, ev)
	case TypeSettled:
		err = applySettled(s, r, ev)
	}
	if err != nil {
		return fmt.Errorf("%w: seq %d (%v): %w", ErrInconsistent, r.Seq, r.Type, err)
	}
	return nil
}

// decode returns the record's event: ev if it is one of type M, otherwise m
// filled from the payload.
func decode[M proto.Message](r wal.Record, ev proto.Message, m M) (M, error) {
	if e, ok := ev.(M); ok {
		return e, nil
	}
	return m, proto.Unmarshal(r.Payload, m)
}

func mustAccount(s store, number string) (*storagev1.AccountState, error) {
	a, err := s.account(number)
	if err == nil && a == nil {
		err = fmt.Errorf("account %q does not exist", number)
	}
	return a, err
}

func applyOpened(s store, r wal.Record, ev proto.Message) error {
	e, err := decode(r, ev, &storagev1.AccountOpened{})
	if err != nil {
		return err
	}
	if a, err := s.account(e.Number); err != nil || a != nil {
		return fmt.Errorf("account %q opened twice (%v)", e.Number, err)
	}
	return s.putAccount(&storagev1.AccountState{
		Number: e.Number, Owner: e.Owner, Status: Open, OpenedUnixNano: e.TimeUnixNano,
	})
}

func applyUpdated(s store, r wal.Record, ev proto.Message) error {
	e, err := decode(r, ev, &storagev1.AccountUpdated{})
	if err != nil {
		return err
	}
	a, err := mustAccount(s, e.Number)
	if err != nil {
		return err
	}
	if e.Status == Closed && (a.Held != 0 || a.PendingCredits != 0) {
		return fmt.Errorf("account %q closed with holds", e.Number)
	}
	a.Owner, a.Status = e.Owner, e.Status
	return s.putAccount(a)
}

func applyDeposited(s store, r wal.Record, ev proto.Message) error {
	e, err := decode(r, ev, &storagev1.Deposited{})
	if err != nil {
		return err
	}
	return post(s, r.Seq, e.Number, e.Amount, e.BalanceAfter)
}

func applyPosted(s store, r wal.Record, ev proto.Message) error {
	e, err := decode(r, ev, &storagev1.Posted{})
	if err != nil {
		return err
	}
	return post(s, r.Seq, e.Number, e.Amount, e.BalanceAfter)
}

// post changes a posted balance by amount and indexes the entry.
func post(s store, seq uint64, number string, amount, balanceAfter int64) error {
	a, err := mustAccount(s, number)
	if err != nil {
		return err
	}
	return postTo(s, a, seq, amount, balanceAfter)
}

// postTo changes the posted balance of a by amount, indexes the entry seq
// and puts a.
func postTo(s store, a *storagev1.AccountState, seq uint64, amount, balanceAfter int64) error {
	if err := changeBalance(a, amount, balanceAfter); err != nil {
		return err
	}
	if err := s.addEntry(a, seq); err != nil {
		return err
	}
	return s.putAccount(a)
}

// changeBalance adds amount to the posted balance of a. The event states the
// balance it expects afterwards, which catches a log replayed out of order.
func changeBalance(a *storagev1.AccountState, amount, balanceAfter int64) error {
	sum, ok := add(a.Balance, amount)
	switch {
	case !ok:
		return fmt.Errorf("balance of %q overflows", a.Number)
	case sum != balanceAfter:
		return fmt.Errorf("balance of %q would be %d, event says %d", a.Number, sum, balanceAfter)
	case sum-a.Held < 0:
		return fmt.Errorf("available balance of %q would be %d", a.Number, sum-a.Held)
	}
	a.Balance = sum
	return nil
}

// applyHoldPlaced places a hold of a positive amount: settling any other
// would post the opposite of its direction.
// applyPrepared places the holds of a PREPARED record that says it
// places them (holds_placed); an older PREPARED, whose holds follow it in
// HOLD_PLACED records, changes nothing.
func applyPrepared(s store, r wal.Record, ev proto.Message) error {
	e, err := decode(r, ev, &storagev1.Prepared{})
	if err != nil || !e.GetHoldsPlaced() {
		return err
	}
	for _, l := range e.GetLegs() {
		if err := placeHold(s, r, &storagev1.HoldPlaced{Number: l.GetNumber(), Amount: l.GetAmount(), Direction: l.GetDirection()}); err != nil {
			return err
		}
	}
	return nil
}

func applyHoldPlaced(s store, r wal.Record, ev proto.Message) error {
	e, err := decode(r, ev, &storagev1.HoldPlaced{})
	if err != nil {
		return err
	}
	return placeHold(s, r, e)
}

// placeHold places the hold e of record r's attempt.
func placeHold(s store, r wal.Record, e *storagev1.HoldPlaced) error {
	if e.Amount <= 0 {
		return fmt.Errorf("hold on %q has amount %d", e.Number, e.Amount)
	}
	a, err := mustAccount(s, e.Number)
	if err != nil {
		return err
	}
	k := holdKey{r.TxID, r.Attempt, e.Number}
	if h, err := s.hold(k); err != nil || h != nil {
		return fmt.Errorf("hold on %q placed twice (%v)", e.Number, err)
	}
	if err := changeHeld(a, e.Direction, e.Amount); err != nil {
		return err
	}
	if err := s.putAccount(a); err != nil {
		return err
	}
	return s.putHold(k, e)
}

func applyHoldReleased(s store, r wal.Record, ev proto.Message) error {
	e, err := decode(r, ev, &storagev1.HoldReleased{})
	if err != nil {
		return err
	}
	k := holdKey{r.TxID, r.Attempt, e.Number}
	a, err := release(s, k, e.Amount, e.Direction)
	if err != nil {
		return err
	}
	if err := s.putAccount(a); err != nil {
		return err
	}
	return s.deleteHold(k)
}

// applySettled folds a SETTLED as applyHoldReleased then applyPosted would
// fold the two events it replaces, with the same checks in the same order,
// but puts the account once. The sign of the posting comes from the
// direction; release makes sure the amount is that of a hold placed, so it
// is positive.
func applySettled(s store, r wal.Record, ev proto.Message) error {
	e, err := decode(r, ev, &storagev1.Settled{})
	if err != nil {
		return err
	}
	k := holdKey{r.TxID, r.Attempt, e.Number}
	a, err := release(s, k, e.Amount, e.Direction)
	if err != nil {
		return err
	}
	if err := postTo(s, a, r.Seq, settledAmount(e), e.BalanceAfter); err != nil {
		return err
	}
	return s.deleteHold(k)
}

// release checks that the hold k exists as the event repeats it and returns
// its account without it, for the caller to change further and put.
func release(s store, k holdKey, amount int64, dir Direction) (*storagev1.AccountState, error) {
	h, err := s.hold(k)
	if err != nil {
		return nil, err
	}
	if h == nil || h.Amount != amount || h.Direction != dir {
		return nil, fmt.Errorf("released hold on %q does not match the hold placed (%v)", k.number, h)
	}
	a, err := mustAccount(s, k.number)
	if err != nil {
		return nil, err
	}
	return a, changeHeld(a, dir, -amount)
}

// settledAmount is the signed amount a SETTLED event posts: its hold's
// amount, negative for a debit.
func settledAmount(e *storagev1.Settled) int64 {
	if e.Direction == Debit {
		return -e.Amount
	}
	return e.Amount
}

// changeHeld adds delta to the debit holds or the pending credits of a.
func changeHeld(a *storagev1.AccountState, dir Direction, delta int64) error {
	switch dir {
	case Debit:
		a.Held += delta
		if a.Held < 0 || a.Balance-a.Held < 0 {
			return fmt.Errorf("holds on %q would be %d against a balance of %d", a.Number, a.Held, a.Balance)
		}
	case Credit:
		sum, ok := add(a.PendingCredits, delta)
		if total, fits := add(a.Balance, sum); !ok || !fits || sum < 0 {
			return fmt.Errorf("pending credits on %q would be %d against a balance of %d (%d)", a.Number, sum, a.Balance, total)
		}
		a.PendingCredits = sum
	default:
		return fmt.Errorf("hold on %q has direction %v", a.Number, dir)
	}
	return nil
}

// add returns a+b and whether it did not overflow.
func add(a, b int64) (int64, bool) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, false
	}
	return a + b, true
}
