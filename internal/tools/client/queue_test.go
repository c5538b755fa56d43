package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/strife-pay/strife/internal/testkit/damage"
	"github.com/strife-pay/strife/internal/tools/client"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

func openQueue(t *testing.T, path string) *client.Queue {
	t.Helper()
	q, err := client.OpenQueue(path)
	require.NoError(t, err)
	return q
}

func payTo(user string, amount int64) *strifev1.PayRequest {
	return &strifev1.PayRequest{Payee: &strifev1.PayRequest_ToUser{ToUser: user}, Amount: amount}
}

func ids(entries []*client.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.ID())
	}
	return out
}

func TestQueueSurvivesReopenInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	q := openQueue(t, path)
	var want []string
	for i := range 5 {
		e, err := q.Add(payTo("bob", int64(100+i)))
		require.NoError(t, err)
		require.Len(t, e.ID(), 26)
		want = append(want, e.ID())
	}
	require.NoError(t, q.Close())

	q = openQueue(t, path)
	defer q.Close()
	pending, err := q.Pending()
	require.NoError(t, err)
	require.Equal(t, want, ids(pending))
	for i, e := range pending {
		require.Equal(t, int64(100+i), e.Request.GetAmount())
		require.Equal(t, client.StateQueued, e.State)
	}
}

// TestQueueCrashAfterAdd copies the file as it is on disk right after Add
// returns, while the queue is still open: what a kill -9 would leave.
func TestQueueCrashAfterAdd(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, filepath.Join(dir, "queue.db"))
	defer q.Close()
	e, err := q.Add(payTo("bob", 1250))
	require.NoError(t, err)

	data, err := os.ReadFile(filepath.Join(dir, "queue.db"))
	require.NoError(t, err)
	crashed := filepath.Join(dir, "crashed.db")
	require.NoError(t, os.WriteFile(crashed, data, 0o600))

	q2 := openQueue(t, crashed)
	defer q2.Close()
	pending, err := q2.Pending()
	require.NoError(t, err)
	require.Equal(t, []string{e.ID()}, ids(pending))
	require.Equal(t, int64(1250), pending[0].Request.GetAmount())
}

// TestQueueIsLockedWhileOpen: a second client on the same state dir waits
// (about a second) and fails, as OpenQueue says.
func TestQueueIsLockedWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	q := openQueue(t, path)
	defer q.Close()
	_, err := client.OpenQueue(path)
	require.ErrorIs(t, err, bolterrors.ErrTimeout)
}

func TestQueueFinishMovesToDone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	q := openQueue(t, path)
	a, err := q.Add(payTo("bob", 1))
	require.NoError(t, err)
	b, err := q.Add(payTo("bob", 2))
	require.NoError(t, err)
	n, err := q.Len()
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = q.Update(a.ID(), func(e *client.Entry) { e.Attempts++; e.LastError = "unreachable" })
	require.NoError(t, err)
	_, err = q.Finish(a.ID(), &strifev1.Payment{TransactionId: a.ID(), Status: strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED}, "")
	require.NoError(t, err)
	_, err = q.Finish(a.ID(), nil, "")
	require.ErrorIs(t, err, client.ErrNotQueued)
	_, err = q.Update(a.ID(), func(*client.Entry) {})
	require.ErrorIs(t, err, client.ErrNotQueued)
	require.NoError(t, q.Close())

	q = openQueue(t, path)
	defer q.Close()
	pending, err := q.Pending()
	require.NoError(t, err)
	require.Equal(t, []string{b.ID()}, ids(pending))
	n, err = q.Len()
	require.NoError(t, err)
	require.Equal(t, 1, n)
	done, err := q.Done()
	require.NoError(t, err)
	require.Len(t, done, 1)
	require.Equal(t, a.ID(), done[0].ID())
	require.Equal(t, 1, done[0].Attempts)
	require.Equal(t, client.StateDone, done[0].State)
	require.Equal(t, strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED, done[0].Outcome.GetStatus())
	got, err := q.Get(a.ID())
	require.NoError(t, err)
	require.Equal(t, client.StateDone, got.State)
}

// TestDamagedQueueIsAnErrorNotACrash writes a queue of a few hundred
// payments (a freelist page, branch pages) and damages it: the client
// refuses it with one line instead of crashing in bbolt.
func TestDamagedQueueIsAnErrorNotACrash(t *testing.T) {
	intact := filepath.Join(t.TempDir(), "queue.db")
	q := openQueue(t, intact)
	for range 500 {
		_, err := q.Add(payTo("bob", 1))
		require.NoError(t, err)
	}
	require.NoError(t, q.Close())
	for _, c := range damage.Cases(t, intact, true) {
		t.Run(c.Name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "queue.db")
			damage.Copy(t, intact, path)
			c.Do(t, path)
			q, err := client.OpenQueue(path)
			if err != nil {
				t.Log(err)
				require.NotContains(t, err.Error(), "\n")
				require.True(t, errors.Is(err, wal.ErrDamaged) || errors.Is(err, wal.ErrNotLog) || errors.Is(err, wal.ErrFormatVersion), "%v", err)
				return
			}
			q.Close()
		})
	}
}
