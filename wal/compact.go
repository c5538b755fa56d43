package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// compactTxSize is how many bytes of keys and values Compact writes to
// the new file per commit: it bounds the memory a compaction takes (bbolt
// keeps a transaction's pages in memory until it commits) at the cost of
// one fsync per commit and a few pages rewritten at each commit's end.
const compactTxSize = 16 << 20

// Compact writes a copy of the log's file to path, which must not exist,
// with bbolt's compaction (bbolt.Compact): every bucket, key, value and
// bucket sequence (the records' bucket's sequence is the last sequence
// number) is copied in key order into a new file, so the copy has no free
// pages and its pages are as full as bbolt can make them (bbolt.Compact
// fills them completely, FillPercent 1.0). That suits every bucket of a
// log: pages whose keys only grow (the records, and in practice the index,
// the gateway's payments and a bank's postings) are never written again,
// and a full page of a bucket updated in place (a bank's accounts) splits
// at its live fill percent the first time a value grows, into the pages a
// live file would have had. The copy has the page size of the original.
//
// The copy is written to a temporary file beside path, synced, and linked
// to path only if path still does not exist (a link, unlike a rename,
// never replaces a file), then the directory is synced: path is either
// absent or the whole copy. The log's own file is only read, in one
// read-only bbolt transaction, so the copy is of one consistent state even
// if the log is open for appends. Callers check the copy (it is a log:
// OpenReadOnly, Tx.Verify and the owners' checks).
func (l *Log) Compact(path string) (err error) {
	switch _, err := os.Lstat(path); {
	case err == nil:
		return fmt.Errorf("wal: compact into %s: %w", path, fs.ErrExist)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("wal: compact into %s: %w", path, err)
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".compact-*")
	if err != nil {
		return fmt.Errorf("wal: compact into %s: %w", path, err)
	}
	name := tmp.Name()
	tmp.Close()
	defer os.Remove(name) // once linked to path, only the temporary name goes
	if err := compactInto(l.db, name); err != nil {
		return fmt.Errorf("wal: compact %s into %s: %w", l.db.Path(), path, err)
	}
	if err := os.Link(name, path); err != nil {
		return fmt.Errorf("wal: compact into %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("wal: compact into %s: %w", path, err)
	}
	return nil
}

// compactInto copies src into the new, empty bbolt file at path, with the
// options Open uses, and syncs it.
func compactInto(src *bolt.DB, path string) error {
	dst, err := bolt.Open(path, 0o600, &bolt.Options{
		PageSize:       src.Info().PageSize,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return err
	}
	// A read of src faulting (its file truncated under the process) is an
	// error, not a crash; each commit of dst is fsynced by bbolt.
	err = shielded(func() error { return bolt.Compact(dst, src, compactTxSize) })
	var used int64 // the pages below the high-water mark
	if err == nil {
		err = dst.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	// bbolt grows a file ahead of its pages (to its memory map's size, a
	// power of two, below 16 MiB; then by 16 MiB); the copy needs only its
	// pages, and bbolt grows it again when it takes more.
	if err := f.Truncate(used); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
