package banktest_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
)

// fakeEnv makes this test binary, run again with it set, act as the fake
// daemon it names instead of running the tests.
const fakeEnv = "STRIFE_TESTBANK_FAKE"

func TestMain(m *testing.M) {
	fake := os.Getenv(fakeEnv)
	if fake == "" {
		os.Exit(m.Run())
	}
	serving := func(port int) { fmt.Fprintf(os.Stderr, `{"message":"fake serving","addr":"127.0.0.1:%d"}`+"\n", port) }
	switch fake {
	case "chatty": // says it serves three times, then more than a pipe holds
		for port := range 3 {
			serving(7000 + port)
		}
		for range 4096 {
			fmt.Fprintln(os.Stderr, strings.Repeat("x", 99))
		}
	case "long-line": // a line longer than the reader's scanner takes
		serving(7000)
		fmt.Fprintln(os.Stderr, strings.Repeat("x", 2<<20))
		os.Exit(3)
	case "daemon": // serves until SIGTERM
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		serving(7000)
		<-ctx.Done()
		fmt.Fprintln(os.Stderr, `{"message":"fake stopped"}`)
	}
	os.Exit(0)
}

func fake(name string) banktest.Cmd {
	return banktest.Cmd{Path: os.Args[0], Args: []string{name}, Env: []string{fakeEnv + "=" + name}, Serving: "fake serving"}
}

// The reader never blocks the child: not on a Serving line after the
// first, nor on a line too long to scan. Either would leave the child
// blocked on a full stderr pipe, and Wait would time out.
func TestProcessReadsStderrToTheEnd(t *testing.T) {
	chatty := fake("chatty").Start(t)
	require.Equal(t, "127.0.0.1:7000", chatty.Addr, "the first Serving line's")
	require.Zero(t, chatty.Wait())
	require.Equal(t, 3, chatty.Count("fake serving"))
	require.Equal(t, 1, chatty.Count("fake serving", "addr", "127.0.0.1:7002"))

	long := fake("long-line").Start(t)
	require.Equal(t, 3, long.Wait())
	require.Contains(t, long.Logs(), `"fake serving"`)
}

func TestProcessStopAndKill(t *testing.T) {
	stopped := fake("daemon").Start(t)
	require.Zero(t, stopped.Stop(), "a clean exit on SIGTERM")
	require.Equal(t, 1, stopped.Count("fake stopped"))

	killed := fake("daemon").Start(t)
	killed.Kill()
	require.Zero(t, killed.Count("fake stopped"))
}
