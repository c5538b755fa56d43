package participant_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/participant"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// scripted is a coordinator that fails a given number of times per attempt,
// then answers its decision, and records who asked about what.
type scripted struct {
	mu        sync.Mutex
	decisions map[ulid.ULID]participant.Decision
	failFirst int
	calls     map[ulid.ULID]int
	names     []string
}

func newScripted(failFirst int) *scripted {
	return &scripted{decisions: map[ulid.ULID]participant.Decision{}, calls: map[ulid.ULID]int{}, failFirst: failFirst}
}

func (c *scripted) GetDecision(_ context.Context, name string, id ulid.ULID, _ uint32) (participant.Decision, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[id]++
	c.names = append(c.names, name)
	if c.calls[id] <= c.failFirst {
		return 0, errors.New("coordinator unavailable")
	}
	return c.decisions[id], nil
}

func (c *scripted) callsFor(id ulid.ULID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

// bank is a participant over a ledger file, without gRPC.
type bank struct {
	path   string
	log    *wal.Log
	l      *ledger.Ledger
	p      *participant.Participant
	closed bool
}

func openBank(t *testing.T, path string, coord participant.Coordinator, timeout time.Duration) *bank {
	t.Helper()
	return openBankWithClock(t, path, coord, timeout, nil)
}

// openBankWithClock is openBank with now as the ledger's clock.
func openBankWithClock(t *testing.T, path string, coord participant.Coordinator, timeout time.Duration, now func() time.Time) *bank {
	t.Helper()
	b := &bank{path: path}
	var err error
	b.log, err = wal.Open(path, wal.Options{})
	require.NoError(t, err)
	b.l, err = ledger.New(b.log, now)
	require.NoError(t, err)
	b.p, err = participant.New(b.l, coord, participant.Config{
		InDoubtTimeout: timeout, RetryMin: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond, Log: zerolog.New(zerolog.NewTestWriter(t)),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if !b.closed {
			require.NoError(t, b.l.Verify(), "ledger invariants")
		}
		b.close()
	})
	return b
}

func (b *bank) close() {
	b.p.Close()
	b.log.Close()
	b.closed = true
}

func (b *bank) account(t *testing.T, number string) ledger.Account {
	var a ledger.Account
	require.NoError(t, b.l.View(func(tx *ledger.Tx) (err error) { a, err = tx.Account(number); return err }))
	return a
}

func (b *bank) debit(t *testing.T, id ulid.ULID, amount int64) {
	vote, err := b.p.Prepare(participant.Request{TxID: id, Attempt: 1, Coordinator: "gateway-1",
		Legs: []*storagev1.Leg{{Number: "1001", Direction: ledger.Debit, Amount: amount}}})
	require.NoError(t, err)
	require.True(t, vote.Yes)
}

func newBankWithAccount(t *testing.T, coord participant.Coordinator, timeout time.Duration) *bank {
	b := openBank(t, filepath.Join(t.TempDir(), "bank.db"), coord, timeout)
	require.NoError(t, b.l.Update(func(tx *ledger.Tx) error { _, _, err := tx.OpenAccount("1001", "alice", 1000); return err }))
	return b
}

// eventually polls cond every 10ms for up to 5s.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, 10*time.Millisecond, msg)
}

func TestInDoubtAttemptAsksUntilItGetsAnAnswer(t *testing.T) {
	coord := newScripted(2)
	b := newBankWithAccount(t, coord, 30*time.Millisecond)
	commit, abort := ulid.Make(), ulid.Make()
	coord.decisions[commit] = participant.DecisionCommit
	coord.decisions[abort] = participant.DecisionAbort
	b.debit(t, commit, 100)
	b.debit(t, abort, 200)
	require.Equal(t, int64(300), b.account(t, "1001").Held)

	eventually(t, func() bool { return b.account(t, "1001").Held == 0 }, "in-doubt attempts resolved")
	require.Equal(t, int64(900), b.account(t, "1001").Balance, "COMMIT posted, ABORT released")
	require.Equal(t, 3, coord.callsFor(commit), "two failures, then the answer")
	require.Equal(t, 3, coord.callsFor(abort))
	require.Subset(t, []string{"gateway-1"}, coord.names, "asks the coordinator that prepared it")
	doubts, err := b.p.InDoubt()
	require.NoError(t, err)
	require.Empty(t, doubts)
}

