package participant_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/internal/testkit/logtest"
	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// The participant's records take their time from the ledger's clock, the
// bank's one clock, as the holds and postings written beside them do: a
// PREPARED and its HOLD_PLACED, a COMMITTED and its SETTLED carry the same
// time.
func TestRecordsTakeTheLedgersClock(t *testing.T) {
	at := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	b := openBankWithClock(t, filepath.Join(t.TempDir(), "bank.db"), unreachable{}, time.Hour, func() time.Time { return at })
	require.NoError(t, b.l.Update(func(tx *ledger.Tx) error { _, _, err := tx.OpenAccount("1001", "alice", 1000); return err }))
	id := ulid.Make()
	b.debit(t, id, 100)
	require.NoError(t, b.p.Commit(id, 1))

	var recs []wal.Record
	require.NoError(t, b.log.View(func(tx *wal.Tx) (err error) { recs, err = logtest.Records(tx, id, 1); return err }))
	times := map[wal.Type]int64{}
	for _, r := range recs {
		var m interface {
			proto.Message
			GetTimeUnixNano() int64
		}
		switch r.Type {
		case ledger.TypePrepared:
			m = &storagev1.Prepared{}
		case ledger.TypeCommitted:
			m = &storagev1.Committed{}
		default:
			continue
		}
		require.NoError(t, proto.Unmarshal(r.Payload, m))
		times[r.Type] = m.GetTimeUnixNano()
	}
	want := at.UnixNano()
	require.Equal(t, map[wal.Type]int64{ledger.TypePrepared: want, ledger.TypeCommitted: want}, times)
}
