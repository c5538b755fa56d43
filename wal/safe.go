package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// openChecked checks the file at path (see CheckFile; bounded above
// fullBelow bytes, 0 walks every file whole) unless it does not exist
// yet, then opens it with bbolt, turning a panic or a memory fault inside
// bbolt into an error wrapping ErrDamaged. The check comes first because
// bbolt reads the freelist page at open, and rebuilds a freelist the file
// does not keep by walking the tree on a goroutine of its own, where a
// panic cannot be recovered (such a file is always walked whole).
func openChecked(path string, create bool, fullBelow int64, opts *bolt.Options) (*bolt.DB, *FileCheck, error) {
	c, err := checkFileUpTo(path, opts.Timeout, fullBelow)
	switch {
	case create && errors.Is(err, fs.ErrNotExist):
		c = &FileCheck{}
	case err != nil:
		return nil, nil, err
	}
	if c.deferred {
		// The scrub holds a read transaction for its walk, and bbolt
		// remaps a growing file only once no read transaction is open:
		// map a GiB more than the file now, so that no commit waits for
		// the scrub (the mapping is address space, not memory).
		opts.InitialMmapSize = int(c.size) + 1<<30
	}
	var db *bolt.DB
	err = shielded(func() (err error) {
		db, err = bolt.Open(path, 0o600, opts)
		return err
	})
	return db, c, err
}

// shielded runs f, which reads a bbolt file, and turns a panic raised in
// it, or a fault on the memory map (the file shrank under it: SIGBUS), into
// an error wrapping ErrDamaged. Go makes a fault a panic only on the
// goroutine that asked (debug.SetPanicOnFault): f must read on this one.
func shielded(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: bbolt failed reading it: %v", ErrDamaged, p)
		}
	}()
	return f()
}

// faultShield is deferred by reads on an open log: a memory fault (the file
// was truncated while mapped) becomes err, wrapping ErrDamaged; any other
// panic is not this shield's business and goes on. It must be deferred
// directly, after debug.SetPanicOnFault(true) on the same goroutine.
func faultShield(path string, err *error) {
	p := recover()
	if p == nil {
		return
	}
	if f, ok := p.(interface{ Addr() uintptr }); ok {
		*err = fmt.Errorf("wal: %s: %w: a read of the mapped file faulted at %#x (was the file truncated?)", path, ErrDamaged, f.Addr())
		return
	}
	panic(p)
}
