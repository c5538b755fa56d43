package ledger

import (
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"

	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// Replay rebuilds the projection from the log alone: it drops the projection
// buckets and folds every record back in, in one durable transaction. A
// record the projection cannot take stops it with ErrInconsistent, and the
// old projection stays.
func (l *Ledger) Replay() error { return l.log.Append(replay) }

// replay is Replay's transaction: it leaves the projection in the postings
// layout, whichever layout it found.
func replay(wtx *wal.Tx) error {
	for _, name := range projectionBuckets {
		if err := wtx.DeleteBucket(name); err != nil {
			return err
		}
	}
	s, err := openStore(wtx)
	if err != nil {
		return err
	}
	return wtx.Scan(1, func(r wal.Record) error { return apply(s, r, nil) })
}

// Verify rebuilds the projection from the log in memory, compares it with
// the stored one and checks the ledger's invariants:
//
//   - no account's available balance (posted minus debit holds) is negative;
//   - the sum of all balances equals all deposits plus all net postings;
//   - every hold belongs to an attempt whose last 2PC record is PREPARED,
//     and an account's holds add up to its held and pending amounts.
//
// It returns nil or an error wrapping ErrInconsistent that lists every
// discrepancy.
func (l *Ledger) Verify() error {
	return l.log.View(func(wtx *wal.Tx) error {
		stored, err := openStore(wtx)
		if err != nil {
			return err
		}
		have, problems, err := stored.load()
		if err != nil {
			return err
		}
		want, moved := newMemStore(), new(big.Int)
		err = wtx.Scan(1, func(r wal.Record) error {
			if err := addMovement(moved, r); err != nil {
				return err
			}
			return apply(want, r, nil)
		})
		if err != nil {
			return err
		}
		problems = append(problems, compareStores(have, want)...)
		problems = append(problems, checkBalances(have, moved)...)
		problems = append(problems, checkHolds(wtx, have)...)
		if len(problems) > 0 {
			return fmt.Errorf("%w:\n%w", ErrInconsistent, errors.Join(problems...))
		}
		return nil
	})
}

// addMovement adds the money a record brings in (see Movement).
func addMovement(total *big.Int, r wal.Record) error {
	deposited, posted, err := Movement(r)
	total.Add(total, big.NewInt(deposited))
	total.Add(total, big.NewInt(posted))
	return err
}

// Movement returns the money a record brings into a bank's balances: a
// DEPOSITED record's amount as deposited, a POSTED or SETTLED record's
// signed amount as posted, and zeros for every other record. An error means
// the payload does not decode.
func Movement(r wal.Record) (deposited, posted int64, err error) {
	switch r.Type {
	case TypeDeposited:
		d, err := decode(r, nil, &storagev1.Deposited{})
		return d.Amount, 0, err
	case TypePosted:
		p, err := decode(r, nil, &storagev1.Posted{})
		return 0, p.Amount, err
	case TypeSettled:
		s, err := decode(r, nil, &storagev1.Settled{})
		return 0, settledAmount(s), err
	}
	return 0, 0, nil
}

func compareStores(have, want *memStore) []error {
	var problems []error
	for _, n := range sortedKeys(have.accounts, want.accounts) {
		if !proto.Equal(have.accounts[n], want.accounts[n]) {
			problems = append(problems, fmt.Errorf("account %q is stored as {%v}, the log says {%v}", n, have.accounts[n], want.accounts[n]))
		}
	}
	for k := range merged(have.holds, want.holds) {
		if !proto.Equal(have.holds[k], want.holds[k]) {
			problems = append(problems, fmt.Errorf("hold %s/%d on %q is stored as {%v}, the log says {%v}", k.txID, k.attempt, k.number, have.holds[k], want.holds[k]))
		}
	}
	for _, n := range sortedKeys(have.entries, want.entries) {
		if !slices.Equal(have.entries[n], want.entries[n]) {
			problems = append(problems, fmt.Errorf("entries of %q are stored as %v, the log says %v", n, have.entries[n], want.entries[n]))
		}
	}
	return problems
}

func checkBalances(s *memStore, moved *big.Int) []error {
	var problems []error
	sum := new(big.Int)
	for _, n := range slices.Sorted(maps.Keys(s.accounts)) {
		a := s.accounts[n]
		sum.Add(sum, big.NewInt(a.Balance))
		if a.Balance-a.Held < 0 || a.Held < 0 || a.PendingCredits < 0 {
			problems = append(problems, fmt.Errorf("account %q: balance %d, held %d, pending %d", n, a.Balance, a.Held, a.PendingCredits))
		}
	}
	if sum.Cmp(moved) != 0 {
		problems = append(problems, fmt.Errorf("balances add up to %v, deposits and postings to %v", sum, moved))
	}
	return problems
}

func checkHolds(wtx *wal.Tx, s *memStore) []error {
	var problems []error
	held, pending := map[string]int64{}, map[string]int64{}
	for k, h := range s.holds {
		if h.Direction == Debit {
			held[k.number] += h.Amount
		} else {
			pending[k.number] += h.Amount
		}
		if state, err := lastDecision(wtx, k); err != nil || state != TypePrepared {
			problems = append(problems, fmt.Errorf("hold %s/%d on %q belongs to an attempt in state %v (%v)", k.txID, k.attempt, k.number, state, err))
		}
	}
	for n, a := range s.accounts {
		if a.Held != held[n] || a.PendingCredits != pending[n] {
			problems = append(problems, fmt.Errorf("account %q: held %d and pending %d, its holds add up to %d and %d", n, a.Held, a.PendingCredits, held[n], pending[n]))
		}
	}
	return problems
}

// lastDecision returns the type of the last 2PC record of a hold's attempt.
func lastDecision(wtx *wal.Tx, k holdKey) (wal.Type, error) {
	recs, err := wtx.Lookup(k.txID, k.attempt)
	if err != nil {
		return 0, err
	}
	a, err := FoldAttempt(recs)
	return a.Last, err
}

func sortedKeys[V any](a, b map[string]V) []string {
	return slices.Sorted(maps.Keys(merged(a, b)))
}

func merged[K comparable, V any](a, b map[K]V) map[K]bool {
	keys := map[K]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}
