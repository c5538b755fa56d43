package bench

import (
	"io"
	"net/http"
	"time"
)

// metricsArgs gives a daemon process a metrics listener on a free port, and
// remembers its URL for the scraper, when the run measures with metrics
// (Options.Metrics); none otherwise. A port that cannot be had is left
// out: the run then measures one scraper fewer, which the daemon's own
// failure to start would make plain anyway.
func (d *deployment) metricsArgs() []string {
	if !d.metrics {
		return nil
	}
	addr, err := freeAddr()
	if err != nil {
		return nil
	}
	d.scrape = append(d.scrape, "http://"+addr+"/metrics")
	return []string{"--metrics-listen", addr}
}

// scrapeEverySecond reads every daemon's metrics once a second, as
// strife top or a Prometheus server would, until stop. The answers are
// read in full and dropped: the cost measured is the daemons' (recording,
// then rendering), not what a scraper does with them.
func (d *deployment) scrapeEverySecond() {
	if len(d.scrape) == 0 {
		return
	}
	d.stopScrape = make(chan struct{})
	client := &http.Client{Timeout: time.Second}
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-d.stopScrape:
				return
			case <-tick.C:
			}
			for _, url := range d.scrape {
				if resp, err := client.Get(url); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	}()
}
