package coordinator_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/coordinator"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// TestCore runs the scenarios in testdata/core against the coordinator's
// pure core. Each file is one payment. Commands:
//
//	accept from=<bank/number> to=<bank/number> amount=<n>
//	begin                           stage the next attempt
//	vote bank=<b> yes|no=<REASON>|fail=unavailable|timeout|rejected [attempt=<n>]
//	ack bank=<b> [attempt=<n>]      a participant acknowledged the decision
//	resolved bank=<b> yes|no=<REASON> [attempt=<n>]   its answer to Resolve
//	ask attempt=<n>                 a participant in doubt asks GetDecision
//	expire                          the maximum hold has passed
//	flush                           the log commits: records persisted
//	                                lazily are durable from now on
//	crash                           the coordinator dies: the round and the
//	                                records not yet durable are lost, and
//	                                its restart takes the next epoch
//	recover                         the first step after the restart
//
// Each prints what the step persists and sends (and when: "in parallel"
// with its records, or its records "lazily", see coordinator.Mode), then
// the payment. Records are applied as a driver would: at once, and they are
// durable once a step persists records other than lazily (the log commits in
// order) or at a flush.
// A vote, ack or answer is about the latest attempt unless attempt= names
// another. Run with -rewrite to refresh the expected output.
func TestCore(t *testing.T) {
	datadriven.Walk(t, "testdata/core", func(t *testing.T, path string) {
		s := &coreScenario{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
		datadriven.RunTest(t, path, s.run)
	})
}

type coreScenario struct {
	p       coordinator.Payment
	durable coordinator.Payment // p as its durable records make it
	epoch   uint32              // the coordinator's: 0, then one more after each crash
	now     time.Time
}

// attempt is the attempt= argument, or the latest attempt.
func (s *coreScenario) attempt(t *testing.T, d *datadriven.TestData) uint32 {
	attempt := int(s.p.Attempt)
	d.MaybeScanArgs(t, "attempt", &attempt)
	return uint32(attempt)
}

func (s *coreScenario) run(t *testing.T, d *datadriven.TestData) string {
	s.now = s.now.Add(time.Second)
	var ready coordinator.Ready
	var answer string
	switch d.Cmd {
	case "accept":
		var from, to string
		var amount int64
		d.ScanArgs(t, "from", &from)
		d.ScanArgs(t, "to", &to)
		d.ScanArgs(t, "amount", &amount)
		s.p = coordinator.Payment{ID: ulid.MustParse("01JD0000000000000000000000")}
		ready = coordinator.Accept(coordinator.Params{Payer: "alice", From: from, To: to, Amount: amount}, s.now)
	case "begin":
		var err error
		if s.p, ready, err = s.p.Begin(s.epoch, s.now); err != nil {
			return "error: " + err.Error()
		}
	case "vote":
		s.p, ready = s.p.OnVote(s.attempt(t, d), arg(t, d, "bank"), vote(t, d), s.now)
	case "ack":
		s.p, ready = s.p.OnAck(s.attempt(t, d), arg(t, d, "bank"), s.now)
	case "resolved":
		s.p, ready = s.p.OnResolved(s.attempt(t, d), arg(t, d, "bank"), vote(t, d), s.now)
	case "ask":
		var attempt int
		d.ScanArgs(t, "attempt", &attempt)
		var decision coordinator.Decision
		decision, ready = s.p.DecisionFor(uint32(attempt), s.now)
		answer = "answer " + decision.String() + "\n"
	case "expire":
		s.p, ready = s.p.Expire(s.now)
	case "flush":
		s.durable = s.p
		return s.payment()
	case "crash":
		s.p = s.durable
		s.p.Round = coordinator.Round{} // votes and acks were only in memory
		s.epoch++
		return fmt.Sprintf("round lost; epoch %d\n", s.epoch) + s.payment()
	case "recover":
		s.p, ready = s.p.Recover(s.now)
	default:
		t.Fatalf("unknown command %q", d.Cmd)
	}
	var err error
	if s.p, err = s.p.Apply(ready.Records); err != nil {
		return "error: " + err.Error()
	}
	if len(ready.Records) > 0 && ready.Mode != coordinator.Lazily {
		s.durable = s.p
	}
	return answer + show(ready) + s.payment()
}

func arg(t *testing.T, d *datadriven.TestData, key string) string {
	var v string
	d.ScanArgs(t, key, &v)
	return v
}

func vote(t *testing.T, d *datadriven.TestData) coordinator.Vote {
	switch {
	case d.HasArg("yes"):
		return coordinator.Vote{Yes: true}
	case d.HasArg("no"):
		reason := strifev1.Reason_value["REASON_"+arg(t, d, "no")]
		require.NotZero(t, reason, "unknown reason")
		return coordinator.Vote{Reason: strifev1.Reason(reason)}
	}
	failure := map[string]coordinator.Failure{"unavailable": coordinator.Unavailable, "timeout": coordinator.Timeout, "rejected": coordinator.Rejected}[arg(t, d, "fail")]
	require.NotZero(t, failure, "unknown failure")
	return coordinator.Vote{Failure: failure}
}

func show(r coordinator.Ready) string {
	var b strings.Builder
	for _, rec := range r.Records {
		fmt.Fprintf(&b, "persist %v", rec.Type)
		if r.Mode == coordinator.Lazily {
			b.WriteString(" lazily")
		}
		if rec.Attempt > 0 {
			fmt.Fprintf(&b, " attempt=%d", rec.Attempt)
		}
		if d, ok := rec.Payload.(*storagev1.Decided); ok && d.GetResolved() {
			b.WriteString(" resolved")
		}
		if d, ok := rec.Payload.(*storagev1.Decided); ok && d.GetFinalStatus() != 0 {
			fmt.Fprintf(&b, " final=%v/%v", trim(d.GetFinalStatus().String()), trim(d.GetFinalReason().String()))
		}
		if final, ok := rec.Payload.(interface {
			GetStatus() strifev1.PaymentStatus
			GetReason() strifev1.Reason
		}); ok {
			fmt.Fprintf(&b, " %v %v", trim(final.GetStatus().String()), trim(final.GetReason().String()))
		}
		b.WriteString("\n")
	}
	for _, m := range r.Messages {
		fmt.Fprintf(&b, "send %v to %s attempt=%d", m.Kind, m.Bank, m.Attempt)
		if r.Mode == coordinator.InParallel {
			b.WriteString(" in parallel")
		}
		for _, l := range m.Legs {
			fmt.Fprintf(&b, " %s:%s:%d", trim(l.Direction.String()), l.Account, l.Amount)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func trim(s string) string {
	for _, prefix := range []string{"PAYMENT_STATUS_", "REASON_", "DIRECTION_"} {
		s = strings.TrimPrefix(s, prefix)
	}
	return s
}

func (s *coreScenario) payment() string {
	p := s.p
	out := fmt.Sprintf("payment: %s attempt=%d decision=%v ended=%v", trim(p.Status.String()), p.Attempt, p.Decision, p.Ended)
	if p.Reason != 0 {
		out += " reason=" + trim(p.Reason.String())
	}
	if p.Resolving() {
		out += " resolving"
	}
	if !p.Settled.IsZero() {
		out += " settled"
	}
	return out
}
