package inspect_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/tools/inspect"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/participant"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// entries pages as the bank's ListEntries does: participant.DefaultPageSize
// entries unless --limit says otherwise.
func TestEntriesDefaultPageIsTheBanks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BankA.db")
	log, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	l, err := ledger.New(log, nil)
	require.NoError(t, err)
	p, err := participant.New(l, nil, participant.Config{})
	require.NoError(t, err)
	require.NoError(t, l.Update(func(tx *ledger.Tx) error { _, _, err := tx.OpenAccount("1001", "alice", 1); return err }))
	for range participant.DefaultPageSize {
		id := ulid.Make()
		vote, err := p.Prepare(participant.Request{TxID: id, Attempt: 1, Coordinator: "gateway-1",
			Legs: []*storagev1.Leg{{Number: "1001", Direction: ledger.Credit, Amount: 1}}})
		require.NoError(t, err)
		require.True(t, vote.Yes)
		require.NoError(t, p.Commit(id, 1))
	}
	p.Close()
	require.NoError(t, log.Close())

	out, err := run("entries", "--json", path, "1001")
	require.NoError(t, err, out)
	var page inspect.EntriesPage
	require.NoError(t, json.Unmarshal([]byte(out), &page))
	require.Len(t, page.Entries, participant.DefaultPageSize)
	require.NotEmpty(t, page.NextPageToken, "the opening deposit is on the next page")
}
