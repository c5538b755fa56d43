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

// The END of an attempt persisted Lazily whose commit fails is written
// again until it is durable. A PENDING payment's goes on in the meantime:
// its END is written from the payment as it then stands, and dropped once
// a later attempt is staged (an END appended after that attempt's staging
// record would fold into nothing, and a replay would refuse it).
func TestAFailedEndIsWrittenAgainUntilItLandsOrALaterAttemptIsStaged(t *testing.T) {
	for _, tc := range []struct {
		name     string
		decision wal.Type
		final    bool
		later    bool // an attempt 2 is staged after the END failed
	}{
		{"aborted, pending", TypeDecisionAbort, false, false},
		{"aborted, pending, a later attempt staged", TypeDecisionAbort, false, true},
		{"committed", TypeDecisionCommit, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, err := wal.Open(filepath.Join(t.TempDir(), "gateway.db"), wal.Options{})
			require.NoError(t, err)
			c, err := New(log, StaticDirectory{}, Config{RetryMin: time.Millisecond})
			require.NoError(t, err)
			defer c.Close()

			now := time.Now()
			recs := append(Accept(Params{Payer: "alice", From: "BankA/1", To: "BankB/2", Amount: 5}, now).Records,
				Record{Type: TypeAttemptStaged, Attempt: 1, Payload: &storagev1.AttemptStaged{Banks: []string{"BankA", "BankB"}}},
				Record{Type: tc.decision, Attempt: 1, Payload: &storagev1.Decided{}})
			if tc.final {
				recs = append(recs, final(Committed, strifev1.Reason_REASON_UNSPECIFIED, now))
			}
			p, err := Payment{ID: ulid.Make()}.Apply(recs)
			require.NoError(t, err)
			r := newRun(p)

			require.NoError(t, log.Close()) // every commit fails from now on
			end := Ready{Mode: Lazily, Records: []Record{{Type: TypeAttemptEnded, Attempt: 1, Payload: &storagev1.AttemptEnded{}}}}
			ended, err := c.persistLazily(r, p, end)
			require.NoError(t, err)
			require.True(t, ended.Ended, "taken at once")
			r.set(ended) // as step does
			lazy := func() int {
				r.mu.Lock()
				defer r.mu.Unlock()
				return r.lazy
			}
			if tc.later { // as Begin's step does, once the staging record is durable
				later, err := ended.Apply([]Record{{Type: TypeAttemptStaged, Attempt: 2, Payload: &storagev1.AttemptStaged{}}})
				require.NoError(t, err)
				r.stepMu.Lock()
				r.set(later)
				r.stepMu.Unlock()
				require.Eventually(t, func() bool { return lazy() == 0 }, 5*time.Second, time.Millisecond, "dropped")
				require.Equal(t, uint32(2), r.snapshot().Attempt)
				return
			}
			require.Equal(t, 1, lazy(), "written again until durable")
			if !tc.final {
				require.Eventually(t, func() bool { return !r.snapshot().Ended }, 5*time.Second, time.Millisecond,
					"not ended until the END is durable")
			}
		})
	}
}
