package recovery_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/tools/recovery"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// bank votes YES to anything up to 1000 and acknowledges every decision.
type bank struct{}

func (bank) Prepare(_ context.Context, _ ulid.ULID, _ uint32, legs []*strifev1.Leg, _ string) (coordinator.Vote, error) {
	if legs[0].GetAmount() > 1000 {
		return coordinator.Vote{Reason: strifev1.Reason_REASON_INSUFFICIENT_FUNDS}, nil
	}
	return coordinator.Vote{Yes: true}, nil
}
func (bank) Commit(context.Context, ulid.ULID, uint32) error { return nil }
func (bank) Abort(context.Context, ulid.ULID, uint32) error  { return nil }
func (bank) Resolve(context.Context, ulid.ULID, uint32) (coordinator.Vote, error) {
	return coordinator.Vote{Yes: true}, nil
}

// The check must agree with what the coordinator itself writes, not only
// with the fixture's imitation of it.
func TestAFileWrittenByTheCoordinatorIsConsistent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway-1.db")
	log, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	c, err := coordinator.New(log, coordinator.StaticDirectory{"BankA": bank{}, "BankB": bank{}}, coordinator.Config{Log: zerolog.Nop()})
	require.NoError(t, err)
	for _, amount := range []int64{100, 5000, 200} { // committed, failed, committed
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := c.Pay(ctx, ulid.Make(), coordinator.Params{Payer: "alice", From: "BankA/1001", To: "BankB/2001", Amount: amount})
		cancel()
		require.NoError(t, err)
	}
	c.Close()
	require.NoError(t, log.Close())

	code, out := runAt(t, recovery.Options{}, path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "consistent")
}

// silent is a bank whose Prepare never answers.
type silent struct{ bank }

func (silent) Prepare(ctx context.Context, _ ulid.ULID, _ uint32, _ []*strifev1.Leg, _ string) (coordinator.Vote, error) {
	<-ctx.Done()
	return coordinator.Vote{}, ctx.Err()
}

// A gateway stopped while the votes of a staged attempt were out leaves the
// attempt without a decision: in doubt, and the check says the gateway
// settles it at its next start by asking the banks. The log's epoch and
// the stored one agree.
func TestAStagedAttemptWithoutADecisionIsInDoubt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway-1.db")
	log, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	c, err := coordinator.New(log, coordinator.StaticDirectory{"BankA": silent{}, "BankB": silent{}}, coordinator.Config{PrepareTimeout: time.Hour, Log: zerolog.Nop()})
	require.NoError(t, err)
	id := ulid.Make()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	p, _, err := c.Pay(ctx, id, coordinator.Params{Payer: "alice", From: "BankA/1001", To: "BankB/2001", Amount: 100})
	cancel()
	require.NoError(t, err)
	require.Equal(t, coordinator.Pending, p.Status)
	c.Close() // the votes never came
	require.NoError(t, log.Close())

	code, out := runAt(t, recovery.Options{}, path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "IN DOUBT "+id.String()+"/1: staged, no decision: the gateway asks its banks at its next start (status resolution)")

	edit(t, path, func(state *bolt.Bucket) {
		require.NoError(t, state.Bucket([]byte(coordinator.CoordinatorBucket)).Put([]byte("epoch"), []byte{0, 0, 0, 7}))
	})
	code, out = runAt(t, recovery.Options{}, path)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "the epoch is stored as 7, the log says 0")
	code, out = runAt(t, recovery.Options{Repair: true}, path)
	require.Equal(t, 0, code, out)
}
