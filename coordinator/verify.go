package coordinator

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// ErrInconsistent: the payments' projection disagrees with the log's
// records, or a payment's records cannot be folded (see Verify).
var ErrInconsistent = errors.New("coordinator: payments inconsistent with the log")

// AttemptID names one attempt of a payment.
type AttemptID struct {
	TxID    ulid.ULID
	Attempt uint32
}

func (k AttemptID) String() string { return fmt.Sprintf("%s/%d", k.TxID, k.Attempt) }

// Rebuilt is the gateway's payments as its log tells them: each payment
// folded up to its latest record (whose time is Payment.Updated).
type Rebuilt struct {
	Payments map[ulid.ULID]Payment
	Order    []ulid.ULID // in order of first record
	// Decided are the attempts decided COMMIT, with the payment as it was
	// at the decision: what the banks must have committed.
	Decided  map[AttemptID]Payment
	Epoch    uint32 // of the last EPOCH_BEGUN, if HasEpoch
	HasEpoch bool
}

// Verify rebuilds the payments from the log in memory and compares them
// with the stored projection (the open and payments buckets, and the
// epoch), as
// ledger.Verify does for a bank. It returns nil or an error wrapping
// ErrInconsistent that lists every discrepancy, one a line.
func Verify(log *wal.Log) error {
	return log.View(func(tx *wal.Tx) error {
		_, problems, err := VerifyTx(tx)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return fmt.Errorf("%w:\n%s", ErrInconsistent, strings.Join(problems, "\n"))
		}
		return nil
	})
}

// VerifyTx is Verify within tx, for tools that also want the payments the
// log tells (strife-recover lists those in doubt and cross-checks the
// decisions with the banks). problems are the discrepancies in words; err
// is a log that cannot be read.
func VerifyTx(tx *wal.Tx) (*Rebuilt, []string, error) {
	b, problems, err := rebuild(tx)
	if err != nil {
		return nil, nil, err
	}
	stored, bad, err := storedPayments(tx)
	if err != nil {
		return nil, nil, err
	}
	problems = append(problems, bad...)
	problems = append(problems, comparePayments(stored, b.Payments)...)
	problems = append(problems, compareOpen(tx, b.Payments)...)
	if e, ok := Epoch(tx); e != b.Epoch || ok != b.HasEpoch {
		problems = append(problems, fmt.Sprintf("the epoch is stored as %s, the log says %s", epochString(e, ok), epochString(b.Epoch, b.HasEpoch)))
	}
	return b, problems, nil
}

// rebuild folds the gateway's payment records per payment with
// Payment.Apply, going on past a payment whose records cannot be folded
// (to report every one).
func rebuild(tx *wal.Tx) (*Rebuilt, []string, error) {
	b := &Rebuilt{Payments: map[ulid.ULID]Payment{}, Decided: map[AttemptID]Payment{}}
	var problems []string
	broken := map[ulid.ULID]bool{}
	epoch := func(e uint32) error {
		b.Epoch, b.HasEpoch = e, true
		return nil
	}
	err := ScanLog(tx, epoch, func(rec wal.Record, r Record) error {
		if broken[rec.TxID] {
			return nil
		}
		p, seen := b.Payments[rec.TxID]
		if !seen {
			p = Payment{ID: rec.TxID}
			b.Order = append(b.Order, rec.TxID)
		}
		next, err := p.Apply([]Record{r})
		if err != nil {
			broken[rec.TxID] = true
			problems = append(problems, fmt.Sprintf("record %d (%v of payment %s) cannot be replayed: %v", rec.Seq, rec.Type, rec.TxID, err))
			return nil
		}
		b.Payments[rec.TxID] = next
		if rec.Type == TypeDecisionCommit {
			b.Decided[AttemptID{rec.TxID, rec.Attempt}] = next
		}
		return nil
	})
	return b, problems, err
}

// epochString is an epoch for an operator: "none" for a log without one.
func epochString(e uint32, ok bool) string {
	if !ok {
		return "none"
	}
	return fmt.Sprint(e)
}

// storedPayments reads the open and payments buckets, and describes the
// entries it cannot read, and a payment stored in both.
func storedPayments(tx *wal.Tx) (map[ulid.ULID]*storagev1.PaymentState, []string, error) {
	stored := map[ulid.ULID]*storagev1.PaymentState{}
	var problems []string
	for _, name := range []string{OpenBucket, PaymentsBucket} {
		bkt := tx.ExistingBucket(name)
		if bkt == nil {
			continue
		}
		err := bkt.ForEach(func(k, v []byte) error {
			var id ulid.ULID
			if len(k) != len(id) {
				problems = append(problems, fmt.Sprintf("%s has a key of %d bytes: %x", name, len(k), k))
				return nil
			}
			copy(id[:], k)
			if _, twice := stored[id]; twice {
				problems = append(problems, fmt.Sprintf("payment %s is stored both open and finished", id))
				return nil
			}
			s := &storagev1.PaymentState{}
			if err := proto.Unmarshal(v, s); err != nil {
				problems = append(problems, fmt.Sprintf("payment %s is stored unreadable: %v", id, err))
				return nil
			}
			if a := s.GetParams(); a.GetTimeUnixNano() == s.GetCreatedUnixNano() {
				a.TimeUnixNano = 0 // a state stored before issue 17 repeats the creation time there
			}
			stored[id] = s
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return stored, problems, nil
}

// comparePayments describes, in ID order, every payment stored otherwise
// than the log says, including those only one of them has.
func comparePayments(stored map[ulid.ULID]*storagev1.PaymentState, logged map[ulid.ULID]Payment) []string {
	var problems []string
	ids := slices.AppendSeq(slices.Collect(maps.Keys(stored)), maps.Keys(logged))
	slices.SortFunc(ids, func(a, b ulid.ULID) int { return a.Compare(b) })
	for _, id := range slices.Compact(ids) {
		have := stored[id]
		var want *storagev1.PaymentState
		if p, ok := logged[id]; ok {
			want = p.State()
		}
		if !proto.Equal(have, want) {
			problems = append(problems, fmt.Sprintf("payment %s is stored as {%v}, the log says {%v}", id, have, want))
		}
	}
	return problems
}

// compareOpen describes, in ID order, every payment stored in the wrong
// bucket, against what the log tells: an open payment must be in open, or
// a restart would not resume it, and a finished one in payments. A file
// without the open bucket (written before it existed) keeps every payment
// in payments: New moves the open ones.
func compareOpen(tx *wal.Tx, logged map[ulid.ULID]Payment) []string {
	openB := tx.ExistingBucket(OpenBucket)
	if openB == nil {
		return nil
	}
	var problems []string
	for _, id := range slices.SortedFunc(maps.Keys(logged), func(a, b ulid.ULID) int { return a.Compare(b) }) {
		inOpen := openB.Get(id[:]) != nil
		switch open := isOpen(logged[id]); {
		case open && !inOpen:
			problems = append(problems, fmt.Sprintf("payment %s is open but not stored as open: a restart would not resume it", id))
		case !open && inOpen:
			problems = append(problems, fmt.Sprintf("payment %s is finished but stored as open", id))
		}
	}
	return problems
}
