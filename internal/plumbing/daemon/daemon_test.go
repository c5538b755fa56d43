package daemon_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/plumbing/daemon"
)

func TestTuneGCSetsTheTargetUnlessGOGCIsSet(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	require.NoError(t, os.Unsetenv("GOGC"))
	daemon.TuneGC()
	require.Equal(t, daemon.GCPercent, debug.SetGCPercent(100), "GOGC unset: Strife's target")

	t.Setenv("GOGC", "50") // as the operator started the process
	debug.SetGCPercent(50)
	daemon.TuneGC()
	require.Equal(t, 50, debug.SetGCPercent(100), "GOGC set: the operator's choice")
}

// server is a daemon.Running that counts its stops.
type server struct {
	done    chan error
	stops   int
	stopErr error
}

func newServer() *server { return &server{done: make(chan error, 1)} }

func (s *server) Stop() error        { s.stops++; return s.stopErr }
func (s *server) Done() <-chan error { return s.done }

func TestRunReturnsWhatStartFailedWith(t *testing.T) {
	errStart := errors.New("cannot listen")
	err := daemon.Run("testd", zerolog.Nop(), func() (daemon.Running, error) { return nil, errStart })
	require.ErrorIs(t, err, errStart)
}

func TestRunStopsAServerThatStoppedServingAndSaysWhy(t *testing.T) {
	errServe := errors.New("listener closed")
	s := newServer()
	s.done <- errServe
	err := daemon.Run("testd", zerolog.Nop(), func() (daemon.Running, error) { return s, nil })
	require.ErrorIs(t, err, errServe)
	require.EqualError(t, err, "testd: server stopped: listener closed")
	require.Equal(t, 1, s.stops)
}

func TestRunDrainsOnSIGTERM(t *testing.T) {
	var log bytes.Buffer
	s := newServer()
	s.stopErr = errors.New("drain timed out")
	err := daemon.Run("testd", zerolog.New(&log), func() (daemon.Running, error) {
		// Run listens for signals before it starts the server: this one,
		// sent while it starts, is the first Run sees.
		self, err := os.FindProcess(os.Getpid())
		require.NoError(t, err)
		require.NoError(t, self.Signal(syscall.SIGTERM))
		return s, nil
	})
	require.ErrorIs(t, err, s.stopErr, "Run returns what Stop returns")
	require.Equal(t, 1, s.stops)
	require.Contains(t, log.String(), `"message":"draining"`)
}

// With ProfileEnv set, Run leaves a CPU profile of the run behind.
func TestRunWritesACPUProfileWhenAsked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.pprof")
	t.Setenv(daemon.ProfileEnv, path)
	s := newServer()
	s.done <- errors.New("done")
	daemon.Run("testd", zerolog.Nop(), func() (daemon.Running, error) { return s, nil })
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Positive(t, info.Size(), "a profile, even of an idle run, has a header")

	t.Setenv(daemon.ProfileEnv, filepath.Join(t.TempDir(), "missing", "d.pprof"))
	err = daemon.Run("testd", zerolog.Nop(), func() (daemon.Running, error) { return newServer(), nil })
	require.ErrorContains(t, err, "testd: cpu profile")
}
