package recovery

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// Kind is what a data file belongs to.
type Kind string

const (
	Bank    Kind = "bank"
	Gateway Kind = "gateway"
)

// ErrUnusable wraps every reason a file cannot be checked at all.
var ErrUnusable = errors.New("unusable input")

// Detect tells a bank's ledger from the gateway's log by their buckets.
func Detect(tx *wal.Tx) (Kind, error) {
	has := func(name string) bool { b, _ := tx.Bucket(name); return b != nil }
	switch {
	case ledger.Kept(tx):
		return Bank, nil
	case has(coordinator.PaymentsBucket) || has(coordinator.OpenBucket) || has(users.UsersBucket):
		return Gateway, nil
	}
	return "", fmt.Errorf("%w: %w (no bank or gateway projection)", ErrUnusable, wal.ErrNotLog)
}

// NameOf is the daemon name a file belongs to: its base name without ".db".
func NameOf(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".db")
}

// InDoubt is an attempt whose outcome is not settled everywhere.
type InDoubt struct {
	TxID        ulid.ULID `json:"tx_id"`
	Attempt     uint32    `json:"attempt"`
	State       string    `json:"state"`
	Coordinator string    `json:"coordinator,omitempty"`
	Banks       []string  `json:"banks,omitempty"`
	Since       time.Time `json:"since"`
	Age         string    `json:"age"`
}

// attemptKey names one attempt of one transaction.
type attemptKey struct {
	id      ulid.ULID
	attempt uint32
}

func (k attemptKey) String() string { return fmt.Sprintf("%s/%d", k.id, k.attempt) }

// Report is what check found in one file.
type Report struct {
	Path        string    `json:"path"`
	Kind        Kind      `json:"kind"`
	Name        string    `json:"name"`
	Records     uint64    `json:"records"`
	Differences []string  `json:"differences"`
	InDoubt     []InDoubt `json:"in_doubt"`
	// Warnings are damage bbolt works around (one bad meta page): the
	// file is still served, and its next commit repairs it.
	Warnings []string `json:"warnings"`

	// For the cross-check.
	committed map[attemptKey]bool                // bank: attempts with a COMMITTED record
	aborted   map[attemptKey]bool                // bank: attempts with an ABORTED record
	decided   map[attemptKey]coordinator.Payment // gateway: COMMIT decisions, with the payment at that point
}

// Check checks one open log.
func Check(l *wal.Log, path string, now time.Time) (*Report, error) {
	r := &Report{Path: path, Name: NameOf(path), Differences: []string{}, InDoubt: []InDoubt{}, Warnings: []string{}}
	r.Warnings = append(r.Warnings, l.Warnings()...)
	err := l.View(func(tx *wal.Tx) error {
		k, err := Detect(tx)
		r.Kind, r.Records = k, tx.LastSeq()
		if err != nil {
			return err
		}
		return tx.Verify()
	})
	if errors.Is(err, wal.ErrCorrupt) || errors.Is(err, wal.ErrUnknownType) {
		return nil, fmt.Errorf("%w: the log cannot be read completely: %w", ErrUnusable, err)
	}
	if err != nil {
		return nil, err
	}
	switch r.Kind {
	case Bank:
		err = checkBank(l, r, now)
	case Gateway:
		err = checkGateway(l, r, now)
	}
	if errors.Is(err, wal.ErrCorrupt) || errors.Is(err, wal.ErrUnknownType) {
		return nil, fmt.Errorf("%w: the log cannot be read completely: %w", ErrUnusable, err)
	}
	return r, err
}

