package wal_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/internal/testkit/damage"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

// writeLog writes a log of n records, with index entries, in commits of
// 500: enough pages for branch pages in both buckets.
func writeLog(t testing.TB, path string, n int) { writeLogIn(t, path, n, 500) }

// writeLogIn is writeLog in commits of batch records.
func writeLogIn(t testing.TB, path string, n, batch int) {
	t.Helper()
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	for done := 0; done < n; {
		require.NoError(t, l.Append(func(tx *wal.Tx) error {
			for i := done; i < min(n, done+batch); i++ {
				r := wal.Record{Type: ledger.TypePrepared, TxID: newID(), Attempt: 1, Payload: []byte(fmt.Sprintf("payment %06d of a realistic size, about sixty bytes", i))}
				if _, err := tx.Append(r); err != nil {
					return err
				}
			}
			return nil
		}))
		done = min(n, done+batch)
	}
	require.NoError(t, l.Close())
}

// syncFreelist has bbolt write a freelist page, as a bbolt without
// NoFreelistSync does on open; the log keeps reading it.
func syncFreelist(t testing.TB, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Close())
}

// openers are the two ways a file is opened: by a daemon and by a tool.
var openers = map[string]func(string) (*wal.Log, error){
	"Open":         func(p string) (*wal.Log, error) { return wal.Open(p, wal.Options{}) },
	"OpenReadOnly": func(p string) (*wal.Log, error) { return wal.OpenReadOnly(p, 0) },
}

// TestDamagedFilesAreRefusedWithoutACrash damages a log of 5,000 records in
// every way of damage.Cases and opens each copy as a daemon and as a tool
// would: a crash (bbolt panics on its own goroutine while rebuilding the
// freelist, faults on a truncated map) kills the test binary; anything
// else must be one line wrapping one of the errors the package documents,
// or an open log whose every record reads or is ErrCorrupt.
func TestDamagedFilesAreRefusedWithoutACrash(t *testing.T) {
	dir := t.TempDir()
	intact := filepath.Join(dir, "intact.db")
	writeLog(t, intact, 5000)
	syncFreelist(t, intact)
	want := map[string]error{
		"both meta pages flipped":                               wal.ErrDamaged,
		"both meta pages: another bbolt version":                wal.ErrFormatVersion,
		"zero-length file":                                      wal.ErrNotLog,
		"a PNG image":                                           wal.ErrNotLog,
		"a SQLite database":                                     wal.ErrNotLog,
		"random bytes":                                          wal.ErrNotLog,
		"truncated to half its size":                            wal.ErrDamaged,
		"truncated to one page short of its high-water mark":    wal.ErrDamaged,
		"branch page: 16 bytes flipped at its start (header)":   wal.ErrDamaged,
		"leaf page: 16 bytes flipped at its start (header)":     wal.ErrDamaged,
		"freelist page: 16 bytes flipped at its start (header)": wal.ErrDamaged,
	}
	for _, c := range damage.Cases(t, intact, true) {
		for name, open := range openers {
			t.Run(c.Name+"/"+name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "BankA.db")
				damage.Copy(t, intact, path)
				c.Do(t, path)
				l, err := open(path)
				if err != nil {
					t.Logf("%v", err)
					require.NotContains(t, err.Error(), "\n", "one line")
					require.Contains(t, err.Error(), path, "names the file")
					require.True(t, errors.Is(err, wal.ErrDamaged) || errors.Is(err, wal.ErrNotLog) || errors.Is(err, wal.ErrFormatVersion), "a documented error: %v", err)
					if w := want[c.Name]; w != nil {
						require.ErrorIs(t, err, w)
					}
					return
				}
				defer l.Close()
				require.Nil(t, want[c.Name], "opened a file it must refuse")
				t.Logf("opened, warnings %q", l.Warnings())
				if strings.HasPrefix(c.Name, "meta page") {
					require.Len(t, l.Warnings(), 1, "one damaged meta page is a warning")
				}
				err = l.View(func(tx *wal.Tx) error { return tx.Scan(1, func(wal.Record) error { return nil }) })
				if err != nil {
					require.ErrorIs(t, err, wal.ErrCorrupt)
				}
			})
		}
	}
}

// TestAFileTruncatedUnderAnOpenLogFailsItsReads maps a log, truncates the
// file under it, and reads: the fault (SIGBUS) becomes ErrDamaged.
func TestAFileTruncatedUnderAnOpenLogFailsItsReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	writeLog(t, path, 5000)
	l, err := wal.OpenReadOnly(path, 0)
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, os.Truncate(path, 4096*2))
	err = l.View(func(tx *wal.Tx) error { return tx.Scan(1, func(wal.Record) error { return nil }) })
	require.ErrorIs(t, err, wal.ErrDamaged)
	t.Log(err)
}
