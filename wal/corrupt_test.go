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
		{"truncated", func(v []byte) []byte { return v[:len(v)-3] }, wal.ErrCorrupt, "payload length"},
		{"shorter than header", func(v []byte) []byte { return v[:10] }, wal.ErrCorrupt, "shorter than the header"},
		{"other version", func(v []byte) []byte { v[4] = 9; return reseal(2, v) }, wal.ErrCorrupt, "format version 9"},
		{"unknown type", func(v []byte) []byte { v[5] = 200; return reseal(2, v) }, wal.ErrUnknownType, "Type(200)"},
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
