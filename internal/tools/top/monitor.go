package top

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// A Target is one endpoint to watch: the name shown on its row and the URL
// of its Prometheus exposition.
type Target struct {
	Name string
	URL  string
}

// A Frame is one screen: a row per target, in the targets' order.
type Frame struct {
	At   time.Time
	Rows []Row
}

// A Monitor scrapes its targets and keeps, per target, the last sample it
// got, from which the next frame's rates are computed. A target that does
// not answer keeps its last sample, so that when it answers again its
// figures cover the whole gap (or it shows as restarted).
//
// A Monitor is not safe for concurrent use: one goroutine polls it.
type Monitor struct {
	targets []Target
	client  *http.Client
	last    []*Sample
	// Now is the clock scrapes are stamped with; tests set it to make
	// elapsed times exact.
	Now func() time.Time
}

// NewMonitor returns a Monitor of targets that scrapes with client.
func NewMonitor(targets []Target, client *http.Client) *Monitor {
	return &Monitor{targets: targets, client: client, last: make([]*Sample, len(targets)), Now: time.Now}
}

// Poll scrapes every target at once, each bounded by ctx (whose deadline
// is the refresh interval in strife top), and returns the frame.
func (m *Monitor) Poll(ctx context.Context) Frame {
	frame := Frame{At: m.Now(), Rows: make([]Row, len(m.targets))}
	samples := make([]*Sample, len(m.targets))
	errs := make([]error, len(m.targets))
	var wg sync.WaitGroup
	for i, t := range m.targets {
		wg.Go(func() {
			samples[i], errs[i] = scrape(ctx, m.client, t.URL, m.Now())
		})
	}
	wg.Wait()
	for i, t := range m.targets {
		if errs[i] != nil {
			frame.Rows[i] = Down(t.Name, reason(errs[i]))
			if m.last[i] != nil {
				frame.Rows[i].Kind = kindOf(m.last[i])
			}
			continue
		}
		frame.Rows[i] = Compute(t.Name, m.last[i], samples[i])
		m.last[i] = samples[i]
	}
	return frame
}