// problems splits an error that lists discrepancies one per line.
func problems(err error, sentinel error) ([]string, error) {
	if err == nil {
		return nil, nil
	}
	if !errors.Is(err, sentinel) {
		return nil, err
	}
	var out []string
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > 1 {
		lines = lines[1:] // the first line is the sentinel's
	}
	for _, line := range lines {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out, nil
}

func checkBank(l *wal.Log, r *Report, now time.Time) error {
	diffs, err := problems(ledger.Attach(l).Verify(), ledger.ErrInconsistent)
	if err != nil {
		return err
	}
	r.Differences = append(r.Differences, diffs...)
	attempts := map[attemptKey]*ledger.Attempt{}
	var order []attemptKey
	err = l.View(func(tx *wal.Tx) error {
		return tx.Scan(1, func(rec wal.Record) error {
			if !ledger.Is2PC(rec.Type) {
				return nil
			}
			k := attemptKey{rec.TxID, rec.Attempt}
			a := attempts[k]
			if a == nil {
				a = &ledger.Attempt{}
				attempts[k] = a
				order = append(order, k)
			}
			if rec.Type == ledger.TypeAborted && a.Last == ledger.TypeCommitted || rec.Type == ledger.TypeCommitted && a.Last == ledger.TypeAborted {
				r.Differences = append(r.Differences, fmt.Sprintf("attempt %s is both COMMITTED and ABORTED (record %d)", k, rec.Seq))
			}
			if err := a.Add(rec); err != nil {
				return fmt.Errorf("%w: record %d: %w", wal.ErrCorrupt, rec.Seq, err)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	r.committed, r.aborted = map[attemptKey]bool{}, map[attemptKey]bool{}
	for _, k := range order {
		a := attempts[k]
		switch a.Last {
		case ledger.TypeCommitted:
			r.committed[k] = true
		case ledger.TypeAborted:
			r.aborted[k] = true
		case ledger.TypePrepared:
			since := time.Unix(0, a.Prepared.GetTimeUnixNano()).UTC()
			r.InDoubt = append(r.InDoubt, InDoubt{
				TxID: k.id, Attempt: k.attempt, State: "prepared, no decision",
				Coordinator: a.Prepared.GetCoordinator(), Banks: []string{r.Name},
				Since: since, Age: now.Sub(since).Round(time.Second).String(),
			})
		}
	}
	return nil
}

func checkGateway(l *wal.Log, r *Report, now time.Time) error {
	err := l.View(func(tx *wal.Tx) error {
		b, diffs, err := coordinator.VerifyTx(tx)
		if err != nil {
			return err
		}
		r.Differences = append(r.Differences, diffs...)
		r.decided = map[attemptKey]coordinator.Payment{}
		for k, p := range b.Decided {
			r.decided[attemptKey{k.TxID, k.Attempt}] = p
		}
		for _, id := range b.Order {
			if p := b.Payments[id]; p.Attempt != 0 && !p.Ended {
				r.InDoubt = append(r.InDoubt, paymentInDoubt(p, r.Name, now))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	diffs, err := problems(users.New(l).Verify(), users.ErrInconsistent)
	if err != nil {
		return err
	}
	r.Differences = append(r.Differences, diffs...)
	return nil
}

// paymentInDoubt describes a payment whose attempt has not ended, as of its
// latest record.
func paymentInDoubt(p coordinator.Payment, coordinatorName string, now time.Time) InDoubt {
	var state string
	switch {
	case p.Decision != coordinator.DecisionNone:
		state = fmt.Sprintf("decided %v, not ended (in phase 2)", p.Decision)
	case p.Staged:
		state = "staged, no decision: the gateway asks its banks at its next start (status resolution)"
	default:
		state = "begun, no decision: the gateway aborts it at its next start"
	}
	return InDoubt{
		TxID: p.ID, Attempt: p.Attempt, State: state, Coordinator: coordinatorName, Banks: p.Participants(),
		Since: p.Updated, Age: now.Sub(p.Updated).Round(time.Second).String(),
	}
}

// CrossCheck compares the gateway's decisions with the banks' records.
// It returns the problems and the attempts still in phase 2.
func CrossCheck(reports []*Report) (problems, phase2 []string) {
	banks := map[string]*Report{}
	var gateways []*Report
	for _, r := range reports {
		switch r.Kind {
		case Bank:
			banks[r.Name] = r
		case Gateway:
			gateways = append(gateways, r)
		}
	}
	if len(gateways) == 0 || len(banks) == 0 {
		return nil, nil
	}
	decided := map[attemptKey]bool{}
	for _, g := range gateways {
		keys := slices.SortedFunc(maps.Keys(g.decided), func(a, b attemptKey) int {
			if c := a.id.Compare(b.id); c != 0 {
				return c
			}
			return int(a.attempt) - int(b.attempt)
		})
		for _, k := range keys {
			decided[k] = true
			p := g.decided[k]
			for _, name := range p.Participants() {
				bank, given := banks[name]
				if !given || bank.committed[k] {
					continue
				}
				if bank.aborted[k] {
					problems = append(problems, fmt.Sprintf("%s: gateway %s decided COMMIT, but %s aborted the attempt", k, g.Name, name))
					continue
				}
				if !endedAfter(g, k) {
					phase2 = append(phase2, fmt.Sprintf("%s: gateway %s decided COMMIT, %s has not committed yet: in phase 2", k, g.Name, name))
					continue
				}
				problems = append(problems, fmt.Sprintf("%s: gateway %s decided COMMIT and ended the attempt, but %s has no COMMITTED record", k, g.Name, name))
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(banks)) {
		for k := range banks[n].committed {
			if !decided[k] {
				problems = append(problems, fmt.Sprintf("%s: %s has a COMMITTED record, but no gateway file given decided COMMIT", k, n))
			}
		}
	}
	slices.Sort(problems)
	return problems, phase2
}

// endedAfter reports whether the gateway recorded the end of attempt k.
func endedAfter(g *Report, k attemptKey) bool {
	for _, d := range g.InDoubt {
		if d.TxID == k.id && d.Attempt == k.attempt {
			return false
		}
	}
	return true
}
