package wal_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/wal"
)

// BenchmarkCheckFile1M measures the walk CheckFile does before every open,
// on a log of a million records (each indexed, as a bank's are), against
// bbolt's own Tx.Check, the freelist rebuild bbolt does on every open
// with NoFreelistSync, and Tx.Verify (every record read and checked, and
// the index against the records), which strife-recover check adds. Writing the file takes a while: run it alone,
//
//	go test -run '^$' -bench CheckFile1M -benchtime 3x ./wal/
func BenchmarkCheckFile1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.db")
	writeLog(b, path, 1_000_000)
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("file of 1,000,000 records: %d MiB", info.Size()>>20)
	b.Run("CheckFile", func(b *testing.B) {
		for b.Loop() {
			if _, err := wal.CheckFile(path, time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bbolt-Tx.Check", func(b *testing.B) {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			err := db.View(func(tx *bolt.Tx) error {
				for err := range tx.Check() {
					return err
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Tx.Verify", func(b *testing.B) {
		l, err := wal.OpenReadOnly(path, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		for b.Loop() {
			if err := l.View(func(tx *wal.Tx) error { return tx.Verify() }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bbolt-open-with-freelist-rebuild", func(b *testing.B) {
		for b.Loop() {
			db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
			if err != nil {
				b.Fatal(err)
			}
			db.Close()
		}
	})
}
