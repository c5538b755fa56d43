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

// history is what the log knows about one attempt, read by ledger, which
// owns the bank's 2PC records; the methods below say what a message
// obliges the participant to do given it.
type history struct{ ledger.Attempt }

// historyFrom folds an attempt's records (from wal.Tx.Lookup).
func historyFrom(recs []wal.Record) (history, error) {
	a, err := ledger.FoldAttempt(recs)
	return history{a}, err
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
	switch a.Phase {
	case ledger.PhaseNew:
		return actVote, Vote{}, nil
	case ledger.PhasePrepared, ledger.PhaseCommitted:
		if string(preparedDigest(a.Prepared)) != string(digest) {
			return actNone, Vote{}, ErrConflict
		}
		return actNone, Vote{Yes: true}, nil
	case ledger.PhaseRefused:
		if string(a.Aborted.RequestDigest) != string(digest) {
			return actNone, Vote{}, ErrConflict
		}
		return actNone, Vote{Reason: a.Aborted.Reason}, nil
	default: // ledger.PhaseTombstone, ledger.PhaseAborted
		return actNone, Vote{Reason: strifev1.Reason_REASON_ABORTED}, nil
	}
}

func (a history) onCommit() (action, error) {
	switch a.Phase {
	case ledger.PhasePrepared:
		return actCommit, nil
	case ledger.PhaseCommitted:
		return actNone, nil
	case ledger.PhaseAborted, ledger.PhaseTombstone:
		return actNone, ErrAborted
	default: // ledger.PhaseNew, ledger.PhaseRefused
		return actNone, ErrNotPrepared
	}
}

func (a history) onAbort() (action, error) {
	switch a.Phase {
	case ledger.PhaseNew:
		return actTombstone, nil
	case ledger.PhasePrepared:
		return actAbort, nil
	case ledger.PhaseCommitted:
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
	switch a.Phase {
	case ledger.PhaseNew:
		return actTombstone, Vote{Reason: strifev1.Reason_REASON_ABORTED}
	case ledger.PhasePrepared, ledger.PhaseCommitted:
		return actNone, Vote{Yes: true}
	case ledger.PhaseRefused:
		return actNone, Vote{Reason: a.Aborted.Reason}
	default: // ledger.PhaseTombstone, ledger.PhaseAborted
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
