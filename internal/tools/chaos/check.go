package chaos

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/strife-pay/strife/internal/tools/recovery"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// Invariant is one check of the end state and what it found.
type Invariant struct {
	Name string
	// Violations counts what breaks it (payments, accounts, files); zero
	// means it holds.
	Violations int
	// Checked counts what was checked, for the summary.
	Checked int
	// Examples are up to maxExamples of the violations, one a line.
	Examples []string
}

// OK reports whether the invariant holds.
func (inv Invariant) OK() bool { return inv.Violations == 0 }

const maxExamples = 10

func (inv *Invariant) violate(format string, args ...any) {
	inv.Violations++
	if len(inv.Examples) < maxExamples {
		inv.Examples = append(inv.Examples, fmt.Sprintf(format, args...))
	}
}

// posting is one entry of a payment at a bank: a signed amount on an
// account, "<bank>/<number>".
type posting struct {
	account string
	amount  int64
}

// bankState is what the check reads from the banks' files.
type bankState struct {
	// postings of each transaction ID, from the accounts' entries.
	postings map[ulid.ULID][]posting
	// unknown lists the IDs of records whose ID the workload never sent.
	unknown map[ulid.ULID]string // ID → where it was seen
	// balance, held and pending by account.
	balance, held, pending map[string]int64
}

