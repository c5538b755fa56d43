package wal_test

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

// benchPayload is about the size of a PREPARED record's protobuf payload.
var benchPayload = make([]byte, 96)

// BenchmarkAppend measures durable appends (one record each, fsynced before
// Append returns) with 1, 16 and 256 concurrent writers.
//
//	go test -run '^$' -bench Append -benchtime 20000x ./wal/
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l, err := wal.Open(filepath.Join(b.TempDir(), "wal.db"), wal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			appendOne := func() error {
				rec := wal.Record{Type: ledger.TypePrepared, TxID: newID(), Attempt: 1, Payload: benchPayload}
				return l.Append(func(tx *wal.Tx) error {
					_, err := tx.Append(rec)
					return err
				})
			}
			runWriters(b, writers, appendOne)
		})
	}
}

// BenchmarkBoltUpdate is the baseline for a lone writer: one plain bbolt
// Update (one commit) per record, writing what Tx.Append writes (a record
// of the same size and an index entry) with the same options. The
// difference to BenchmarkAppend/writers=1 is the cost of group commit.
func BenchmarkBoltUpdate(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "bolt.db"), 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	record := make([]byte, 30+len(benchPayload))
	put := func() error {
		id := newID()
		return db.Update(func(tx *bolt.Tx) error {
			records, err := tx.CreateBucketIfNotExists([]byte("records"))
			if err != nil {
				return err
			}
			index, err := tx.CreateBucketIfNotExists([]byte("index"))
			if err != nil {
				return err
			}
			seq, _ := records.NextSequence()
			key := binary.BigEndian.AppendUint64(nil, seq)
			if err := records.Put(key, record); err != nil {
				return err
			}
			return index.Put(append(id[:], key...), nil)
		})
	}
	runWriters(b, 1, put)
}

// runWriters calls op b.N times in total from the given number of
// goroutines and reports the rate.
func runWriters(b *testing.B, writers int, op func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}
