// Package daemon is what Strife's long-running programs share: serving
// until a signal, then draining.
package daemon

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
)

// Server is a started daemon.
type Server interface {
	// Stop drains and stops; calling it again does nothing.
	Stop() error
	// Done delivers the error that made the server stop serving.
	Done() <-chan error
}

// Run starts a server and serves until SIGTERM or SIGINT, when it drains
// and stops, or until the server stops serving on its own.
func Run(log zerolog.Logger, start func() (Server, error)) error {
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
		return fmt.Errorf("server stopped: %w", err)
	}
}
