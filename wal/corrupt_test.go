package wal_test

import (
	"encoding/binary"
	"hash/crc32"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

// tamper rewrites the stored bytes of record seq in a closed log file.
func tamper(t *testing.T, path string, seq uint64, edit func(v []byte) []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("wal.records"))
		key := binary.BigEndian.AppendUint64(nil, seq)
		v := append([]byte(nil), b.Get(key)...)
		return b.Put(key, edit(v))
	}))
}

// reseal recomputes the checksum the way wal/doc.go specifies it, so that a
// deliberate change reaches the checks behind the checksum.
func reseal(seq uint64, v []byte) []byte {
	table := crc32.MakeTable(crc32.Castagnoli)
	crc := crc32.Update(0, table, binary.BigEndian.AppendUint64(nil, seq))
	binary.BigEndian.PutUint32(v[0:4], crc32.Update(crc, table, v[4:]))
	return v
}

func TestDamagedRecordsAreRejectedClearly(t *testing.T) {
	cases := []struct {
		name string
		edit func([]byte) []byte
		want error
		msg  string
	}{
		{"flipped payload bit", func(v []byte) []byte { v[len(v)-1] ^= 1; return v }, wal.ErrCorrupt, "checksum"},
		// A v2 record has no length field: the checksum catches a cut.
		{"truncated", func(v []byte) []byte { return v[:len(v)-3] }, wal.ErrCorrupt, "checksum"},
		{"shorter than header", func(v []byte) []byte { return v[:10] }, wal.ErrCorrupt, "shorter than the header"},
		{"other version", func(v []byte) []byte { v[4] = 9; return reseal(2, v) }, wal.ErrCorrupt, "format version 9"},
		{"unknown type", func(v []byte) []byte { v[5] = 200; return reseal(2, v) }, wal.ErrUnknownType, "Type(200)"},
		{"attempt not a varint", func(v []byte) []byte {
			for i := 22; i < len(v); i++ { // continues past the end
				v[i] = 0xff
			}
			return reseal(2, v)
		}, wal.ErrCorrupt, "attempt is not a 32-bit varint"},
		// The same checks on a record in the first layout, as old logs
		// hold it.
		{"v1 flipped payload bit", func(v []byte) []byte { v = asV1(v); v[len(v)-1] ^= 1; return v }, wal.ErrCorrupt, "checksum"},
		{"v1 truncated", func(v []byte) []byte { return asV1(v)[:len(asV1(v))-3] }, wal.ErrCorrupt, "payload length"},
		{"v1 shorter than header", func(v []byte) []byte { return reseal(2, asV1(v)[:25]) }, wal.ErrCorrupt, "shorter than the header"},
		{"v1 unknown type", func(v []byte) []byte { v = asV1(v); v[5] = 200; return reseal(2, v) }, wal.ErrUnknownType, "Type(200)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wal.db")
			l, err := wal.Open(path, wal.Options{})
			require.NoError(t, err)
			id := newID()
			for range 3 {
				appendOne(t, l, wal.Record{Type: ledger.TypePrepared, TxID: id, Attempt: 1, Payload: []byte("payload")})
			}
			require.NoError(t, l.Close())

			tamper(t, path, 2, tc.edit)

			l = openLog(t, path)
			err = l.View(func(tx *wal.Tx) error { return tx.Scan(1, func(wal.Record) error { return nil }) })
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, "seq 2")
			require.ErrorContains(t, err, tc.msg)
			err = l.View(func(tx *wal.Tx) error { _, err := tx.Lookup(id, 1); return err })
			require.ErrorIs(t, err, tc.want, "point lookups check records too")
		})
	}
}

// asV1 rewrites the value of record 2 (a PREPARED of attempt 1 with the
// payload "payload", as TestDamagedRecordsAreRejectedClearly writes it) in
// the first layout.
func asV1(v []byte) []byte {
	r := wal.Record{Seq: 2, Type: wal.Type(v[5]), Attempt: 1, Payload: []byte("payload")}
	copy(r.TxID[:], v[6:22])
	return wal.EncodeV1(r)
}

// TestRecordsOfBothLayoutsRead: a log whose records are in the first layout
// (as every log written before formatV2 is), mixed with records in the
// current one, reads record for record as if it had been written today, by
// Scan, Get and Lookup, and verifies.
func TestRecordsOfBothLayoutsRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	id := newID()
	want := []wal.Record{
		{Type: ledger.TypeDeposited, Payload: []byte("deposit")},
		{Type: ledger.TypePrepared, TxID: id, Attempt: 1 << 20, Payload: []byte("prepared")},
		{Type: ledger.TypeCommitted, TxID: id, Attempt: 1 << 20},
		{Type: ledger.TypePrepared, TxID: id, Attempt: 7, Payload: []byte("other attempt")},
	}
	for i := range want {
		want[i].Seq = appendOne(t, l, want[i])
	}
	require.NoError(t, l.Close())
	for _, r := range want[:3] {
		tamper(t, path, r.Seq, func([]byte) []byte { return wal.EncodeV1(r) })
	}

	l = openLog(t, path)
	require.Equal(t, want, scanAll(t, l))
	require.NoError(t, l.View(func(tx *wal.Tx) error {
		got, err := tx.Get(want[1].Seq)
		require.Equal(t, want[1], got)
		require.NoError(t, err)
		recs, err := tx.Lookup(id, 1<<20)
		require.Equal(t, want[1:3], recs)
		require.NoError(t, err)
		return tx.Verify()
	}))
}

func TestRecordMovedToAnotherKeyIsCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	appendOne(t, l, wal.Record{Type: ledger.TypeDeposited, Payload: []byte("one")})
	appendOne(t, l, wal.Record{Type: ledger.TypeDeposited, Payload: []byte("two")})
	require.NoError(t, l.Close())

	var first []byte
	tamper(t, path, 1, func(v []byte) []byte { first = v; return v })
	tamper(t, path, 2, func([]byte) []byte { return first })

	l = openLog(t, path)
	err = l.View(func(tx *wal.Tx) error { return tx.Scan(1, func(wal.Record) error { return nil }) })
	require.ErrorIs(t, err, wal.ErrCorrupt)
}
