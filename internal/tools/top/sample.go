package top

import (
	"math"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// A Sample is one scrape of one endpoint: the metric families it served
// and the time the scrape was sent, which is the time its values describe
// (as Prometheus stamps a scrape).
type Sample struct {
	At       time.Time
	Families map[string]*dto.MetricFamily
}

// A match selects the series of a family by label: every listed label must
// have the value given, and every label in not must differ from its value.
type match struct {
	name string
	is   map[string]string
	not  map[string]string
}

func (m match) selects(series *dto.Metric) bool {
	labels := make(map[string]string, len(series.GetLabel()))
	for _, l := range series.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	for k, v := range m.is {
		if labels[k] != v {
			return false
		}
	}
	for k, v := range m.not {
		if labels[k] == v {
			return false
		}
	}
	return true
}

// series returns the series of the family m names that m selects, and
// whether the family was served at all.
func (s *Sample) series(m match) ([]*dto.Metric, bool) {
	fam, ok := s.Families[m.name]
	if !ok {
		return nil, false
	}
	var out []*dto.Metric
	for _, series := range fam.GetMetric() {
		if m.selects(series) {
			out = append(out, series)
		}
	}
	return out, true
}

// sum adds up the counter or gauge values of the series m selects. ok is
// false when the family is not served, which is not the same as zero: a
// figure the process does not export is shown blank.
func (s *Sample) sum(m match) (total float64, ok bool) {
	all, ok := s.series(m)
	for _, series := range all {
		switch {
		case series.Counter != nil:
			total += series.Counter.GetValue()
		case series.Gauge != nil:
			total += series.Gauge.GetValue()
		case series.Untyped != nil:
			total += series.Untyped.GetValue()
		}
	}
	return total, ok
}

// A bucket is a cumulative histogram bucket: count observations were at
// most upper. The last bucket of a histogram is always +Inf and holds the
// total count.
type bucket struct {
	upper float64
	count float64
}

// histogram merges the histograms of the series m selects into one list
// of cumulative buckets, by upper bound (series of one family share their
// bounds, as the gRPC handling-time histograms of every method do).
func (s *Sample) histogram(m match) ([]bucket, bool) {
	all, ok := s.series(m)
	if !ok {
		return nil, false
	}
	counts := map[float64]float64{math.Inf(1): 0}
	for _, series := range all {
		h := series.GetHistogram()
		if h == nil {
			continue
		}
		// The text format lists the +Inf bucket too; the count is the
		// same figure, and is what a client with no +Inf bucket serves.
		for _, b := range h.GetBucket() {
			if !math.IsInf(b.GetUpperBound(), 1) {
				counts[b.GetUpperBound()] += float64(b.GetCumulativeCount()) + b.GetCumulativeCountFloat()
			}
		}
		counts[math.Inf(1)] += float64(h.GetSampleCount()) + h.GetSampleCountFloat()
	}
	out := make([]bucket, 0, len(counts))
	for upper, count := range counts {
		out = append(out, bucket{upper, count})
	}
	slices.SortFunc(out, func(a, b bucket) int { return cmpFloat(a.upper, b.upper) })
	return out, true
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// bucketDelta returns the observations made between two scrapes of a
// histogram, bucket by bucket, and false if any bucket went down (the
// process restarted in between). A bound missing from prev (a series that
// appeared since, such as a gRPC method first called) counts from zero.
func bucketDelta(prev, cur []bucket) ([]bucket, bool) {
	before := make(map[float64]float64, len(prev))
	for _, b := range prev {
		before[b.upper] = b.count
	}
	out := make([]bucket, len(cur))
	for i, b := range cur {
		if b.count < before[b.upper] {
			return nil, false
		}
		out[i] = bucket{b.upper, b.count - before[b.upper]}
	}
	return out, true
}

// quantile estimates the q-quantile (0 ≤ q ≤ 1) of the observations in
// cumulative buckets as Prometheus' histogram_quantile does: find the
// bucket the rank falls in and interpolate linearly inside it, taking 0 as
// the lower bound of the first bucket; a rank in the +Inf bucket answers
// the highest finite bound. ok is false when there is nothing to estimate
// from (no observations, or no finite bucket).
func quantile(q float64, buckets []bucket) (float64, bool) {
	n := len(buckets)
	if n < 2 || !math.IsInf(buckets[n-1].upper, 1) || buckets[n-1].count == 0 {
		return 0, false
	}
	rank := q * buckets[n-1].count
	b := 0
	for b < n-1 && buckets[b].count < rank {
		b++
	}
	if b == n-1 {
		return buckets[n-2].upper, true
	}
	if b == 0 && buckets[0].upper <= 0 {
		return buckets[0].upper, true
	}
	start, end, count := 0.0, buckets[b].upper, buckets[b].count
	if b > 0 {
		start = buckets[b-1].upper
		count -= buckets[b-1].count
		rank -= buckets[b-1].count
	}
	if count == 0 {
		return end, true
	}
	return start + (end-start)*(rank/count), true
}
