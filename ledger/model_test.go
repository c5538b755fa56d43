package ledger_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/ledger"
)

// model is the ledger's meaning in a few maps: what every operation should
// do, with none of the log, projection or bbolt machinery.
type model struct {
	accounts map[string]*ledger.Account
	holds    map[string][]ledger.Hold // by attempt
}

func attemptKey(id ulid.ULID, attempt uint32) string { return fmt.Sprint(id, "/", attempt) }

func (m *model) open(number, owner string, opening int64) error {
	if a, ok := m.accounts[number]; ok {
		if a.Owner != owner {
			return ledger.ErrAccountExists
		}
		return nil
	}
	m.accounts[number] = &ledger.Account{Number: number, Owner: owner, Status: ledger.Open, Balance: opening}
	return nil
}

func (m *model) setStatus(number string, closed bool) error {
	a, ok := m.accounts[number]
	switch {
	case !ok:
		return ledger.ErrAccountNotFound
	case closed && (a.Held != 0 || a.Pending != 0):
		return ledger.ErrAccountBusy
	case closed:
		a.Status = ledger.Closed
	default:
		a.Status = ledger.Open
	}
	return nil
}

// prepare applies all holds or, if one fails, none.
func (m *model) prepare(holds []ledger.Hold) error {
	saved := map[string]ledger.Account{}
	for n, a := range m.accounts {
		saved[n] = *a
	}
	for _, h := range holds {
		if err := m.place(h); err != nil {
			for n, a := range saved {
				*m.accounts[n] = a
			}
			return err
		}
	}
	m.holds[attemptKey(holds[0].TxID, holds[0].Attempt)] = holds
	return nil
}

func (m *model) place(h ledger.Hold) error {
	a, ok := m.accounts[h.Number]
	switch {
	case !ok:
		return ledger.ErrAccountNotFound
	case a.Status != ledger.Open:
		return ledger.ErrAccountClosed
	case h.Direction == ledger.Debit && a.Balance-a.Held < h.Amount:
		return ledger.ErrInsufficientFunds
	case h.Direction == ledger.Credit && h.Amount > math.MaxInt64-a.Balance-a.Pending:
		return ledger.ErrBalanceOverflow
	case h.Direction == ledger.Debit:
		a.Held += h.Amount
	default:
		a.Pending += h.Amount
	}
	return nil
}

func (m *model) decide(key string, commit bool) {
	for _, h := range m.holds[key] {
		a := m.accounts[h.Number]
		if h.Direction == ledger.Debit {
			a.Held -= h.Amount
			if commit {
				a.Balance -= h.Amount
			}
		} else {
			a.Pending -= h.Amount
			if commit {
				a.Balance += h.Amount
			}
		}
	}
	delete(m.holds, key)
}

// TestLedgerAgreesWithModel runs random operations against the ledger and
// the model and compares every answer and every account after each step.
// Now and then it reopens the file or replays the projection from the log,
// which must change nothing.
func TestLedgerAgreesWithModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			runModel(t, mrand.New(mrand.NewPCG(seed, 42)), 400)
		})
	}
}

func runModel(t *testing.T, rng *mrand.Rand, steps int) {
	tl := newLedger(t)
	m := &model{accounts: map[string]*ledger.Account{}, holds: map[string][]ledger.Hold{}}
	numbers := []string{"1001", "1002", "1003", "1004", "1005"}
	pick := func() string { return numbers[rng.IntN(len(numbers))] }
	amount := func() int64 {
		if rng.IntN(20) == 0 {
			return math.MaxInt64 - rng.Int64N(10) // overflow territory
		}
		return 1 + rng.Int64N(400)
	}
	for step := range steps {
		var want, got error
		var what string
		switch op := rng.IntN(10); {
		case op < 2:
			n, owner, opening := pick(), []string{"ann", "ben"}[rng.IntN(2)], rng.Int64N(1000)
			what = fmt.Sprintf("open %s %s %d", n, owner, opening)
			want = m.open(n, owner, opening)
			got = tl.Update(func(tx *ledger.Tx) error { _, _, err := tx.OpenAccount(n, owner, opening); return err })
		case op < 6:
			holds := randomHolds(rng, pick, amount)
			what = fmt.Sprintf("prepare %+v", holds)
			want, got = m.prepare(holds), tl.prepare(holds...)
		case op < 9 && len(m.holds) > 0:
			key, h := anyAttempt(rng, m)
			commit := rng.IntN(2) == 0
			what = fmt.Sprintf("decide %s commit=%v", key, commit)
			m.decide(key, commit)
			got = tl.decide(h.TxID, h.Attempt, commit)
		case op == 9:
			n, closed := pick(), rng.IntN(2) == 0
			what = fmt.Sprintf("set %s closed=%v", n, closed)
			want = m.setStatus(n, closed)
			got = tl.Update(func(tx *ledger.Tx) error {
				s := ledger.Open
				if closed {
					s = ledger.Closed
				}
				_, err := tx.UpdateAccount(n, "", s)
				return err
			})
		default:
			if rng.IntN(2) == 0 {
				what = "reopen"
				tl.reopen(t)
			} else {
				what = "replay"
				got = tl.Replay()
			}
		}
		require.Truef(t, sameError(want, got), "step %d %s: model says %v, ledger says %v", step, what, want, got)
		compareAccounts(t, tl, m, step, what)
	}
}

func randomHolds(rng *mrand.Rand, pick func() string, amount func() int64) []ledger.Hold {
	id := ulid.MustNew(ulid.Now(), rand.Reader)
	attempt := 1 + uint32(rng.IntN(3))
	first := ledger.Hold{TxID: id, Attempt: attempt, Number: pick(), Direction: ledger.Debit, Amount: amount()}
	if rng.IntN(2) == 0 {
		first.Direction = ledger.Credit
	}
	holds := []ledger.Hold{first}
	if second := pick(); second != first.Number && rng.IntN(2) == 0 {
		other := map[ledger.Direction]ledger.Direction{ledger.Debit: ledger.Credit, ledger.Credit: ledger.Debit}[first.Direction]
		holds = append(holds, ledger.Hold{TxID: id, Attempt: attempt, Number: second, Direction: other, Amount: first.Amount})
	}
	return holds
}

func anyAttempt(rng *mrand.Rand, m *model) (string, ledger.Hold) {
	i := rng.IntN(len(m.holds))
	for key, holds := range m.holds {
		if i == 0 {
			return key, holds[0]
		}
		i--
	}
	panic("unreachable")
}

func sameError(want, got error) bool {
	if want == nil || got == nil {
		return want == nil && got == nil
	}
	return errors.Is(got, want)
}

func compareAccounts(t *testing.T, tl *testLedger, m *model, step int, what string) {
	t.Helper()
	for n, want := range m.accounts {
		got := tl.account(t, n)
		require.Equalf(t, [5]any{want.Owner, want.Status, want.Balance, want.Held, want.Pending},
			[5]any{got.Owner, got.Status, got.Balance, got.Held, got.Pending}, "step %d after %s: account %s", step, what, n)
	}
}
