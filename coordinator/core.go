package coordinator

import (
	"fmt"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// Statuses of a payment.
const (
	Pending   = strifev1.PaymentStatus_PAYMENT_STATUS_PENDING
	Committed = strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED
	Failed    = strifev1.PaymentStatus_PAYMENT_STATUS_FAILED
)

// Decision is the coordinator's verdict on one attempt.
type Decision int32

const (
	DecisionNone Decision = iota
	DecisionCommit
	DecisionAbort
)

func (d Decision) String() string {
	return [...]string{"NONE", "COMMIT", "ABORT"}[d]
}

// Params are what a payment asks for, resolved: accounts are
// "<bank>/<number>". Two requests are the same payment if their Params are
// equal.
type Params struct {
	Payer  string // the user paying
	From   string
	Payee  string // the user paid, if known
	To     string
	Amount int64
	Memo   string
}

// Payment is everything the log says about one payment.
type Payment struct {
	ID       ulid.ULID
	Params   Params
	Status   strifev1.PaymentStatus
	Reason   strifev1.Reason
	Attempt  uint32   // the latest attempt begun; 0 before the first
	Decision Decision // of the latest attempt
	Ended    bool     // every participant acknowledged the latest decision
	Created  time.Time
	Updated  time.Time // when the last record a client can see was made (not ATTEMPT_ENDED)
}

// Final reports whether the payment's status can no longer change.
func (p Payment) Final() bool { return p.Status == Committed || p.Status == Failed }

// Record is a change to persist, before any Message of the same Ready is
// sent.
type Record struct {
	Type    wal.Type
	Attempt uint32
	Payload proto.Message
}

// Kind is the kind of a message to a participant.
type Kind int

const (
	KindPrepare Kind = iota
	KindCommit
	KindAbort
)

func (k Kind) String() string { return [...]string{"Prepare", "Commit", "Abort"}[k] }

// Message is a message to one participant (a bank) about the latest attempt.
type Message struct {
	Bank    string
	Kind    Kind
	Attempt uint32
	Legs    []*strifev1.Leg // for Prepare
	Memo    string          // for Prepare
}

// Ready is what a step decided: persist Records (durably, in one
// transaction), then send Messages.
type Ready struct {
	Records  []Record
	Messages []Message
}

// Failure classifies a participant that did not vote.
type Failure int

const (
	// Unavailable: the bank could not be reached. The attempt aborts and the
	// payment stays PENDING, to be tried again.
	Unavailable Failure = iota + 1
	// Timeout: the bank did not answer within the prepare timeout. The
	// payment fails with PREPARE_TIMEOUT.
	Timeout
	// Rejected: the bank refused the request as invalid (e.g. a credit that
	// would overflow). The payment fails with REJECTED.
	Rejected
)

// Vote is a participant's answer to Prepare: a YES, a NO with its reason, or
// a Failure.
type Vote struct {
	Yes     bool
	Reason  strifev1.Reason
	Failure Failure
}

// Round is the volatile part of an attempt in progress: the votes and
// acknowledgements so far. It is not persisted: after a crash, recovery
// aborts an undecided attempt and resends a decision to everyone.
type Round struct {
	Attempt uint32
	Votes   map[string]Vote
	Acks    map[string]bool
}

// NewRound returns the round of an attempt.
func NewRound(attempt uint32) *Round {
	return &Round{Attempt: attempt, Votes: map[string]Vote{}, Acks: map[string]bool{}}
}

// Bank returns the bank of an account address "<bank>/<number>".
func Bank(account string) string {
	bank, _, _ := strings.Cut(account, "/")
	return bank
}

func number(account string) string {
	_, n, _ := strings.Cut(account, "/")
	return n
}

// Participants returns the banks of a payment: one if both accounts are at
// the same bank.
func (p Payment) Participants() []string {
	from, to := Bank(p.Params.From), Bank(p.Params.To)
	if from == to {
		return []string{from}
	}
	return []string{from, to}
}

// Accept is the step of a new payment: its parameters, durable before any
// answer.
func Accept(params Params, now time.Time) Ready {
	return Ready{Records: []Record{{Type: wal.TypePaymentAccepted, Payload: &storagev1.PaymentAccepted{
		Payer: params.Payer, FromAccount: params.From, Payee: params.Payee, ToAccount: params.To,
		Amount: params.Amount, Memo: params.Memo, TimeUnixNano: now.UnixNano(),
	}}}}
}

// Begin starts the next attempt: ATTEMPT_BEGUN, then a Prepare to each
// participant. It may be called only for a PENDING payment whose latest
// attempt (if any) is decided.
func (p Payment) Begin(now time.Time) (Ready, error) {
	if p.Final() || (p.Attempt > 0 && p.Decision == DecisionNone) {
		return Ready{}, fmt.Errorf("coordinator: cannot begin attempt %d of %s (status %v, decision %v)", p.Attempt+1, p.ID, p.Status, p.Decision)
	}
	n := p.Attempt + 1
	r := Ready{Records: []Record{{Type: wal.TypeAttemptBegun, Attempt: n, Payload: &storagev1.AttemptBegun{TimeUnixNano: now.UnixNano()}}}}
	for _, bank := range p.Participants() {
		r.Messages = append(r.Messages, Message{Bank: bank, Kind: KindPrepare, Attempt: n, Legs: p.legs(bank), Memo: p.Params.Memo})
	}
	return r, nil
}

// legs returns what a bank is asked to do: debit the payer's account, credit
// the payee's, or both when both are at that bank.
func (p Payment) legs(bank string) []*strifev1.Leg {
	var legs []*strifev1.Leg
	if Bank(p.Params.From) == bank {
		legs = append(legs, &strifev1.Leg{Account: number(p.Params.From), Direction: strifev1.Direction_DIRECTION_DEBIT, Amount: p.Params.Amount, Counterparty: p.Params.To})
	}
	if Bank(p.Params.To) == bank {
		legs = append(legs, &strifev1.Leg{Account: number(p.Params.To), Direction: strifev1.Direction_DIRECTION_CREDIT, Amount: p.Params.Amount, Counterparty: p.Params.From})
	}
	return legs
}

// OnVote takes a participant's vote on attempt r.Attempt. Once every
// participant has voted YES it decides COMMIT: the decision and the
// COMMITTED status are persisted before any Commit is sent. Any NO or
// Failure decides ABORT at once. A vote that comes after the decision, or
// for another attempt, changes nothing.
func (p Payment) OnVote(r *Round, bank string, v Vote, now time.Time) Ready {
	if p.Attempt == 0 || r.Attempt != p.Attempt || p.Decision != DecisionNone {
		return Ready{}
	}
	r.Votes[bank] = v
	if !v.Yes {
		status, reason := Failed, v.Reason
		switch v.Failure {
		case Unavailable:
			status, reason = Pending, strifev1.Reason_REASON_UNSPECIFIED
		case Timeout:
			reason = strifev1.Reason_REASON_PREPARE_TIMEOUT
		case Rejected:
			reason = strifev1.Reason_REASON_REJECTED
		}
		return p.abort(status, reason, now)
	}
	for _, b := range p.Participants() {
		if !r.Votes[b].Yes {
			return Ready{}
		}
	}
	return p.decide(DecisionCommit, Committed, strifev1.Reason_REASON_UNSPECIFIED, now)
}

// abort decides ABORT for the latest attempt; with status FAILED it also
// makes the failure final.
func (p Payment) abort(status strifev1.PaymentStatus, reason strifev1.Reason, now time.Time) Ready {
	return p.decide(DecisionAbort, status, reason, now)
}

func (p Payment) decide(d Decision, status strifev1.PaymentStatus, reason strifev1.Reason, now time.Time) Ready {
	typ, kind := wal.TypeDecisionCommit, KindCommit
	if d == DecisionAbort {
		typ, kind = wal.TypeDecisionAbort, KindAbort
	}
	r := Ready{Records: []Record{{Type: typ, Attempt: p.Attempt, Payload: &storagev1.Decided{TimeUnixNano: now.UnixNano()}}}}
	if status != Pending {
		r.Records = append(r.Records, final(status, reason, now))
	}
	for _, bank := range p.Participants() {
		r.Messages = append(r.Messages, Message{Bank: bank, Kind: kind, Attempt: p.Attempt})
	}
	return r
}

func final(status strifev1.PaymentStatus, reason strifev1.Reason, now time.Time) Record {
	return Record{Type: wal.TypePaymentFinal, Payload: &storagev1.PaymentFinal{Status: status, Reason: reason, TimeUnixNano: now.UnixNano()}}
}

// OnAck takes a participant's acknowledgement of the decision on attempt
// r.Attempt; once all have acknowledged, the attempt ends.
func (p Payment) OnAck(r *Round, bank string, now time.Time) Ready {
	if p.Attempt == 0 || r.Attempt != p.Attempt || p.Decision == DecisionNone || p.Ended {
		return Ready{}
	}
	r.Acks[bank] = true
	for _, b := range p.Participants() {
		if !r.Acks[b] {
			return Ready{}
		}
	}
	return Ready{Records: []Record{{Type: wal.TypeAttemptEnded, Attempt: p.Attempt, Payload: &storagev1.AttemptEnded{TimeUnixNano: now.UnixNano()}}}}
}

// DecisionFor answers a participant in doubt about an attempt. COMMIT only if
// a commit decision is recorded for that attempt. The latest attempt, if
// still collecting votes, is aborted first (the Ready records it), so that a
// late YES can no longer commit it; the payment stays PENDING and is tried
// again. Every other attempt is aborted: presumed abort.
func (p Payment) DecisionFor(attempt uint32, now time.Time) (Decision, Ready) {
	switch {
	case attempt != p.Attempt || p.Attempt == 0:
		return DecisionAbort, Ready{}
	case p.Decision == DecisionNone:
		return DecisionAbort, p.abort(Pending, strifev1.Reason_REASON_UNSPECIFIED, now)
	}
	return p.Decision, Ready{}
}

// Expire fails a PENDING payment held past its deadline with EXPIRED,
// aborting its latest attempt if that is undecided. A payment whose latest
// attempt is decided COMMIT is not pending and never expires.
func (p Payment) Expire(now time.Time) Ready {
	if p.Status != Pending {
		return Ready{}
	}
	if p.Attempt > 0 && p.Decision == DecisionNone {
		return p.abort(Failed, strifev1.Reason_REASON_EXPIRED, now)
	}
	return Ready{Records: []Record{final(Failed, strifev1.Reason_REASON_EXPIRED, now)}}
}

// Recover is the first step after a restart, when every Round is lost: an
// undecided attempt is aborted (nobody can have committed it), and a decision
// that was not acknowledged by everyone is sent to everyone again.
func (p Payment) Recover(now time.Time) Ready {
	switch {
	case p.Attempt == 0 || p.Ended:
		return Ready{}
	case p.Decision == DecisionNone:
		return p.abort(Pending, strifev1.Reason_REASON_UNSPECIFIED, now)
	}
	kind := KindCommit
	if p.Decision == DecisionAbort {
		kind = KindAbort
	}
	var r Ready
	for _, bank := range p.Participants() {
		r.Messages = append(r.Messages, Message{Bank: bank, Kind: kind, Attempt: p.Attempt})
	}
	return r
}
