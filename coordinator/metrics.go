package coordinator

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strife-pay/strife/internal/plumbing/metrics"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// Metrics measure a Coordinator (Config.Metrics). Nil measures nothing,
// and the coordinator then never reads the clock for them.
//
//	strife_payments_total{status,reason}  once per payment and status: when its first Pay is answered
//	                                      PENDING, and when it becomes final (committed, failed)
//	strife_phase_duration_seconds{phase}  prepare: staged until every vote is in (or the first NO);
//	                                      decide: decision taken until durable;
//	                                      commit, abort: decision durable until every bank acknowledged
//	strife_payments_held                  payments held PENDING now: answered (or due to be) PENDING
//	                                      because a bank could not be reached; not those in flight
//	strife_attempts_in_doubt{bank}        attempts decided or undecided that bank has not acknowledged
//	strife_decisions_undelivered          decisions not yet acknowledged by every bank
//
// The counters and histograms are updated on the payment's path, through
// children resolved once; the gauges are computed when scraped, from the
// payments active in memory, so they cost the path nothing.
type Metrics struct {
	committed, pending prometheus.Counter
	failed             map[strifev1.Reason]prometheus.Counter
	failedVec          *prometheus.CounterVec // for a reason this build does not know
	prepare, decide    prometheus.Observer
	commit, abort      prometheus.Observer
	gauges             *gauges
}

// NewMetrics makes the coordinator's metrics and registers them with reg.
// Pass the result to one Coordinator (Config.Metrics), which its gauges
// then read.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	payments := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strife_payments_total",
		Help: "Payments by status: counted when first answered PENDING, and when final (committed or failed, with the reason).",
	}, []string{"status", "reason"})
	phases := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "strife_phase_duration_seconds",
		Help:    "Each two-phase commit phase at the gateway: prepare (votes in), decide (decision durable), commit and abort (every bank acknowledged).",
		Buckets: metrics.LatencyBuckets,
	}, []string{"phase"})
	m := &Metrics{
		committed: payments.WithLabelValues("committed", ""),
		pending:   payments.WithLabelValues("pending", ""),
		failed:    map[strifev1.Reason]prometheus.Counter{},
		failedVec: payments,
		prepare:   phases.WithLabelValues("prepare"),
		decide:    phases.WithLabelValues("decide"),
		commit:    phases.WithLabelValues("commit"),
		abort:     phases.WithLabelValues("abort"),
		gauges:    newGauges(),
	}
	for n := range strifev1.Reason_name {
		r := strifev1.Reason(n)
		m.failed[r] = payments.WithLabelValues("failed", ReasonLabel(r))
	}
	reg.MustRegister(payments, phases, m.gauges)
	return m
}

// ReasonLabel is a failure reason as a label value: its enum name in lower
// case without the prefix ("insufficient_funds"), "" for none.
func ReasonLabel(r strifev1.Reason) string {
	if r == strifev1.Reason_REASON_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(r.String(), "REASON_"))
}

// now is the time of a measure: zero without metrics.
func (m *Metrics) now() time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}

// answeredPending counts a payment whose first Pay was answered PENDING.
func (m *Metrics) answeredPending() {
	if m != nil {
		m.pending.Inc()
	}
}

// final counts a payment that became final.
func (m *Metrics) final(p Payment) {
	switch {
	case p.Status == Committed:
		m.committed.Inc()
	case m.failed[p.Reason] != nil:
		m.failed[p.Reason].Inc()
	default:
		m.failedVec.WithLabelValues("failed", ReasonLabel(p.Reason)).Inc()
	}
}

// phases is when the phases of a run's latest attempt began (zero: not
// seen by this incarnation, e.g. staged before a restart). Guarded by the
// run's mu.
type phases struct {
	prepared time.Time // Prepares sent, the attempt staging
	deciding time.Time // the decision taken, its record on its way
	durable  time.Time // the decision durable, its messages sent
}

// deciding is called by a step before it persists its records, at start:
// a new attempt's Prepares leave now (ATTEMPT_STAGED), or a decision is
// taken (DECISION_COMMIT, DECISION_ABORT).
func (m *Metrics) deciding(r *run, ready Ready, start time.Time) {
	if m == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range ready.Records {
		switch rec.Type {
		case TypeAttemptStaged:
			r.phases = phases{prepared: start}
		case TypePaymentAccepted:
			if rec.Attempt != 0 { // it stages the first attempt (Payment.AcceptStaged)
				r.phases = phases{prepared: start}
			}
		case TypeDecisionCommit, TypeDecisionAbort:
			if !r.phases.prepared.IsZero() {
				m.prepare.Observe(start.Sub(r.phases.prepared).Seconds())
			}
			r.phases.deciding = start
		}
	}
}

