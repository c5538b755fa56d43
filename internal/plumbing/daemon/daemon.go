package daemon

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/rs/zerolog"
)

// Running is a started daemon, as Run serves it.
type Running interface {
	// Stop drains and stops; calling it again does nothing.
	Stop() error
	// Done delivers the error that made the server stop serving.
	Done() <-chan error
}

// Run starts a server and serves until SIGTERM or SIGINT, when it drains
// and stops, or until the server stops serving on its own: then the error
// says so, prefixed with name (the daemon's package, as its errors are).
func Run(name string, log zerolog.Logger, start func() (Running, error)) error {
	TuneGC()
	if path := os.Getenv(ProfileEnv); path != "" {
		stop, err := profile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer stop()
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	s, err := start()
	if err != nil {
		return err
	}
	select {
	case sig := <-signals:
		log.Info().Stringer("signal", sig).Msg("draining")
		return s.Stop()
	case err := <-s.Done():
		s.Stop()
		return fmt.Errorf("%s: server stopped: %w", name, err)
	}
}

// GCPercent is the garbage collector's target for Strife's daemons: the heap
// may grow to five times what is live before a collection, instead of Go's
// default of twice. A daemon's live heap is a few tens of megabytes, and
// under load every payment allocates (gRPC, protobuf, bbolt nodes): with the
// default, collection took a quarter of the gateway's CPU. At 256 payers
// this setting raised throughput by about 40% for about 50% more memory
// (DESIGN.md, "Performance").
const GCPercent = 400

// TuneGC sets GCPercent, unless the GOGC environment variable is set: an
// operator's explicit choice wins.
func TuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(GCPercent)
	}
}

// ProfileEnv names an environment variable: when it is set, Run writes a
// CPU profile of the daemon's whole run, until it has drained, to the file
// it names. strife-bench --profile-dir sets it for each daemon it starts.
const ProfileEnv = "STRIFE_CPUPROFILE"

// profile starts a CPU profile into a new file at path and returns what
// stops it and closes the file.
func profile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
