package wal

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultFullCheckBelow is Options.FullCheckBelow's default: a file up to
// 64 MiB is walked whole before it opens, which takes at most about 0.2 s
// on the 2-core development machine (the walk reads 350 to 750 MiB/s
// there, see DESIGN.md); a larger one is checked in bounded time and
// walked whole by the scrub once it has opened.
const DefaultFullCheckBelow = 64 << 20

// scrubChunk is how many pages the scrub reads between two pauses.
const scrubChunk = 256

// errScrubStopped ends the scrub's walk when the log closes.
var errScrubStopped = errors.New("wal: scrub stopped")

// startScrub walks the whole tree of the file in the background (see
// scrub), once Open has checked it in bounded time; Close stops it.
func (l *Log) startScrub(onDamage func(error)) {
	l.scrubStop, l.scrubDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.scrubDone)
		err := l.scrub()
		if err == nil || errors.Is(err, errScrubStopped) {
			return
		}
		damaged := fmt.Errorf("wal: %s: %w: %w (found by the scrub after open; the log takes no more appends: stop the daemon and run strife-recover check)", l.db.Path(), ErrDamaged, err)
		l.failed.CompareAndSwap(nil, &damaged)
		l.metrics.damagedFound()
		if onDamage != nil {
			onDamage(damaged)
		}
	}()
}

// stopScrub stops the scrub, if one runs, and waits for it: it holds a
// read transaction, which bbolt's Close waits for.
func (l *Log) stopScrub() {
	if l.scrubStop == nil {
		return
	}
	close(l.scrubStop)
	<-l.scrubDone
}

// scrub walks the whole tree (the walk CheckFile does) of the file as a
// read transaction sees it: bbolt does not reuse a page of a snapshot
// while a transaction reads it, and writes pages with pwrite, so a walk
// with pread of the snapshot's root sees the pages that snapshot holds,
// whatever is committed meanwhile. It reads scrubChunk pages at a time
// and then pauses as long as they took, so it takes at most half of a
// core and of the disk from the daemon serving. A panic or memory fault
// in it (there should be none: it reads with pread) is damage too.
func (l *Log) scrub() (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the scrub failed reading it: %v", p)
		}
	}()
	f, err := os.Open(l.db.Path())
	if err != nil {
		return err
	}
	defer f.Close()
	btx, err := l.db.Begin(false)
	if err != nil {
		return err
	}
	defer btx.Rollback()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	r := &fileReader{f: f, size: info.Size()}
	w := newWalker(r, snapshotMeta(r, btx))
	w.pace = l.scrubPacer()
	return w.walk()
}

// snapshotMeta is the meta of btx's snapshot: its root and high-water
// mark, and its freelist page if the meta page of its txid is still on
// disk (two commits later it has been rewritten; the freelist is then
// not checked, the tree is).
func snapshotMeta(r *fileReader, btx *bolt.Tx) meta {
	ps := btx.DB().Info().PageSize
	m := meta{pageSize: uint32(ps), root: uint64(btx.Cursor().Bucket().Root()), pgid: uint64(btx.Size()) / uint64(ps), freelist: noFreelist}
	for _, off := range []int64{0, int64(ps)} {
		p, err := r.at(off, pageHeaderSize+64)
		if err != nil || len(p) < pageHeaderSize+64 {
			continue
		}
		if d := decodeMeta(p); d.problem() == "" && d.txid == uint64(btx.ID()) && d.root == m.root {
			m.freelist = d.freelist
		}
	}
	return m
}

// scrubPacer is the scrub's walker.pace: a pause after every scrubChunk
// pages as long as they took to read, and the stop on Close.
func (l *Log) scrubPacer() func() error {
	n, start := 0, time.Now()
	return func() error {
		select {
		case <-l.scrubStop:
			return errScrubStopped
		default:
		}
		if n++; n < scrubChunk {
			return nil
		}
		pause := time.NewTimer(time.Since(start))
		defer pause.Stop()
		select {
		case <-l.scrubStop:
			return errScrubStopped
		case <-pause.C:
		}
		n, start = 0, time.Now()
		return nil
	}
}

// Damaged returns the damage the scrub found (an error wrapping
// ErrDamaged that names the page), or nil: nil too while the scrub runs,
// and for a file walked whole before it opened.
func (l *Log) Damaged() error {
	if err := l.failed.Load(); err != nil && errors.Is(*err, ErrDamaged) {
		return *err
	}
	return nil
}
