package coordinator

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// Statuses of a payment.
const (
	Pending   = strifev1.PaymentStatus_PAYMENT_STATUS_PENDING
	Committed = strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED
	Failed    = strifev1.PaymentStatus_PAYMENT_STATUS_FAILED
)

// Decision is the coordinator's verdict on one attempt. Its numbers are
// persisted (PaymentState.decision) and so can never change: they are those
// of the wire's strifev1.Decision, which participant.Decision shares, so
// that a decision has one numbering wherever it is stored or sent.
type Decision int32

const (
	DecisionNone   = Decision(strifev1.Decision_DECISION_UNSPECIFIED) // 0: not decided yet
	DecisionCommit = Decision(strifev1.Decision_DECISION_COMMIT)      // 1
	DecisionAbort  = Decision(strifev1.Decision_DECISION_ABORT)       // 2
)

func (d Decision) String() string {
	switch d {
	case DecisionNone:
		return "NONE"
	case DecisionCommit:
		return "COMMIT"
	case DecisionAbort:
		return "ABORT"
	}
	return fmt.Sprintf("Decision(%d)", int32(d))
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

// Payment is everything the log says about one payment, and its Round:
// what this incarnation of the coordinator has heard about the latest
// attempt.
type Payment struct {
	ID       ulid.ULID
	Params   Params
	Status   strifev1.PaymentStatus
	Reason   strifev1.Reason
	Attempt  uint32   // the number of the latest attempt begun; 0 before the first
	Attempts uint32   // how many attempts were begun
	Staged   bool     // the latest attempt was staged: begun with parallel commit
	Decision Decision // of the latest attempt
	Ended    bool     // every participant acknowledged the latest decision
	Created  time.Time
	Updated  time.Time // when the last record a client can see was made (not ATTEMPT_ENDED)
	Settled  time.Time // when every participant applied the COMMIT; zero until then

	// Round is not persisted: after a restart it is empty, and a staged
	// attempt without a decision is resolved by asking its participants.
	Round Round
}

// Final reports whether the payment's status can no longer change.
func (p Payment) Final() bool { return p.Status == Committed || p.Status == Failed }

// Record is a change to persist.
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
	// KindResolve asks a participant, after a restart, whether it holds a
	// YES vote for a staged attempt (see Participant.Resolve).
	KindResolve
)

