package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"runtime/debug"
	"strings"

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
// was truncated while mapped) becomes err, wrapping ErrDamaged, and so
// does a panic raised by bbolt's own code, which asserts what it reads of
// its pages: a file walked whole at open never makes it panic, but one
// above Options.FullCheckBelow is checked in bounded time, and a read may
// reach a damaged leaf before the scrub does. Any other panic (the
// caller's own) is not this shield's business and goes on. It must be
// deferred directly, after debug.SetPanicOnFault(true) on the same
// goroutine.
func faultShield(path string, err *error) {
	p := recover()
	if p == nil {
		return
	}
	if f, ok := p.(interface{ Addr() uintptr }); ok {
		*err = fmt.Errorf("wal: %s: %w: a read of the mapped file faulted at %#x (was the file truncated?)", path, ErrDamaged, f.Addr())
		return
	}
	if raisedInBbolt() {
		*err = fmt.Errorf("wal: %s: %w: bbolt failed reading it: %v", path, ErrDamaged, p)
		return
	}
	panic(p)
}

// raisedInBbolt reports whether the panic being recovered, by the deferred
// function that calls it, was raised in bbolt's code: the first frame
// below the runtime's panic machinery (runtime.gopanic, and the runtime's
// own checks of an index or a nil pointer) is bbolt's. While a deferred
// function runs, the frames that panicked are still on the stack.
func raisedInBbolt() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && !strings.HasPrefix(f.Function, "runtime."):
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt.") || strings.HasPrefix(f.Function, "go.etcd.io/bbolt/")
		}
		if !more {
			return false
		}
	}
}
