package wal_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

// The crash tests run this test binary again as a child process that
// appends to a log until it is killed. The parent SIGKILLs it, reopens the
// log and checks what survived.
const (
	childEnv     = "WAL_CRASH_CHILD"
	childPathEnv = "WAL_CRASH_PATH"
	// groupSize records make up each Append; a crash must keep all or none.
	groupSize = 3
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "stream":
		crashChildStream(os.Getenv(childPathEnv))
	case "midtx":
		crashChildMidTx(os.Getenv(childPathEnv))
	}
	os.Exit(3) // unreachable: children are killed
}

func appendGroup(tx *wal.Tx, id ulid.ULID) error {
	for i := range groupSize {
		if _, err := tx.Append(wal.Record{Type: ledger.TypePrepared, TxID: id, Attempt: uint32(i), Payload: []byte("x")}); err != nil {
			return err
		}
	}
	return nil
}

// crashChildStream appends groups from 8 goroutines and prints the ID of each
// group once its Append has returned, i.e. once it is acknowledged.
func crashChildStream(path string) {
	l, err := wal.Open(path, wal.Options{LockTimeout: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	for range 8 {
		go func() {
			for {
				id := newID()
				if err := l.Append(func(tx *wal.Tx) error { return appendGroup(tx, id) }); err != nil {
					panic(err)
				}
				mu.Lock()
				fmt.Fprintln(out, id)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	select {}
}

// crashChildMidTx dies inside an Append, after its records are written to
// the transaction but before the commit and its fsync.
func crashChildMidTx(path string) {
	l, err := wal.Open(path, wal.Options{LockTimeout: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	_ = l.Append(func(tx *wal.Tx) error {
		if err := appendGroup(tx, newID()); err != nil {
			panic(err)
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	})
}

func startChild(t *testing.T, mode, path string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childPathEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(stdout)
}

// groups reopens the log and returns how many records each transaction ID
// has, checking that every record decodes and numbering has no gaps.
func groups(t *testing.T, path string) map[ulid.ULID]int {
	t.Helper()
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	defer l.Close()
	count := map[ulid.ULID]int{}
	var last uint64
	require.NoError(t, l.View(func(tx *wal.Tx) error {
		return tx.Scan(1, func(r wal.Record) error {
			require.Equal(t, last+1, r.Seq)
			last = r.Seq
			count[r.TxID]++
			return nil
		})
	}))
	return count
}

func TestKilledWriterKeepsEveryAcknowledgedAppendWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	acked := map[ulid.ULID]bool{}
	for round := range 3 {
		cmd, lines := startChild(t, "stream", path)
		// Kill at a different point of the stream each round.
		for n := 0; n < 100+round*150 && lines.Scan(); n++ {
			acked[ulid.MustParse(lines.Text())] = true
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		for lines.Scan() { // acknowledgements still in the pipe count too
			acked[ulid.MustParse(lines.Text())] = true
		}
		cmd.Wait()

		count := groups(t, path)
		for id := range acked {
			require.Equal(t, groupSize, count[id], "round %d: acknowledged append %s lost", round, id)
		}
		for id, n := range count {
			require.Equal(t, groupSize, n, "round %d: append %s is partly present", round, id)
		}
		t.Logf("round %d: %d appends acknowledged, %d on disk", round, len(acked), len(count))
	}
}

func TestAppendKilledBeforeItsCommitLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	before := newID()
	require.NoError(t, l.Append(func(tx *wal.Tx) error { return appendGroup(tx, before) }))
	require.NoError(t, l.Close())

	cmd, _ := startChild(t, "midtx", path)
	err = cmd.Wait()
	require.ErrorContains(t, err, "signal: killed")

	require.Equal(t, map[ulid.ULID]int{before: groupSize}, groups(t, path))
}
