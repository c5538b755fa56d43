package coordinator

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// The END of an attempt persisted Lazily whose commit fails: a final
// payment's is written again until it is durable (nothing can follow it);
// a PENDING payment's is left out, since its next attempt could reach the
// log before the retry, which would then fold into the payment as it was.
func TestAFailedEndIsWrittenAgainOnlyForAFinalPayment(t *testing.T) {
	for _, tc := range []struct {
		name     string
		decision wal.Type
		final    bool
	}{
		{"aborted, pending", wal.TypeDecisionAbort, false},
		{"committed", wal.TypeDecisionCommit, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, err := wal.Open(filepath.Join(t.TempDir(), "gateway.db"), wal.Options{})
			require.NoError(t, err)
			c, err := New(log, StaticDirectory{}, Config{RetryMin: time.Millisecond})
			require.NoError(t, err)
			defer c.Close()

			now := time.Now()
			recs := append(Accept(Params{Payer: "alice", From: "BankA/1", To: "BankB/2", Amount: 5}, now).Records,
				Record{Type: wal.TypeAttemptStaged, Attempt: 1, Payload: &storagev1.AttemptStaged{Banks: []string{"BankA", "BankB"}}},
				Record{Type: tc.decision, Attempt: 1, Payload: &storagev1.Decided{}})
			if tc.final {
				recs = append(recs, final(Committed, strifev1.Reason_REASON_UNSPECIFIED, now))
			}
			p, err := Payment{ID: ulid.Make()}.Apply(recs)
			require.NoError(t, err)
			r := newRun(p)

			require.NoError(t, log.Close()) // every commit fails from now on
			end := Ready{Mode: Lazily, Records: []Record{{Type: wal.TypeAttemptEnded, Attempt: 1, Payload: &storagev1.AttemptEnded{}}}}
			_, err = c.persistLazily(r, p, end)
			require.NoError(t, err)
			r.mu.Lock()
			pending := r.lazy
			r.mu.Unlock()
			if tc.final {
				require.Equal(t, 1, pending, "written again until durable")
			} else {
				require.Equal(t, 0, pending, "left out: not written again")
			}
		})
	}
}
