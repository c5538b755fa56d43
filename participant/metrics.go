package participant

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strife-pay/strife/ledger"
)

// Metrics measure a Participant (Config.Metrics). Nil measures nothing.
//
//	strife_bank_votes_total{vote}        Prepare votes given (yes, no); an answer from the log is not a new vote
//	strife_bank_outcomes_total{outcome}  decisions applied: committed, aborted (a YES undone, or a tombstone)
//	strife_bank_holds                    holds and pending credits open now
//	strife_bank_in_doubt                 prepared attempts awaiting the gateway's decision
//
// The gauges are computed when scraped: the holds counted in the ledger,
// the attempts in doubt as the participant watches them.
type Metrics struct {
	yes, no            prometheus.Counter
	committed, aborted prometheus.Counter
	holds, inDoubt     prometheus.Collector
	source             *source
}

// source is what the gauges read, set by New.
type source struct{ p *Participant }

// NewMetrics makes the bank's metrics and registers them with reg. Pass the
// result to one Participant, which its gauges then read.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	votes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strife_bank_votes_total", Help: "Prepare votes given."}, []string{"vote"})
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strife_bank_outcomes_total", Help: "Decisions applied."}, []string{"outcome"})
	src := &source{}
	m := &Metrics{
		yes: votes.WithLabelValues("yes"), no: votes.WithLabelValues("no"),
		committed: outcomes.WithLabelValues("committed"), aborted: outcomes.WithLabelValues("aborted"),
		holds: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "strife_bank_holds", Help: "Holds and pending credits open now (prepared, undecided)."},
			func() float64 { return float64(src.holds()) }),
		inDoubt: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "strife_bank_in_doubt", Help: "Prepared attempts awaiting the gateway's decision."},
			func() float64 { return float64(src.inDoubt()) }),
		source: src,
	}
	reg.MustRegister(votes, outcomes, m.holds, m.inDoubt)
	return m
}

func (s *source) holds() int {
	if s.p == nil {
		return 0
	}
	var n int
	_ = s.p.ledger.View(func(tx *ledger.Tx) (err error) {
		n, err = tx.HoldCount()
		return err
	})
	return n
}

func (s *source) inDoubt() int {
	if s.p == nil {
		return 0
	}
	d := s.p.doubts
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.watches)
}

// applied counts what one op of a batch did, once durable.
func (m *Metrics) applied(act action, out Outcome) {
	if m == nil || out.Err != nil {
		return
	}
	switch {
	case act == actVote && out.Vote.Yes:
		m.yes.Inc()
	case act == actVote:
		m.no.Inc()
	case act == actCommit:
		m.committed.Inc()
	case act == actAbort || act == actTombstone:
		m.aborted.Inc()
	}
}
