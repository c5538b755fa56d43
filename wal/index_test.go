package wal_test

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

// editIndex changes a closed log's wal.index below the log.
func editIndex(t *testing.T, path string, edit func(index *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return edit(tx.Bucket([]byte(wal.IndexBucket))) }))
}

func attemptKey(id ulid.ULID, attempt uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), id[:]...), attempt)
}

// An attempt has one index key, whose value lists its records: a bank's
// PREPARED and COMMITTED cost one key, not two.
func TestTheIndexHasAKeyPerAttempt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	l := openLog(t, path)
	id := newID()
	prepared := appendOne(t, l, wal.Record{Type: ledger.TypePrepared, TxID: id, Attempt: 1})
	appendOne(t, l, wal.Record{Type: ledger.TypePrepared, TxID: id, Attempt: 2})
	committed := appendOne(t, l, wal.Record{Type: ledger.TypeCommitted, TxID: id, Attempt: 1})
	require.NoError(t, l.Close())

	editIndex(t, path, func(index *bolt.Bucket) error {
		require.Equal(t, 2, index.Stats().KeyN)
		v := index.Get(attemptKey(id, 1))
		require.Equal(t, binary.AppendUvarint(binary.AppendUvarint(nil, prepared), committed-prepared), v)
		return nil
	})
}

// A log written before the key per attempt has a key per record; an
// attempt prepared then and decided now has one of each. Lookup finds its
// records through both, in order, and Verify accepts them.
func TestIndexKeysOfBothLayoutsAreRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	l := openLog(t, path)
	id := newID()
	prepared := appendOne(t, l, wal.Record{Type: ledger.TypePrepared, TxID: id, Attempt: 1})
	require.NoError(t, l.Close())
	editIndex(t, path, func(index *bolt.Bucket) error { // as an older version wrote it
		require.NoError(t, index.Delete(attemptKey(id, 1)))
		return index.Put(binary.BigEndian.AppendUint64(attemptKey(id, 1), prepared), nil)
	})

	l = openLog(t, path)
	committed := appendOne(t, l, wal.Record{Type: ledger.TypeCommitted, TxID: id, Attempt: 1})
	require.NoError(t, l.View(func(tx *wal.Tx) error {
		recs, err := tx.Lookup(id, 1)
		require.NoError(t, err)
		require.Len(t, recs, 2)
		require.Equal(t, []uint64{prepared, committed}, []uint64{recs[0].Seq, recs[1].Seq})
		return tx.Verify()
	}))
}

// Verify finds every way the key of an attempt can be wrong.
func TestVerifyFindsABadAttemptKey(t *testing.T) {
	for name, tc := range map[string]struct {
		value func(prepared, committed, other uint64) []byte
		msg   string
	}{
		"a record missing": {func(p, _, _ uint64) []byte { return binary.AppendUvarint(nil, p) }, "has no index key"},
		"another attempt's record": {func(p, c, o uint64) []byte {
			return binary.AppendUvarint(binary.AppendUvarint(binary.AppendUvarint(nil, p), c-p), o-c)
		}, "names record"},
		"not varints":          {func(_, _, _ uint64) []byte { return []byte{0xff} }, "do not decode"},
		"empty":                {func(_, _, _ uint64) []byte { return []byte{} }, "no sequence number"},
		"a record named twice": {func(p, _, _ uint64) []byte { return []byte{byte(p), 0} }, "do not decode"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wal.db")
			l := openLog(t, path)
			id := newID()
			prepared := appendOne(t, l, wal.Record{Type: ledger.TypePrepared, TxID: id, Attempt: 1})
			committed := appendOne(t, l, wal.Record{Type: ledger.TypeCommitted, TxID: id, Attempt: 1})
			other := appendOne(t, l, wal.Record{Type: ledger.TypePrepared, TxID: newID(), Attempt: 1})
			require.NoError(t, l.Close())
			editIndex(t, path, func(index *bolt.Bucket) error {
				return index.Put(attemptKey(id, 1), tc.value(prepared, committed, other))
			})

			l = openLog(t, path)
			err := l.View(func(tx *wal.Tx) error { return tx.Verify() })
			require.ErrorIs(t, err, wal.ErrCorrupt)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}
