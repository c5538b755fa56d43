package top_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/top"
)

// endpoint is a fake process's /metrics: it serves whatever exposition
// text it was last given, and can stop answering and come back on the same
// address, as a process that dies and is restarted does.
type endpoint struct {
	t    *testing.T
	addr string

	mu     sync.Mutex
	text   string
	status int
	delay  time.Duration
	srv    *httptest.Server
}

func newEndpoint(t *testing.T, text string) *endpoint {
	e := &endpoint{t: t, text: text, status: http.StatusOK}
	e.start("127.0.0.1:0")
	t.Cleanup(e.stop)
	return e
}

func (e *endpoint) start(addr string) {
	l, err := net.Listen("tcp", addr)
	require.NoError(e.t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(e.serve))
	srv.Listener = l
	srv.Start()
	e.mu.Lock()
	e.srv, e.addr = srv, l.Addr().String()
	e.mu.Unlock()
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	text, status, delay := e.text, e.status, e.delay
	e.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.WriteHeader(status)
	w.Write([]byte(text))
}

func (e *endpoint) set(text string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.text = text
}

// stop closes the listener and every connection: the next scrape is
// refused.
func (e *endpoint) stop() {
	e.mu.Lock()
	srv := e.srv
	e.srv = nil
	e.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// restart listens again on the same address.
func (e *endpoint) restart() { e.start(e.addr) }

func (e *endpoint) target(name string) top.Target {
	return top.Target{Name: name, URL: "http://" + e.addr + "/metrics"}
}

// fakeClock is a Monitor's clock that moves only when told.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time               { return c.now }
func (c *fakeClock) advance(d time.Duration)      { c.now = c.now.Add(d) }
func newClock() *fakeClock                        { return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }
func poll(t *testing.T, m *top.Monitor) top.Frame { return pollWithin(t, m, 2*time.Second) }

func pollWithin(t *testing.T, m *top.Monitor, d time.Duration) top.Frame {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return m.Poll(ctx)
}

func monitor(clock *fakeClock, targets ...top.Target) *top.Monitor {
	m := top.NewMonitor(targets, &http.Client{})
	m.Now = clock.Now
	return m
}
