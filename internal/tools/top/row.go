package top

import "math"

// State is what a row says about its process.
type State string

// The states of a row.
const (
	// StateUp: the endpoint answered this time and the last time; every
	// figure is shown.
	StateUp State = "up"
	// StateStarting: the first answer (or the first after DOWN with no
	// earlier answer): gauges are shown, rates and percentiles need a
	// second scrape.
	StateStarting State = "starting"
	// StateRestarted: a counter went down since the last answer, so the
	// process restarted in between; the interval's rates and percentiles
	// are unknown and left blank rather than shown negative.
	StateRestarted State = "restarted"
	// StateDown: the endpoint did not answer within the refresh; Reason
	// says why.
	StateDown State = "DOWN"
)

// A Row is one process's line on the screen. A figure is NaN when it is
// unknown (blank on screen): not exported by this kind of process, not
// computable yet, or no observations in the interval for a percentile.
type Row struct {
	Name   string
	Kind   Kind
	State  State
	Reason string // why DOWN; empty otherwise

	PaymentsPerSec float64
	P50, P99       float64 // seconds
	Held, InDoubt  float64
	FsyncP99       float64 // seconds
	ErrorsPerSec   float64
}

// unknown is a Row of NaN figures.
func unknown(name string) Row {
	nan := math.NaN()
	return Row{Name: name, Kind: KindOther, PaymentsPerSec: nan, P50: nan, P99: nan,
		Held: nan, InDoubt: nan, FsyncP99: nan, ErrorsPerSec: nan}
}

// Down is the row of a process whose endpoint did not answer; its Kind is
// empty (the Monitor fills in the kind it last saw).
func Down(name, reason string) Row {
	r := unknown(name)
	r.Kind, r.State, r.Reason = "", StateDown, reason
	return r
}

// Compute makes the row of a process from its latest sample cur and the
// one before it, prev (nil when there is none). Rates are counter deltas
// over the real time between the two scrapes; percentiles come from the
// histogram buckets' deltas, so they describe only that interval. Gauges
// are cur's. Compute does no I/O: it is the whole of what is shown.
func Compute(name string, prev, cur *Sample) Row {
	r := unknown(name)
	r.Kind, r.State = kindOf(cur), StateStarting
	rec := recipes[r.Kind]
	r.Held = gauge(cur, rec.held)
	r.InDoubt = gauge(cur, rec.inDoubt)
	if prev == nil {
		return r
	}
	if restarted(prev, cur, rec) {
		r.State = StateRestarted
		return r
	}
	r.State = StateUp
	elapsed := cur.At.Sub(prev.At).Seconds()
	r.PaymentsPerSec = rate(prev, cur, rec.payments, elapsed)
	r.ErrorsPerSec = rate(prev, cur, rec.errors, elapsed)
	r.P50 = intervalQuantile(0.5, prev, cur, rec.latency)
	r.P99 = intervalQuantile(0.99, prev, cur, rec.latency)
	r.FsyncP99 = intervalQuantile(0.99, prev, cur, rec.fsync)
	return r
}

func gauge(s *Sample, m match) float64 {
	if m.name == "" {
		return math.NaN()
	}
	v, ok := s.sum(m)
	if !ok {
		return math.NaN()
	}
	return v
}

// restarted reports whether any counter or histogram the row uses went
// down between prev and cur, or the process's start time changed: either
// means the process restarted and counts began again from zero.
func restarted(prev, cur *Sample, rec recipe) bool {
	start := match{name: "process_start_time_seconds"}
	if a, okA := prev.sum(start); okA {
		if b, okB := cur.sum(start); okB && a != b {
			return true
		}
	}
	for _, m := range []match{rec.payments, rec.errors} {
		if m.name == "" {
			continue
		}
		// A vector of counters serves nothing until its first increment,
		// so a family gone since prev counts as zero.
		a, _ := prev.sum(m)
		b, _ := cur.sum(m)
		if b < a {
			return true
		}
	}
	for _, m := range []match{rec.latency, rec.fsync} {
		if m.name == "" {
			continue
		}
		a, okA := prev.histogram(m)
		b, okB := cur.histogram(m)
		if okA && okB && b[len(b)-1].count < a[len(a)-1].count {
			return true
		}
	}
	return false
}

// rate is the per-second increase of the counters m selects between prev
// and cur, elapsed seconds apart. A family that appears only in cur (a
// CounterVec serves nothing until its first increment) counts from zero.
func rate(prev, cur *Sample, m match, elapsed float64) float64 {
	if m.name == "" || elapsed <= 0 {
		return math.NaN()
	}
	b, ok := cur.sum(m)
	if !ok {
		return 0
	}
	a, _ := prev.sum(m)
	return (b - a) / elapsed
}

// intervalQuantile is the q-quantile of the observations made between
// prev and cur of the histograms m selects, NaN when there were none.
func intervalQuantile(q float64, prev, cur *Sample, m match) float64 {
	if m.name == "" {
		return math.NaN()
	}
	b, ok := cur.histogram(m)
	if !ok {
		return math.NaN()
	}
	a, _ := prev.histogram(m)
	delta, ok := bucketDelta(a, b)
	if !ok {
		return math.NaN()
	}
	v, ok := quantile(q, delta)
	if !ok {
		return math.NaN()
	}
	return v
}
