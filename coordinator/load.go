package coordinator

import (
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/strife-pay/strife/wal"
)

// Loader writes payments into a gateway's log exactly as a running
// coordinator writes them, without banks or a network: each payment goes
// through the same steps (Accept, Begin, OnVote, OnAck) and each step's
// records through persistIn, the function that appends them and updates the
// projection (payments, user_payments). It exists to build large data files
// quickly, for measuring what a start costs after millions of payments
// (strife-bench startup): the caller puts thousands of payments in one
// wal.Log.Append, where a running gateway commits a few at a time. What it
// writes is indistinguishable from a live gateway's log, and passes
// Verify; the banks' side of the same payments is the caller's to write
// (participant.Participant.Apply).
type Loader struct {
	epoch uint32
}

// NewLoader begins an epoch in log, durably, as New does at every start,
// and numbers the attempts it loads in it.
func NewLoader(log *wal.Log, now time.Time) (*Loader, error) {
	l := &Loader{}
	err := log.Append(func(tx *wal.Tx) (err error) {
		l.epoch, err = beginEpoch(tx, now)
		return err
	})
	return l, err
}

// Finished writes a payment, and returns it as written, that committed, its attempt ended: accepted,
// staged, every participant voted YES (the implicit commit: COMMIT and
// COMMITTED), every participant acknowledged (ATTEMPT_ENDED). A restarted
// coordinator has nothing left to do for it.
func (l *Loader) Finished(tx *wal.Tx, id ulid.ULID, params Params, now time.Time) (Payment, error) {
	p, err := l.staged(tx, id, params, now)
	if err != nil {
		return p, err
	}
	attempt := p.Attempt
	for _, bank := range p.Participants() {
		if p, err = persistStep(tx)(p.OnVote(attempt, bank, Vote{Yes: true}, now)); err != nil {
			return p, err
		}
	}
	for _, bank := range p.Participants() {
		if p, err = persistStep(tx)(p.OnAck(attempt, bank, now)); err != nil {
			return p, err
		}
	}
	if !p.Final() || !p.Ended {
		return p, fmt.Errorf("coordinator: loaded payment %s is %v, ended %v: not finished", id, p.Status, p.Ended)
	}
	return p, nil
}

// Held writes, and returns, a PENDING payment whose first attempt met an unreachable
// bank, as a gateway that stopped then left it: with decided, the attempt
// was aborted (the first participant Unavailable) and the ABORT not yet
// acknowledged; without, it is staged and undecided (no vote arrived before
// the stop). A restarted coordinator resumes it: it sends the ABORT again,
// or asks the participants whether they hold a YES, then tries again.
func (l *Loader) Held(tx *wal.Tx, id ulid.ULID, params Params, decided bool, now time.Time) (Payment, error) {
	p, err := l.staged(tx, id, params, now)
	if err != nil || !decided {
		return p, err
	}
	p, err = persistStep(tx)(p.OnVote(p.Attempt, p.Participants()[0], Vote{Failure: Unavailable}, now))
	if err != nil {
		return p, err
	}
	if p.Status != Pending || p.Decision != DecisionAbort {
		return p, fmt.Errorf("coordinator: loaded payment %s is %v, decision %v: not held", id, p.Status, p.Decision)
	}
	return p, nil
}

// staged accepts a payment and stages its first attempt, in one record,
// as the coordinator's acceptance does (Payment.AcceptStaged).
func (l *Loader) staged(tx *wal.Tx, id ulid.ULID, params Params, now time.Time) (Payment, error) {
	p, ready, err := Payment{ID: id}.AcceptStaged(params, l.epoch, now)
	if err != nil {
		return p, err
	}
	return persistIn(tx, p, ready.Records)
}

// persistStep returns a function that persists a step's records in tx, as
// the coordinator's persist and persistLazily do, whatever the step's Mode.
func persistStep(tx *wal.Tx) func(Payment, Ready) (Payment, error) {
	return func(p Payment, r Ready) (Payment, error) { return persistIn(tx, p, r.Records) }
}