// readBanks reads every account of accounts (by "<bank>/<number>") and
// its entries, and every record's ID, from the banks' files, opened
// read-only as strife-inspect opens them. The daemons must be stopped.
func readBanks(files map[string]string, accounts []string, sent map[ulid.ULID]bool) (*bankState, error) {
	s := &bankState{postings: map[ulid.ULID][]posting{}, unknown: map[ulid.ULID]string{},
		balance: map[string]int64{}, held: map[string]int64{}, pending: map[string]int64{}}
	for bank, path := range files {
		var numbers []string
		for _, a := range accounts {
			if b, n, _ := users.Split(a); b == bank {
				numbers = append(numbers, n)
			}
		}
		if err := s.readBank(bank, path, numbers, sent); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *bankState) readBank(bank, path string, numbers []string, sent map[ulid.ULID]bool) error {
	l, err := wal.OpenReadOnly(path, 5*time.Second)
	if err != nil {
		return fmt.Errorf("chaos: %s: %w", path, err)
	}
	defer l.Close()
	err = ledger.Attach(l).View(func(tx *ledger.Tx) error {
		for _, n := range numbers {
			if err := s.readAccount(tx, bank, n); err != nil {
				return err
			}
		}
		return tx.Log().Scan(1, func(r wal.Record) error {
			if r.TxID != (ulid.ULID{}) && !sent[r.TxID] {
				s.unknown[r.TxID] = fmt.Sprintf("%s record %d (%v)", bank, r.Seq, r.Type)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("chaos: reading %s: %w", path, err)
	}
	return nil
}

func (s *bankState) readAccount(tx *ledger.Tx, bank, number string) error {
	account := bank + "/" + number
	a, err := tx.Account(number)
	if err != nil {
		return fmt.Errorf("account %s: %w", account, err)
	}
	s.balance[account], s.held[account], s.pending[account] = a.Balance, a.Held, a.Pending
	const page = 1000
	for before := uint64(0); ; {
		entries, err := tx.Entries(number, before, page)
		if err != nil {
			return fmt.Errorf("entries of %s: %w", account, err)
		}
		for _, e := range entries {
			before = e.Seq
			if e.TxID != (ulid.ULID{}) {
				s.postings[e.TxID] = append(s.postings[e.TxID], posting{account, e.Amount})
			}
		}
		if len(entries) < page {
			return nil
		}
	}
}

// check judges the end state: the payments as the workload recorded them,
// the banks' files, and the gateway's file with them (strife-recover
// check). openings is each account's opening balance.
func check(payments []payment, openings map[string]int64, bankFiles map[string]string, gatewayFile string) ([]Invariant, string, error) {
	sent := map[ulid.ULID]bool{}
	for _, p := range payments {
		sent[p.id] = true
	}
	accounts := slices.Sorted(maps.Keys(openings))
	s, err := readBanks(bankFiles, accounts, sent)
	if err != nil {
		return nil, "", err
	}
	invs := []Invariant{
		committedOnce(payments, s),
		nothingMoved(payments, s),
		wholeOrNothing(payments, s),
		noneUnsent(s),
		moneyUnchanged(openings, s),
		noHolds(accounts, s),
		noPending(payments),
	}
	recover, out := recoverCheck(gatewayFile, bankFiles)
	return append(invs, recover), out, nil
}

// exactly reports whether got is the debit and the credit of p, once each.
func exactly(p payment, got []posting) bool {
	if len(got) != 2 {
		return false
	}
	want := []posting{{p.from, -p.amount}, {p.to, p.amount}}
	return slices.Contains(got, want[0]) && slices.Contains(got, want[1])
}

func committedOnce(payments []payment, s *bankState) Invariant {
	inv := Invariant{Name: "every COMMITTED payment debited once and credited once, for its amount"}
	for _, p := range payments {
		if p.final != Committed {
			continue
		}
		inv.Checked++
		if got := s.postings[p.id]; !exactly(p, got) {
			inv.violate("%s %s→%s %d: entries %v", p.id, p.from, p.to, p.amount, got)
		}
	}
	return inv
}

func nothingMoved(payments []payment, s *bankState) Invariant {
	inv := Invariant{Name: "nothing moved for a FAILED or REJECTED payment"}
	for _, p := range payments {
		if p.final != Failed && p.final != Rejected {
			continue
		}
		inv.Checked++
		if got := s.postings[p.id]; len(got) > 0 {
			inv.violate("%s %s (%s): entries %v", p.id, p.final, p.reason, got)
		}
	}
	return inv
}

func wholeOrNothing(payments []payment, s *bankState) Invariant {
	inv := Invariant{Name: "a payment never answered moved wholly or not at all"}
	for _, p := range payments {
		if p.final != "" {
			continue
		}
		inv.Checked++
		if got := s.postings[p.id]; len(got) > 0 && !exactly(p, got) {
			inv.violate("%s %s→%s %d: entries %v", p.id, p.from, p.to, p.amount, got)
		}
	}
	return inv
}

func noneUnsent(s *bankState) Invariant {
	inv := Invariant{Name: "no entry or record for an ID never sent"}
	for _, id := range slices.SortedFunc(maps.Keys(s.unknown), ulid.ULID.Compare) {
		inv.violate("%s: %s", id, s.unknown[id])
	}
	inv.Checked = len(s.postings)
	return inv
}

func moneyUnchanged(openings map[string]int64, s *bankState) Invariant {
	inv := Invariant{Name: "total money unchanged", Checked: len(openings)}
	var want, got int64
	for a, o := range openings {
		want += o
		got += s.balance[a]
	}
	if got != want {
		inv.violate("balances add up to %d, the opening balances to %d (%+d)", got, want, got-want)
	}
	return inv
}

func noHolds(accounts []string, s *bankState) Invariant {
	inv := Invariant{Name: "no hold or pending credit left", Checked: len(accounts)}
	for _, a := range accounts {
		if s.held[a] != 0 || s.pending[a] != 0 {
			inv.violate("%s: held %d, pending credits %d", a, s.held[a], s.pending[a])
		}
	}
	return inv
}

func noPending(payments []payment) Invariant {
	inv := Invariant{Name: "no payment without a final answer after the settle time", Checked: len(payments)}
	for _, p := range payments {
		if p.final == "" {
			inv.violate("%s %s→%s %d, sent %d times", p.id, p.from, p.to, p.amount, p.sends)
		}
	}
	return inv
}

// recoverCheck runs strife-recover check on the gateway's file and the
// banks' together (with its cross-check of decisions against the banks'
// records) and returns its verdict and its output.
func recoverCheck(gatewayFile string, bankFiles map[string]string) (Invariant, string) {
	files := []string{gatewayFile}
	for _, bank := range slices.Sorted(maps.Keys(bankFiles)) {
		files = append(files, bankFiles[bank])
	}
	inv := Invariant{Name: "strife-recover check exits 0 on every file", Checked: len(files)}
	var out bytes.Buffer
	if code := recovery.Run(&out, &out, files, recovery.Options{Timeout: 5 * time.Second}); code != 0 {
		inv.violate("exit status %d (its output is in the run directory, recover-check.txt)", code)
	}
	return inv, out.String()
}
