package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

// NewRegistry returns a registry of the process's own, with the Go runtime
// (go_*) and process (process_*) collectors registered.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Server serves a registry at /metrics over plain HTTP on a listener of its
// own. Metrics are not secret (no label carries a user, an account or an
// ID), and a scraper should not need a client certificate; it listens on
// loopback unless told otherwise.
type Server struct {
	lis  net.Listener
	http *http.Server
	done chan struct{}
}

// readTimeout bounds how long a scraper may take to send its request.
const readTimeout = 5 * time.Second

// Serve listens on addr (port 0 picks one; see Addr) and serves reg at
// /metrics until Close.
func Serve(addr string, reg *prometheus.Registry, log zerolog.Logger) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s := &Server{lis: lis, http: &http.Server{Handler: mux, ReadHeaderTimeout: readTimeout}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics listener failed")
		}
	}()
	log.Info().Str("addr", s.Addr()).Msg("metrics serving")
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Close stops the listener and waits, briefly, for scrapes in flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	<-s.done
	return err
}

// LatencyBuckets are the buckets of Strife's latency histograms, in
// seconds: 100µs to about 26s, doubling, fine enough at the low end for
// an fsync and long enough for a prepare that times out.
var LatencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 19)

// Flag declares --metrics-listen, the same on every daemon: empty (the
// default) serves no metrics, and the daemon then measures nothing.
func Flag(f *pflag.FlagSet, addr *string) {
	f.StringVar(addr, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:7090 (default: no metrics)")
}
