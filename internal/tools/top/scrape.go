package top

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// maxExposition bounds what one scrape reads: a Strife daemon serves a few
// tens of kilobytes; an endpoint that serves more is not one to trust.
const maxExposition = 16 << 20

// scrape fetches and parses one endpoint's exposition. It asks for the
// text format, which every Prometheus client serves, and parses it with
// the Prometheus library's own parser.
func scrape(ctx context.Context, client *http.Client, url string, now time.Time) (*Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, maxExposition))
	if err != nil {
		return nil, fmt.Errorf("bad exposition: %w", err)
	}
	return &Sample{At: now, Families: families}, nil
}

// reason says in a few words why a scrape failed, for the DOWN row: the
// screen has no room for "Get \"http://127.0.0.1:7091/metrics\": dial tcp
// 127.0.0.1:7091: connect: connection refused".
func reason(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "no answer in time"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "connection closed"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && !strings.HasPrefix(msg, "bad exposition") {
		msg = msg[i+2:]
	}
	const width = 48
	if len(msg) > width {
		msg = msg[:width-1] + "…"
	}
	return msg
}
