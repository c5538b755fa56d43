package metricstest

import (
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// Scrape is one scrape of an endpoint: its metric families by name.
type Scrape map[string]*dto.MetricFamily

// Get scrapes http://addr/metrics.
func Get(t testing.TB, addr string) Scrape {
	t.Helper()
	s, err := get(addr)
	require.NoError(t, err)
	return s
}

func get(addr string) (Scrape, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	return Scrape(families), err
}

// Value is the value of the series of name with labels (name, value
// pairs; the series must have no other): a counter's or a gauge's value,
// a histogram's count. 0 if there is no such series.
func (s Scrape) Value(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	for _, m := range f.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		case m.GetUntyped() != nil:
			return m.GetUntyped().GetValue()
		}
	}
	return 0
}

// Sum is the sum of Value over every series of name.
func (s Scrape) Sum(name string) float64 {
	var sum float64
	for _, m := range s[name].GetMetric() {
		switch {
		case m.GetCounter() != nil:
			sum += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			sum += m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, labels []string) bool {
	if len(m.GetLabel())*2 != len(labels) {
		return false
	}
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
		}
		if !found {
			return false
		}
	}
	return true
}

// Lint lints the exposition of http://addr/metrics with promlint
// (testutil.GatherAndLint) and fails the test on any problem.
func Lint(t testing.TB, addr string) {
	t.Helper()
	gatherer := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		s, err := get(addr)
		families := make([]*dto.MetricFamily, 0, len(s))
		for _, f := range s {
			families = append(families, f)
		}
		sort.Slice(families, func(i, j int) bool { return families[i].GetName() < families[j].GetName() })
		return families, err
	})
	problems, err := testutil.GatherAndLint(gatherer)
	require.NoError(t, err)
	require.Empty(t, problems, "lint of http://%s/metrics", addr)
}