// decides reports whether a step's records hold a decision.
func decides(ready Ready) bool {
	return slices.ContainsFunc(ready.Records, func(rec Record) bool {
		return rec.Type == TypeDecisionCommit || rec.Type == TypeDecisionAbort
	})
}

// decisionDurable measures the decide phase of r's latest attempt, whose
// decision is durable now, and starts its commit or abort phase.
func (m *Metrics) decisionDurable(r *run) {
	if m == nil {
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.phases.deciding.IsZero() {
		m.decide.Observe(now.Sub(r.phases.deciding).Seconds())
	}
	r.phases.durable = now
}

// stepped measures what a step changed, once its records are persisted
// (after: the payment they made): a decision persisted Durably, the last
// acknowledgement, a final status. A decision persisted Lazily is durable
// later (see persistLazily).
func (m *Metrics) stepped(r *run, before, after Payment, ready Ready, err error) {
	if m == nil || err != nil {
		return
	}
	if ready.Mode != Lazily && decides(ready) {
		m.decisionDurable(r)
	}
	if !before.Ended && after.Ended && before.Attempt == after.Attempt {
		m.ended(r, after.Decision)
	}
	if after.Final() && !before.Final() {
		m.final(after)
	}
}

// ended measures the commit or abort phase of an attempt every bank has
// now acknowledged.
func (m *Metrics) ended(r *run, d Decision) {
	r.mu.Lock()
	durable := r.phases.durable
	r.mu.Unlock()
	if durable.IsZero() {
		return
	}
	took := time.Since(durable).Seconds()
	if d == DecisionCommit {
		m.commit.Observe(took)
	} else {
		m.abort.Observe(took)
	}
}

// gauges computes the coordinator's gauges when scraped, from the payments
// it has active.
type gauges struct {
	coord                      atomic.Pointer[Coordinator]
	held, inDoubt, undelivered *prometheus.Desc

	mu    sync.Mutex
	banks map[string]bool // every bank seen in doubt: reported at 0 after
}

func newGauges() *gauges {
	return &gauges{
		held:        prometheus.NewDesc("strife_payments_held", "Payments held PENDING at the gateway now, after their first answer (a bank could not be reached); not those in flight.", nil, nil),
		inDoubt:     prometheus.NewDesc("strife_attempts_in_doubt", "Attempts, decided or not, that this bank has not acknowledged.", []string{"bank"}, nil),
		undelivered: prometheus.NewDesc("strife_decisions_undelivered", "Decisions recorded and not yet acknowledged by every bank.", nil, nil),
		banks:       map[string]bool{},
	}
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.held
	ch <- g.inDoubt
	ch <- g.undelivered
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	var held, undelivered int
	inDoubt := map[string]int{}
	if c := g.coord.Load(); c != nil {
		for _, a := range c.activePayments() {
			p := a.Payment
			held, undelivered = held+count(a.held()), undelivered+count(p.Decision != DecisionNone && !p.Ended)
			for _, bank := range p.unacknowledged() {
				inDoubt[bank]++
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(g.held, prometheus.GaugeValue, float64(held))
	ch <- prometheus.MustNewConstMetric(g.undelivered, prometheus.GaugeValue, float64(undelivered))
	g.mu.Lock()
	defer g.mu.Unlock()
	for bank := range inDoubt {
		g.banks[bank] = true
	}
	for _, bank := range slices.Sorted(maps.Keys(g.banks)) {
		ch <- prometheus.MustNewConstMetric(g.inDoubt, prometheus.GaugeValue, float64(inDoubt[bank]), bank)
	}
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// unacknowledged are the banks of p's latest attempt that have not
// acknowledged its decision (or have no decision to acknowledge yet).
func (p Payment) unacknowledged() []string {
	if p.Attempt == 0 || p.Ended {
		return nil
	}
	var banks []string
	for _, bank := range p.Participants() {
		if !p.Round.known(p.Attempt) || !p.Round.Acks[bank] {
			banks = append(banks, bank)
		}
	}
	return banks
}

// active is an accepted payment active now, as its run holds it.
type active struct {
	Payment
	answered bool // its first Pay's answer is known (run.outcome is closed)
}

// held reports whether the payment is held: PENDING after its first
// answer, so that the first caller was told PENDING (or would have been),
// because a bank could not be reached. A payment still in its first
// attempt is in flight, not held.
func (a active) held() bool { return a.Status == Pending && a.answered }

// activePayments are the accepted payments active now.
func (c *Coordinator) activePayments() []active {
	c.mu.Lock()
	runs := slices.Collect(maps.Values(c.active))
	c.mu.Unlock()
	payments := make([]active, 0, len(runs))
	for _, r := range runs {
		select {
		case <-r.accepted:
			if r.acceptErr == nil {
				payments = append(payments, active{Payment: r.snapshot(), answered: closed(r.outcome)})
			}
		default:
		}
	}
	return payments
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
