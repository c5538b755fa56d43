package ledger

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// Phase is where an attempt stands at a bank, as its 2PC records say.
type Phase int

const (
	PhaseNew       Phase = iota // no record
	PhasePrepared               // voted YES, decision pending: in doubt
	PhaseRefused                // voted NO
	PhaseTombstone              // aborted before any Prepare arrived
	PhaseAborted                // voted YES, then aborted
	PhaseCommitted              // voted YES, then committed
)

// Attempt is what a bank's log knows about one attempt: the one reading
// of the 2PC records (PREPARED, COMMITTED, ABORTED), shared by the
// participant that writes them, Verify, and the offline tools.
type Attempt struct {
	Phase Phase
	// Last is the type of the attempt's last 2PC record, 0 if none.
	Last     wal.Type
	Prepared *storagev1.Prepared // the YES vote's record, once prepared
	Aborted  *storagev1.Aborted  // the NO vote's or tombstone's record
}

// FoldAttempt folds an attempt's records (from wal.Tx.Lookup) into an
// Attempt. Records that are not 2PC records are ledger events and skipped.
func FoldAttempt(recs []wal.Record) (Attempt, error) {
	var a Attempt
	for _, r := range recs {
		if err := a.Add(r); err != nil {
			return a, err
		}
	}
	return a, nil
}

// Add folds one more record of the attempt, in log order. An error means
// a payload does not decode.
func (a *Attempt) Add(r wal.Record) error {
	switch r.Type {
	case TypePrepared:
		a.Phase, a.Prepared = PhasePrepared, &storagev1.Prepared{}
		if err := proto.Unmarshal(r.Payload, a.Prepared); err != nil {
			return err
		}
	case TypeCommitted:
		a.Phase = PhaseCommitted
	case TypeAborted:
		if a.Phase == PhasePrepared {
			a.Phase = PhaseAborted
			break
		}
		a.Aborted = &storagev1.Aborted{}
		if err := proto.Unmarshal(r.Payload, a.Aborted); err != nil {
			return err
		}
		a.Phase = PhaseRefused
		if a.Aborted.Tombstone {
			a.Phase = PhaseTombstone
		}
	default:
		return nil
	}
	a.Last = r.Type
	return nil
}

// Is2PC reports whether t is a two-phase commit record type.
func Is2PC(t wal.Type) bool {
	return t == TypePrepared || t == TypeCommitted || t == TypeAborted
}

func (p Phase) String() string {
	names := [...]string{"new", "prepared", "refused", "tombstone", "aborted", "committed"}
	if p < 0 || int(p) >= len(names) {
		return fmt.Sprintf("Phase(%d)", int(p))
	}
	return names[p]
}
