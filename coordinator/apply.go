package coordinator

import (
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// apply folds one of a payment's records into it. It is the only way a
// Payment changes, live and when the projection is rebuilt, and it refuses
// a record that a correct coordinator cannot have written: a second
// acceptance, an attempt out of order, a decision that contradicts another,
// a final status that changes.
func (p *Payment) apply(r Record) error {
	if r.Type != TypePaymentAccepted && p.Created.IsZero() {
		return fmt.Errorf("coordinator: %v record for payment %s that was never accepted", r.Type, p.ID)
	}
	if r.Type != TypePaymentAccepted && r.Type != TypePaymentFinal && !p.names(r) {
		return fmt.Errorf("coordinator: %v for attempt %d of %s, latest is %d", r.Type, r.Attempt, p.ID, p.Attempt)
	}
	switch r.Type {
	case TypePaymentAccepted:
		if !p.Created.IsZero() {
			return fmt.Errorf("coordinator: payment %s accepted twice", p.ID)
		}
		a, ok := r.Payload.(*storagev1.PaymentAccepted)
		if !ok {
			return errPayload(p, r)
		}
		p.Params = Params{Payer: a.GetPayer(), From: a.GetFromAccount(), Payee: a.GetPayee(), To: a.GetToAccount(), Amount: a.GetAmount(), Memo: a.GetMemo()}
		p.Status, p.Created = Pending, time.Unix(0, a.GetTimeUnixNano()).UTC()
		switch {
		case a.GetFirstAttemptStaged() && r.Attempt == 0:
			return fmt.Errorf("coordinator: payment %s accepted with a first attempt numbered 0", p.ID)
		case a.GetFirstAttemptStaged():
			p.begin(r.Attempt, true)
		case r.Attempt != 0:
			return fmt.Errorf("coordinator: payment %s accepted under attempt %d", p.ID, r.Attempt)
		}
	case TypeAttemptBegun, TypeAttemptStaged:
		if p.Final() || (p.Attempt > 0 && p.Decision == DecisionNone) {
			return fmt.Errorf("coordinator: attempt %d of %s begun while %v with attempt %d undecided", r.Attempt, p.ID, p.Status, p.Attempt)
		}
		p.begin(r.Attempt, r.Type == TypeAttemptStaged)
	case TypeDecisionCommit, TypeDecisionAbort:
		if p.Decision != DecisionNone {
			return fmt.Errorf("coordinator: attempt %d of %s decided twice", r.Attempt, p.ID)
		}
		d, ok := r.Payload.(*storagev1.Decided)
		if !ok {
			return errPayload(p, r)
		}
		p.Decision = map[wal.Type]Decision{TypeDecisionCommit: DecisionCommit, TypeDecisionAbort: DecisionAbort}[r.Type]
		if final := d.GetFinalStatus(); final != strifev1.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED {
			if (final == Committed) != (p.Decision == DecisionCommit) {
				return fmt.Errorf("coordinator: %v of %s makes it %v", r.Type, p.ID, final)
			}
			if err := p.finish(final, d.GetFinalReason()); err != nil {
				return err
			}
		}
	case TypeAttemptEnded:
		p.Ended = true
		if p.Decision == DecisionCommit {
			p.Settled = recordTime(r)
		}
	case TypePaymentFinal:
		f, ok := r.Payload.(*storagev1.PaymentFinal)
		if !ok {
			return errPayload(p, r)
		}
		if err := p.finish(f.GetStatus(), f.GetReason()); err != nil {
			return err
		}
	default:
		return fmt.Errorf("coordinator: %v is not a payment record", r.Type)
	}
	if r.Type != TypeAttemptEnded {
		p.Updated = recordTime(r)
	}
	return nil
}

// begin takes the next attempt, staged or (in logs from before parallel
// commit) begun.
func (p *Payment) begin(attempt uint32, staged bool) {
	p.Attempt, p.Decision, p.Ended = attempt, DecisionNone, false
	p.Attempts++
	p.Staged = staged
	p.Round = Round{Attempt: attempt} // what the coordinator hears of it from now on
}

// finish makes the payment final: from a PAYMENT_FINAL record, or from a
// decision's record that carries the final status.
func (p *Payment) finish(status strifev1.PaymentStatus, reason strifev1.Reason) error {
	if p.Final() {
		return fmt.Errorf("coordinator: payment %s is already %v", p.ID, p.Status)
	}
	if status != Committed && status != Failed {
		return fmt.Errorf("coordinator: payment %s made %v, which is not a final status", p.ID, status)
	}
	if status == Committed && p.Decision != DecisionCommit {
		return fmt.Errorf("coordinator: payment %s committed without a commit decision", p.ID)
	}
	p.Status, p.Reason = status, reason
	return nil
}

// errPayload refuses a record whose payload is not its type's: DecodeRecord
// and the core never make one, but Apply is exported.
func errPayload(p *Payment, r Record) error {
	return fmt.Errorf("coordinator: %v record of payment %s with a %T payload", r.Type, p.ID, r.Payload)
}

// recordTime is when a record was made: every payment record's payload
// says. Taking Updated from there, not from a clock, makes a payment folded
// live and the same payment replayed from the log equal. ATTEMPT_ENDED does
// not count: it changes nothing a client sees, and the first caller's
// answer does not wait for it, so a retry must not tell a later time.
func recordTime(r Record) time.Time {
	t, ok := r.Payload.(interface{ GetTimeUnixNano() int64 })
	if !ok {
		return time.Time{}
	}
	return time.Unix(0, t.GetTimeUnixNano()).UTC()
}

// names reports whether r names the attempt it must: a new one, numbered
// above every attempt before it, for ATTEMPT_BEGUN and ATTEMPT_STAGED; the
// latest one for the others.
func (p *Payment) names(r Record) bool {
	if r.Type == TypeAttemptBegun || r.Type == TypeAttemptStaged {
		return r.Attempt > p.Attempt
	}
	return r.Attempt != 0 && r.Attempt == p.Attempt
}

// Apply folds a step's records into a copy of p and returns it: the payment
// as it is once the records are durable. It is the only way a Payment
// changes, live and when the projection is replayed (see Replay).
func (p Payment) Apply(recs []Record) (Payment, error) {
	for _, r := range recs {
		if err := p.apply(r); err != nil {
			return p, err
		}
	}
	return p, nil
}

// State is the projection of p, as stored in the payments bucket.
func (p Payment) State() *storagev1.PaymentState {
	return &storagev1.PaymentState{
		// Params' time is left out: it is CreatedUnixNano (states stored
		// before issue 17 have both).
		Params: &storagev1.PaymentAccepted{
			Payer: p.Params.Payer, FromAccount: p.Params.From, Payee: p.Params.Payee, ToAccount: p.Params.To,
			Amount: p.Params.Amount, Memo: p.Params.Memo,
		},
		Status: p.Status, Reason: p.Reason, Attempt: p.Attempt, Decision: int32(p.Decision), Ended: p.Ended,
		CreatedUnixNano: p.Created.UnixNano(), UpdatedUnixNano: p.Updated.UnixNano(),
		Attempts: p.Attempts, Staged: p.Staged, SettledUnixNano: unixNano(p.Settled),
	}
}

func paymentFrom(id ulid.ULID, s *storagev1.PaymentState) Payment {
	a := s.GetParams()
	p := Payment{
		ID:     id,
		Params: Params{Payer: a.GetPayer(), From: a.GetFromAccount(), Payee: a.GetPayee(), To: a.GetToAccount(), Amount: a.GetAmount(), Memo: a.GetMemo()},
		Status: s.Status, Reason: s.Reason, Attempt: s.Attempt, Decision: Decision(s.Decision), Ended: s.Ended,
		Created: time.Unix(0, s.CreatedUnixNano).UTC(), Updated: time.Unix(0, s.UpdatedUnixNano).UTC(),
		Attempts: s.Attempts, Staged: s.Staged, Settled: fromUnixNano(s.SettledUnixNano),
	}
	if p.Attempts == 0 {
		p.Attempts = p.Attempt // a state from before epochs: attempts were numbered 1, 2, ...
	}
	return p
}

// unixNano is t in nanoseconds, 0 for the zero time; fromUnixNano undoes it.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
