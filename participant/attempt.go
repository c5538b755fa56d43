package participant

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// Protocol errors: the coordinator asked for something the attempt's
// history does not allow. None of them changes anything.
var (
	// ErrConflict: a Prepare reuses (transaction ID, attempt) with other legs.
	ErrConflict = errors.New("participant: attempt already prepared with other parameters")
	// ErrNotPrepared: Commit of an attempt this bank did not vote YES on.
	ErrNotPrepared = errors.New("participant: attempt not prepared")
	// ErrAborted: Commit of an attempt that was aborted.
	ErrAborted = errors.New("participant: attempt aborted")
	// ErrCommitted: Abort of an attempt that was committed.
	ErrCommitted = errors.New("participant: attempt committed")
)

// phase is where an attempt stands, as its 2PC records say.
type phase int

const (
	phaseNew       phase = iota // no record
	phasePrepared               // voted YES, decision pending: in doubt
	phaseRefused                // voted NO
	phaseTombstone              // aborted before any Prepare arrived
	phaseAborted                // voted YES, then aborted
	phaseCommitted              // voted YES, then committed
)

// history is what the log knows about one attempt.
type history struct {
	phase    phase
	prepared *storagev1.Prepared // the YES vote's record, once prepared
	aborted  *storagev1.Aborted  // the NO vote's or tombstone's record
}

// historyFrom folds an attempt's records (from wal.Tx.Lookup) into its
// phase. Records that are not 2PC records are ledger events and skipped.
func historyFrom(recs []wal.Record) (history, error) {
	var a history
	for _, r := range recs {
		switch r.Type {
		case ledger.TypePrepared:
			a.phase, a.prepared = phasePrepared, &storagev1.Prepared{}
			if err := proto.Unmarshal(r.Payload, a.prepared); err != nil {
				return a, err
			}
		case ledger.TypeCommitted:
			a.phase = phaseCommitted
		case ledger.TypeAborted:
			if a.phase == phasePrepared {
				a.phase = phaseAborted
				continue
			}
			a.aborted = &storagev1.Aborted{}
			if err := proto.Unmarshal(r.Payload, a.aborted); err != nil {
				return a, err
			}
			a.phase = phaseRefused
			if a.aborted.Tombstone {
				a.phase = phaseTombstone
			}
		}
	}
	return a, nil
}

// Vote is a participant's answer to Prepare.
type Vote struct {
	Yes    bool
	Reason strifev1.Reason // why not, for a NO
}

// action is what a message obliges the driver to write.
type action int

const (
	actNone      action = iota // answer from the log; write nothing
	actVote                    // check the legs; write PREPARED and holds, or ABORTED
	actCommit                  // write COMMITTED; post the holds
	actAbort                   // write ABORTED; release the holds
	actTombstone               // write an ABORTED tombstone
)

// onPrepare decides a Prepare whose legs and memo have the given digest.
// With actNone the vote is the answer: a repeated Prepare gets the vote the
// first one got, except that an attempt aborted after a YES now votes NO.
func (a history) onPrepare(digest []byte) (action, Vote, error) {
	switch a.phase {
	case phaseNew:
		return actVote, Vote{}, nil
	case phasePrepared, phaseCommitted:
		if string(preparedDigest(a.prepared)) != string(digest) {
			return actNone, Vote{}, ErrConflict
		}
		return actNone, Vote{Yes: true}, nil
	case phaseRefused:
		if string(a.aborted.RequestDigest) != string(digest) {
			return actNone, Vote{}, ErrConflict
		}
		return actNone, Vote{Reason: a.aborted.Reason}, nil
	default: // phaseTombstone, phaseAborted
		return actNone, Vote{Reason: strifev1.Reason_REASON_ABORTED}, nil
	}
}

func (a history) onCommit() (action, error) {
	switch a.phase {
	case phasePrepared:
		return actCommit, nil
	case phaseCommitted:
		return actNone, nil
	case phaseAborted, phaseTombstone:
		return actNone, ErrAborted
	default: // phaseNew, phaseRefused
		return actNone, ErrNotPrepared
	}
}

func (a history) onAbort() (action, error) {
	switch a.phase {
	case phaseNew:
		return actTombstone, nil
	case phasePrepared:
		return actAbort, nil
	case phaseCommitted:
		return actNone, ErrCommitted
	default: // already aborted, refused or a tombstone
		return actNone, nil
	}
}

// onResolve answers a coordinator resolving the outcome of an attempt after
// its crash (status resolution): YES if this bank holds a YES vote for it,
// prepared or committed, which it keeps; NO otherwise. An attempt never
// seen gets a tombstone first, so that a Prepare still on its way votes NO
// and the NO stays true.
func (a history) onResolve() (action, Vote) {
	switch a.phase {
	case phaseNew:
		return actTombstone, Vote{Reason: strifev1.Reason_REASON_ABORTED}
	case phasePrepared, phaseCommitted:
		return actNone, Vote{Yes: true}
	case phaseRefused:
		return actNone, Vote{Reason: a.aborted.Reason}
	default: // phaseTombstone, phaseAborted
		return actNone, Vote{Reason: strifev1.Reason_REASON_ABORTED}
	}
}

// digest identifies a Prepare's parameters, so that a repeat can be told
// from a conflicting reuse of the same (transaction ID, attempt).
func digest(legs []*storagev1.Leg, memo string) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&storagev1.Prepared{Legs: legs, Memo: memo})
	if err != nil {
		panic(fmt.Sprintf("participant: marshal legs: %v", err)) // cannot happen for these types
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

func preparedDigest(p *storagev1.Prepared) []byte { return digest(p.Legs, p.Memo) }

// AttemptID names one attempt of a transaction.
type AttemptID struct {
	TxID    ulid.ULID
	Attempt uint32
}

func (k AttemptID) String() string { return fmt.Sprintf("%s/%d", k.TxID, k.Attempt) }