func (k Kind) String() string {
	switch k {
	case KindPrepare:
		return "Prepare"
	case KindCommit:
		return "Commit"
	case KindAbort:
		return "Abort"
	case KindResolve:
		return "Resolve"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Message is a message to one participant (a bank) about the latest attempt.
type Message struct {
	Bank    string
	Kind    Kind
	Attempt uint32
	Legs    []*strifev1.Leg // for Prepare
	Memo    string          // for Prepare
}

// Mode says when a step's records must be durable, relative to its
// messages and to the payment taking their change.
type Mode int

const (
	// Durably (the zero Mode): the records are persisted, durably, then the
	// payment takes them, then the messages are sent.
	Durably Mode = iota
	// InParallel: the messages are sent while the records are persisted;
	// the payment takes the records once they are durable, and takes no
	// other step before. Begin stages an attempt this way.
	InParallel
	// Lazily: the payment takes the records at once; they are persisted
	// with the log's next commit, and the messages are sent once they are
	// durable. For records that a crash may lose because the log already
	// implies them (an implicit commit's decision) or because they only
	// spare work (ATTEMPT_ENDED).
	Lazily
)

// Ready is what a step decided: records to persist (in one transaction) and
// messages to send, in the order Mode says.
type Ready struct {
	Records  []Record
	Messages []Message
	Mode     Mode
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

// Vote is a participant's answer to Prepare (or to Resolve): a YES, a NO
// with its reason, or a Failure.
type Vote struct {
	Yes     bool
	Reason  strifev1.Reason
	Failure Failure
}

// Round is what the coordinator heard about one attempt since it began it
// (or, after a restart, since it began resolving it): votes and
// acknowledgements by bank. It lives only in memory.
type Round struct {
	Attempt   uint32 // 0: nothing heard
	Resolving bool   // Votes are answers to Resolve, not to Prepare
	Votes     map[string]Vote
	Acks      map[string]bool
}

// known reports whether the round is the coordinator's own for attempt.
func (r Round) known(attempt uint32) bool { return attempt != 0 && r.Attempt == attempt }

// withVote returns r with bank's vote; r's maps are never changed in place,
// so a Payment copied before the step keeps its round.
func (r Round) withVote(bank string, v Vote) Round {
	r.Votes = maps.Clone(r.Votes)
	if r.Votes == nil {
		r.Votes = map[string]Vote{}
	}
	r.Votes[bank] = v
	return r
}

func (r Round) withAck(bank string) Round {
	r.Acks = maps.Clone(r.Acks)
	if r.Acks == nil {
		r.Acks = map[string]bool{}
	}
	r.Acks[bank] = true
	return r
}

// Bank returns the bank of an account address "<bank>/<number>"
// (users.Split: the gateway has checked the address with
// users.SplitAccount before).
func Bank(account string) string {
	bank, _, _ := users.Split(account)
	return bank
}

func number(account string) string {
	_, n, _ := users.Split(account)
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
	return Ready{Records: []Record{{Type: TypePaymentAccepted, Payload: &storagev1.PaymentAccepted{
		Payer: params.Payer, FromAccount: params.From, Payee: params.Payee, ToAccount: params.To,
		Amount: params.Amount, Memo: params.Memo, TimeUnixNano: now.UnixNano(),
	}}}}
}

// AcceptStaged is the step of a new payment whose banks are all known: one
// PAYMENT_ACCEPTED that also stages its first attempt, numbered in epoch
// (first_attempt_staged; the record is numbered as the attempt), sent with
// a Prepare to each participant in parallel, as Begin sends them. p is the
// payment before it (its ID only); the payment returned has taken the
// attempt's number (its Round), as Begin's does. The record folds as
// PAYMENT_ACCEPTED then ATTEMPT_STAGED would, and costs one.
func (p Payment) AcceptStaged(params Params, epoch uint32, now time.Time) (Payment, Ready, error) {
	accept := Accept(params, now).Records[0]
	accepted, err := p.Apply([]Record{accept})
	if err != nil {
		return p, Ready{}, err
	}
	staged, r, err := accepted.Begin(epoch, now)
	if err != nil {
		return p, Ready{}, err
	}
	accept.Payload.(*storagev1.PaymentAccepted).FirstAttemptStaged = true
	accept.Attempt = staged.Round.Attempt
	r.Records = []Record{accept}
	p.Round = staged.Round
	return p, r, nil
}

// EpochBits is how many low bits of an attempt number count attempts
// within an epoch; the bits above are the epoch. An epoch numbers at most
// 4095 attempts of a payment.
const EpochBits = 12

// ErrEpochExhausted: a payment has used every attempt number of the
// current epoch. The coordinator takes a new epoch and begins again.
var ErrEpochExhausted = errors.New("coordinator: no attempt number left in this epoch")

// nextAttempt returns the number of the attempt after last, in epoch. A
// coordinator takes a new epoch, durably, at every start, so the numbers
// of an epoch were never used before it, not even by Prepares that left
// before a crash without a record: a number is never used twice.
func nextAttempt(last, epoch uint32) (uint32, error) {
	base := epoch << EpochBits
	switch {
	case last < base:
		return base + 1, nil
	case last+1 >= base+1<<EpochBits:
		return 0, fmt.Errorf("%w: attempt %d in epoch %d", ErrEpochExhausted, last, epoch)
	}
	return last + 1, nil
}

// Begin stages the next attempt, numbered in epoch: ATTEMPT_STAGED, sent
// with a Prepare to each participant in parallel (InParallel). It may be
// called only for a PENDING payment whose latest attempt (if any) is
// decided. The payment returned has taken the attempt's number (its Round):
// if the record never becomes durable, the Prepares may still have left,
// and the next attempt takes another number.
func (p Payment) Begin(epoch uint32, now time.Time) (Payment, Ready, error) {
	if p.Final() || (p.Attempt > 0 && p.Decision == DecisionNone) {
		return p, Ready{}, fmt.Errorf("coordinator: cannot begin an attempt of %s after attempt %d (status %v, decision %v)", p.ID, p.Attempt, p.Status, p.Decision)
	}
	n, err := nextAttempt(max(p.Attempt, p.Round.Attempt), epoch)
	if err != nil {
		return p, Ready{}, err
	}
	// The record does not list the participants (AttemptStaged.banks, as
	// logs before issue 17 do): they are the banks of the payment's
	// accounts, which its PAYMENT_ACCEPTED says.
	r := Ready{Mode: InParallel, Records: []Record{{Type: TypeAttemptStaged, Attempt: n, Payload: &storagev1.AttemptStaged{TimeUnixNano: now.UnixNano()}}}}
	for _, bank := range p.Participants() {
		r.Messages = append(r.Messages, Message{Bank: bank, Kind: KindPrepare, Attempt: n, Legs: p.Legs(bank), Memo: p.Params.Memo})
	}
	p.Round = Round{Attempt: n}
	return p, r, nil
}

// Legs returns what a bank is asked to do, the legs of its Prepare: debit
// the payer's account, credit the payee's, or both when both are at that
// bank.
func (p Payment) Legs(bank string) []*strifev1.Leg {
	var legs []*strifev1.Leg
	if Bank(p.Params.From) == bank {
		legs = append(legs, &strifev1.Leg{Account: number(p.Params.From), Direction: strifev1.Direction_DIRECTION_DEBIT, Amount: p.Params.Amount, Counterparty: p.Params.To})
	}
	if Bank(p.Params.To) == bank {
		legs = append(legs, &strifev1.Leg{Account: number(p.Params.To), Direction: strifev1.Direction_DIRECTION_CREDIT, Amount: p.Params.Amount, Counterparty: p.Params.From})
	}
	return legs
}

// OnVote takes a participant's vote on attempt. The attempt is committed
// the moment its ATTEMPT_STAGED is durable (the payment took it) and every
// participant has voted YES (each YES is durable at its bank before it is
// sent): the payment is COMMITTED at once, and its DECISION_COMMIT and
// final status are persisted Lazily, before any Commit is sent. Any NO or
// Failure decides ABORT, Durably. A vote that comes after the decision, for
// another attempt, or for an attempt this coordinator did not begin,
// changes nothing.
func (p Payment) OnVote(attempt uint32, bank string, v Vote, now time.Time) (Payment, Ready) {
	if !p.Round.known(attempt) || p.Round.Resolving || attempt != p.Attempt || p.Decision != DecisionNone {
		return p, Ready{}
	}
	p.Round = p.Round.withVote(bank, v)
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
		return p, p.decide(DecisionAbort, status, reason, false, now)
	}
	if !p.allYes() {
		return p, Ready{}
	}
	ready := p.decide(DecisionCommit, Committed, strifev1.Reason_REASON_UNSPECIFIED, false, now)
	ready.Mode = Lazily // the implicit commit: the log already implies it (Begin stages every attempt)
	return p, ready
}

func (p Payment) allYes() bool {
	for _, b := range p.Participants() {
		if !p.Round.Votes[b].Yes {
			return false
		}
	}
	return true
}

func (p Payment) allVoted() bool {
	for _, b := range p.Participants() {
		if _, ok := p.Round.Votes[b]; !ok {
			return false
		}
	}
	return true
}

// decide decides the latest attempt; with a status other than PENDING it
// also makes the payment final. The decision's messages follow it.
func (p Payment) decide(d Decision, status strifev1.PaymentStatus, reason strifev1.Reason, resolved bool, now time.Time) Ready {
	typ, kind := TypeDecisionCommit, KindCommit
	if d == DecisionAbort {
		typ, kind = TypeDecisionAbort, KindAbort
	}
	decided := &storagev1.Decided{TimeUnixNano: now.UnixNano(), Resolved: resolved}
	if status != Pending {
		decided.FinalStatus, decided.FinalReason = status, reason // the decision's record carries the final status
	}
	return Ready{Records: []Record{{Type: typ, Attempt: p.Attempt, Payload: decided}}, Messages: p.toAll(kind)}
}

// toAll is a message of kind about the latest attempt to each participant.
func (p Payment) toAll(kind Kind) []Message {
	var msgs []Message
	for _, bank := range p.Participants() {
		msgs = append(msgs, Message{Bank: bank, Kind: kind, Attempt: p.Attempt})
	}
	return msgs
}

func final(status strifev1.PaymentStatus, reason strifev1.Reason, now time.Time) Record {
	return Record{Type: TypePaymentFinal, Payload: &storagev1.PaymentFinal{Status: status, Reason: reason, TimeUnixNano: now.UnixNano()}}
}

// OnAck takes a participant's acknowledgement of the decision on attempt;
// once all have acknowledged, the attempt ends: ATTEMPT_ENDED, Lazily (it
// only spares resending the decision after a crash). An acknowledgement of
// another attempt, or before the decision, changes nothing.
func (p Payment) OnAck(attempt uint32, bank string, now time.Time) (Payment, Ready) {
	if attempt == 0 || attempt != p.Attempt || p.Decision == DecisionNone || p.Ended {
		return p, Ready{}
	}
	if !p.Round.known(attempt) {
		p.Round = Round{Attempt: attempt}
	}
	p.Round = p.Round.withAck(bank)
	for _, b := range p.Participants() {
		if !p.Round.Acks[b] {
			return p, Ready{}
		}
	}
	return p, Ready{Mode: Lazily, Records: []Record{{Type: TypeAttemptEnded, Attempt: p.Attempt, Payload: &storagev1.AttemptEnded{TimeUnixNano: now.UnixNano()}}}}
}

// Resolving reports whether the latest attempt is staged and undecided and
// its round was lost in a restart: only its participants can tell whether
// it committed (Recover asks them).
func (p Payment) Resolving() bool {
	return p.Attempt > 0 && p.Staged && p.Decision == DecisionNone && (!p.Round.known(p.Attempt) || p.Round.Resolving)
}

// DecisionFor answers a participant in doubt about an attempt. An attempt
// that is not the latest was aborted (every attempt before the latest was)
// or was never staged: ABORT, presumed. The latest attempt's decision is
// answered as it stands; the driver makes sure it is durable first. A
// latest attempt still collecting votes is aborted first (the Ready records
// it, Durably), so that a late YES can no longer commit it: it cannot have
// committed, since its last YES would have committed it at once. A staged
// attempt whose round was lost is being resolved: DecisionNone, ask again.
func (p Payment) DecisionFor(attempt uint32, now time.Time) (Decision, Ready) {
	switch {
	case attempt != p.Attempt || p.Attempt == 0:
		return DecisionAbort, Ready{}
	case p.Decision != DecisionNone:
		return p.Decision, Ready{}
	case p.Resolving():
		return DecisionNone, Ready{}
	}
	return DecisionAbort, p.decide(DecisionAbort, Pending, strifev1.Reason_REASON_UNSPECIFIED, false, now)
}

// Expire fails a PENDING payment held past its deadline with EXPIRED,
// aborting its latest attempt if that is undecided. A payment whose latest
// attempt is decided COMMIT is not pending and never expires, and a staged
// attempt being resolved may have committed: it is resolved first.
func (p Payment) Expire(now time.Time) (Payment, Ready) {
	switch {
	case p.Status != Pending || p.Resolving():
		return p, Ready{}
	case p.Attempt > 0 && p.Decision == DecisionNone:
		return p, p.decide(DecisionAbort, Failed, strifev1.Reason_REASON_EXPIRED, false, now)
	}
	return p, Ready{Records: []Record{final(Failed, strifev1.Reason_REASON_EXPIRED, now)}}
}

// Recover is the first step after a restart, when every Round is lost. A
// staged attempt without a decision may have committed implicitly: each
// participant is asked whether it holds a YES (Resolve), and OnResolved
// decides. An undecided attempt of a log from before staging was begun
// before its Prepares were sent and never committed without a decision:
// it is aborted. A decision that was not acknowledged by everyone is sent
// to everyone again.
func (p Payment) Recover(now time.Time) (Payment, Ready) {
	switch {
	case p.Attempt == 0 || p.Ended:
		return p, Ready{}
	case p.Decision == DecisionNone && p.Staged:
		p.Round = Round{Attempt: p.Attempt, Resolving: true}
		return p, Ready{Messages: p.toAll(KindResolve)}
	case p.Decision == DecisionNone:
		return p, p.decide(DecisionAbort, Pending, strifev1.Reason_REASON_UNSPECIFIED, false, now)
	case p.Decision == DecisionAbort:
		return p, Ready{Messages: p.toAll(KindAbort)}
	}
	return p, Ready{Messages: p.toAll(KindCommit)}
}

// OnResolved takes a participant's answer to Resolve for the attempt being
// resolved. Once every participant has answered: all YES means the attempt
// committed implicitly before the crash, and COMMIT is recorded (Durably,
// with the final status); any NO means it did not, and ABORT is recorded
// and the payment stays PENDING for a new attempt. Either decision is
// marked resolved.
func (p Payment) OnResolved(attempt uint32, bank string, v Vote, now time.Time) (Payment, Ready) {
	if !p.Round.Resolving || !p.Round.known(attempt) || attempt != p.Attempt || p.Decision != DecisionNone {
		return p, Ready{}
	}
	p.Round = p.Round.withVote(bank, v)
	if !p.allVoted() {
		return p, Ready{}
	}
	if p.allYes() {
		return p, p.decide(DecisionCommit, Committed, strifev1.Reason_REASON_UNSPECIFIED, true, now)
	}
	return p, p.decide(DecisionAbort, Pending, strifev1.Reason_REASON_UNSPECIFIED, true, now)
}