func TestDecisionInTimeMeansNoQuestion(t *testing.T) {
	coord := newScripted(0)
	b := newBankWithAccount(t, coord, 100*time.Millisecond)
	id := ulid.Make()
	b.debit(t, id, 100)
	require.NoError(t, b.p.Commit(id, 1))
	time.Sleep(300 * time.Millisecond) // three timeouts: a timer left running would fire
	require.Zero(t, coord.callsFor(id))
}

// A Prepare repeated after the Commit is answered YES from the log, and
// does not put the attempt in doubt again: nobody is asked about it.
func TestRepeatedPrepareOfACommittedAttemptMeansNoQuestion(t *testing.T) {
	coord := newScripted(0)
	b := newBankWithAccount(t, coord, 10*time.Millisecond)
	id := ulid.Make()
	b.debit(t, id, 100)
	require.NoError(t, b.p.Commit(id, 1))
	// On a loaded machine the first Prepare's own watch may have asked
	// before the Commit landed; only questions after it count.
	settled := coord.callsFor(id)
	b.debit(t, id, 100)
	time.Sleep(100 * time.Millisecond) // ten timeouts: a watch started by the repeat would fire
	require.LessOrEqual(t, coord.callsFor(id), settled+1, "at most the question already in flight")
	require.Equal(t, int64(900), b.account(t, "1001").Balance)
}

func TestInDoubtAttemptsAreResolvedAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bank.db")
	coord := newScripted(0)
	b := openBank(t, path, coord, time.Hour)
	require.NoError(t, b.l.Update(func(tx *ledger.Tx) error { _, _, err := tx.OpenAccount("1001", "alice", 1000); return err }))
	id := ulid.Make()
	coord.decisions[id] = participant.DecisionCommit
	b.debit(t, id, 100)
	b.close()

	b = openBank(t, path, coord, 30*time.Millisecond)
	require.Equal(t, int64(100), b.account(t, "1001").Held, "the hold survives the restart")
	eventually(t, func() bool { return b.account(t, "1001").Held == 0 }, "resolved after restart")
	require.Equal(t, int64(900), b.account(t, "1001").Balance)
}

func TestCloseStopsAResolverThatKeepsFailing(t *testing.T) {
	coord := newScripted(1 << 30)
	b := newBankWithAccount(t, coord, 10*time.Millisecond)
	id := ulid.Make()
	b.debit(t, id, 100)
	eventually(t, func() bool { return coord.callsFor(id) >= 3 }, "retrying")

	closed := make(chan struct{})
	go func() { b.p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not stop the resolver")
	}
	require.Equal(t, int64(100), b.account(t, "1001").Held, "still in doubt: a participant never decides alone")
}

func TestADecisionStopsAResolverAlreadyAsking(t *testing.T) {
	coord := newScripted(1 << 30)
	b := newBankWithAccount(t, coord, 10*time.Millisecond)
	id := ulid.Make()
	b.debit(t, id, 100)
	eventually(t, func() bool { return coord.callsFor(id) >= 2 }, "asking")

	require.NoError(t, b.p.Commit(id, 1)) // the coordinator got through after all
	settled := coord.callsFor(id)
	time.Sleep(200 * time.Millisecond) // five times RetryMax: a live resolver would ask again
	require.LessOrEqual(t, coord.callsFor(id), settled+1, "at most the call already in flight")
	require.Equal(t, int64(900), b.account(t, "1001").Balance)
}
