package wal

import (
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrClosed is returned by calls on a closed Log.
var ErrClosed = errors.New("wal: log closed")

// ErrWriteFailed wraps what the disk said when a commit could not be
// written: a full disk (syscall.ENOSPC), an I/O error, a failed fsync.
// Nothing of that commit is in the log, and the log takes appends again:
// bbolt rolls a failed commit back and stays usable, so an append may be
// retried once the disk has room. The exception is ErrLogFailed, which
// wraps ErrWriteFailed too.
var ErrWriteFailed = errors.New("wal: cannot write to disk")

// ErrLogFailed is returned by every append after a commit failed once its
// meta page had been written (its fsync failed): the commit is visible,
// but whether it is durable is unknown, so the log can no longer say what
// it holds. It takes no more appends; reopening it (restarting the
// process) reads what the file holds. It wraps ErrWriteFailed.
var ErrLogFailed = fmt.Errorf("%w: a commit failed after it became visible; reopen the log", ErrWriteFailed)

// Options configure a Log. The zero value is usable: every field has a
// documented default.
type Options struct {
	// MaxBatch bounds how many calls (Append, AppendAll, AppendLater,
	// AppendWithin) share one bbolt transaction and so one fsync, however
	// many functions each brings. Default 1024.
	MaxBatch int
	// LockTimeout is how long Open waits for another process to release the
	// file. Default 1s; the file is locked for as long as the Log is open.
	LockTimeout time.Duration
	// Linger is how long an AppendLater waits for an Append to share a
	// commit with before it is committed on its own. Default 10ms.
	Linger time.Duration
	// FailWrites is for tests: called in every commit once its functions
	// have run, a non-nil error fails that commit as a failed write would
	// (bbolt rolls it back; each call of the batch gets the error wrapped
	// in ErrWriteFailed). Tests of what a full disk does inject
	// syscall.ENOSPC with it. Nil in production.
	FailWrites func() error
	// Metrics, if not nil, measure every commit (see NewMetrics). Nil
	// measures nothing and costs nothing.
	Metrics *Metrics
	// FullCheckBelow is the size in bytes up to which Open walks the
	// whole file before it opens it (see "Damaged files" in the package
	// documentation); a larger file is checked in bounded time and walked
	// whole by a scrub in the background. Default DefaultFullCheckBelow
	// (64 MiB). Tests lower it to have small files scrubbed.
	FullCheckBelow int64
	// OnDamage, if not nil, is called once, on the scrub's goroutine, with
	// the damage the scrub found (an error wrapping ErrDamaged, as
	// Log.Damaged returns it); from then on the log refuses appends with
	// that error. A daemon logs it. It must not call the Log.
	OnDamage func(error)
}

// Validate rejects options that cannot be meant.
func (o Options) Validate() error {
	if o.MaxBatch < 0 {
		return fmt.Errorf("wal: MaxBatch %d is negative", o.MaxBatch)
	}
	if o.LockTimeout < 0 {
		return fmt.Errorf("wal: LockTimeout %v is negative", o.LockTimeout)
	}
	if o.Linger < 0 {
		return fmt.Errorf("wal: Linger %v is negative", o.Linger)
	}
	if o.FullCheckBelow < 0 {
		return fmt.Errorf("wal: FullCheckBelow %d is negative", o.FullCheckBelow)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.MaxBatch == 0 {
		o.MaxBatch = 1024
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = time.Second
	}
	if o.Linger == 0 {
		o.Linger = 10 * time.Millisecond
	}
	if o.FullCheckBelow == 0 {
		o.FullCheckBelow = DefaultFullCheckBelow
	}
	return o
}

// Log is an append-only log of records in a bbolt file, with room for the
// caller's own buckets in the same file. It is safe for concurrent use.
type Log struct {
	db         *bolt.DB
	maxBatch   int
	readOnly   bool         // opened by OpenReadOnly: Append fails
	warnings   []string     // see Warnings
	failWrites func() error // see Options.FailWrites
	metrics    *Metrics     // see Options.Metrics
	pageSize   int
	// failed is set, for good, when a commit failed after it became
	// visible (see ErrLogFailed), or the scrub found damage (see Damaged).
	failed atomic.Pointer[error]
	// scrubStop is closed by Close to stop the scrub, which closes
	// scrubDone when it ends; both nil if the file was walked whole.
	scrubStop, scrubDone chan struct{}

	// mu is held shared by every Append for its whole duration and
	// exclusively by Close, so Close waits for appends in flight.
	mu       sync.RWMutex
	closed   bool
	progress func(seq, last uint64) // see OnScanProgress

	// qmu guards the appends waiting for a commit, leading and the linger
	// timer.
	qmu     sync.Mutex
	queue   []*appendReq
	leading bool // an Append is committing: the others queue
	// While nobody leads, lingerTimer is set for lingerAt, the earliest
	// deadline of the AppendLaters queued; lingerAt is zero when none are.
	lingerTimer *time.Timer
	lingerAt    time.Time
	linger      time.Duration
	batch       []*appendReq // the leader's, reused from commit to commit
	calls       []call       // the leader's, reused from commit to commit
}

// appendReq is one Append or AppendAll, waiting on done, or one
// AppendLater, told by report. Its functions always share a transaction.
type appendReq struct {
	fns    []func(*Tx) error
	errs   []error     // each function's result, set by commit
	done   chan error  // for an Append: nil once errs is set, or errLead
	report func(error) // for an AppendLater
	// deadline is when an AppendLater is committed on its own.
	deadline time.Time
}

func newAppendReq(fns []func(*Tx) error, report func(error)) *appendReq {
	req := &appendReq{fns: fns, errs: make([]error, len(fns)), report: report}
	if report == nil {
		req.done = make(chan error, 1)
	}
	return req
}

// answer tells the caller that errs is set.
func (r *appendReq) answer() {
	if r.done != nil {
		r.done <- nil
	} else {
		r.report(r.errs[0])
	}
}

// errLead tells a queued Append that it leads the next commit.
var errLead = errors.New("wal: lead the next commit")

// Open opens or creates the log at path.
func Open(path string, opts Options) (*Log, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	db, check, err := openChecked(path, true, opts.FullCheckBelow, &bolt.Options{
		Timeout: opts.LockTimeout,
		// The freelist is written by every commit (usually one page) and
		// read at open: a freelist rebuilt on open instead (etcd's
		// NoFreelistSync, which this log used until issue 17) costs a walk
		// of the whole file on every start. A file written that way gets
		// its freelist at its first open here (bbolt commits one then).
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", path, err)
	}
	if err := shielded(func() error { return db.Update(initBuckets) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("wal: open %s: %w", path, err)
	}
	l := &Log{
		db: db, maxBatch: opts.MaxBatch, linger: opts.Linger,
		warnings: check.Warnings, failWrites: opts.FailWrites,
		metrics: opts.Metrics, pageSize: db.Info().PageSize,
	}
	if check.deferred {
		l.startScrub(opts.OnDamage)
	}
	return l, nil
}

// Warnings are the damage found in the file when it was opened that bbolt
// works around (see FileCheck.Warnings): a daemon logs them.
func (l *Log) Warnings() []string { return l.warnings }

// Path returns the file the log lives in.
func (l *Log) Path() string { return l.db.Path() }

// Append runs fn in a read-write transaction and returns once the
// transaction is durable on disk, or has failed.
//
// Concurrent calls share transactions (group commit): while one commit is
// being synced the next calls queue up, and the first of them commits all
// of them in the next transaction. A lone caller therefore pays one commit,
// on its own goroutine, with no added delay. See the package documentation.
//
// If fn returns an error, nothing fn did is kept and Append returns that
// error; the other calls of its batch are not affected. Because of that, fn
// may be called more than once, and must have no effect outside tx. fn may
// run on the goroutine of another Append, and must not call the Log itself:
// that would wait for the commit it is part of, forever.
func (l *Log) Append(fn func(*Tx) error) error {
	return l.AppendAll([]func(*Tx) error{fn})[0]
}

// AppendAll runs each of fns as Append would run it, all of them in the
// same commit, in order, and returns once that commit is durable or has
// failed: errs[i] is what Append(fns[i]) would have returned. One
// function's error does not fail the others: as with Append, it is rolled
// back and the others run again without it. The functions of one
// AppendAll are never split across commits, whatever Options.MaxBatch
// says: it counts calls, not functions.
func (l *Log) AppendAll(fns []func(*Tx) error) (errs []error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.refusal(); err != nil {
		return repeat(err, len(fns))
	}
	req := newAppendReq(fns, nil)
	l.qmu.Lock()
	l.queue = append(l.queue, req)
	lead := !l.leading
	l.leading = true
	l.qmu.Unlock()
	if !lead {
		if <-req.done != errLead {
			return req.errs // committed by another Append's goroutine
		}
	}
	l.lead(req)
	<-req.done
	return req.errs
}

func repeat(err error, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// AppendLater queues fn for the next commit and returns at once: for
// records that need not be durable before anything else happens, and that
// are not worth a commit of their own. fn rides with the next Append's
// batch, or is committed on its own once Options.Linger has passed without
// one; Close commits it too. report is called with what Append would have
// returned, on whichever goroutine commits: it must not block or call the
// Log. fn is as for Append, and runs after every fn queued before it.
func (l *Log) AppendLater(fn func(*Tx) error, report func(error)) {
	l.AppendWithin(fn, l.linger, report)
}

// AppendWithin is AppendLater with a linger of its own: fn is committed on
// its own once within has passed without an Append to ride with.
func (l *Log) AppendWithin(fn func(*Tx) error, within time.Duration, report func(error)) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.refusal(); err != nil {
		report(err)
		return
	}
	l.qmu.Lock()
	defer l.qmu.Unlock()
	req := newAppendReq([]func(*Tx) error{fn}, report)
	req.deadline = time.Now().Add(within)
	l.queue = append(l.queue, req)
	if !l.leading {
		l.lingerLocked()
	}
}

// refusal is why the log takes no appends, or nil if it takes them. mu
// must be held.
func (l *Log) refusal() error {
	switch {
	case l.closed:
		return ErrClosed
	case l.readOnly:
		return ErrReadOnly
	case l.failed.Load() != nil:
		return *l.failed.Load()
	}
	return nil
}

// lingerLocked sets the linger timer for the earliest deadline of the
// AppendLaters queued, or stops it if none are. It is called whenever the
// queue changes while nobody leads, so a deadline whose records are gone
// fires no commit. qmu must be held.
func (l *Log) lingerLocked() {
	var at time.Time
	for _, r := range l.queue {
		if r.report != nil && (at.IsZero() || r.deadline.Before(at)) {
			at = r.deadline
		}
	}
	if at.Equal(l.lingerAt) {
		return
	}
	l.lingerAt = at
	switch {
	case at.IsZero():
		l.lingerTimer.Stop()
	case l.lingerTimer == nil:
		l.lingerTimer = time.AfterFunc(time.Until(at), l.commitLingering)
	default:
		l.lingerTimer.Reset(time.Until(at))
	}
}

// commitLingering leads a commit of the AppendLaters queued once lingerAt
// has come, unless an Append leads already. A firing before lingerAt, or
// with none set, is one that Reset or Stop came too late to cancel: it
// does nothing.
func (l *Log) commitLingering() {
	l.mu.RLock()
	defer l.mu.RUnlock()
	l.qmu.Lock()
	due := !l.lingerAt.IsZero() && !time.Now().Before(l.lingerAt)
	if due {
		l.lingerAt = time.Time{} // the timer is spent: handOffLocked sets it again
	}
	lead := due && !l.closed && !l.leading && len(l.queue) > 0
	l.leading = l.leading || lead
	l.qmu.Unlock()
	if lead {
		l.lead(nil)
	}
}

// lead commits batches from the head of the queue until own (if not nil)
// has been committed, then passes the lead on (see handOffLocked).
func (l *Log) lead(own *appendReq) {
	for committed := false; !committed; {
		l.qmu.Lock()
		n := min(len(l.queue), l.maxBatch)
		l.batch = append(l.batch[:0], l.queue[:n]...)
		l.queue = slices.Delete(l.queue, 0, n)
		l.qmu.Unlock()

		committed = own == nil || slices.Contains(l.batch, own)
		l.commit(l.batch)
		clear(l.batch)
	}
	l.qmu.Lock()
	defer l.qmu.Unlock()
	l.handOffLocked()
}

// handOffLocked gives the lead to the first queued Append, which waits for
// it. With none, nobody leads; AppendLaters left in the queue wait for the
// next Append, or for the linger timer. qmu must be held.
func (l *Log) handOffLocked() {
	if i := slices.IndexFunc(l.queue, func(r *appendReq) bool { return r.report == nil }); i >= 0 {
		l.queue[i].done <- errLead
		return
	}
	l.leading = false
	l.lingerLocked()
}

// View runs fn in a read-only transaction.
//
// A memory fault while fn reads (the file was truncated under the process)
// is returned as an error wrapping ErrDamaged rather than killing it.
func (l *Log) View(fn func(*Tx) error) (err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer faultShield(l.db.Path(), &err)
	return l.db.View(func(btx *bolt.Tx) error { return fn(&Tx{btx: btx, progress: l.progress}) })
}

// OnScanProgress makes every Tx.Scan of a View call f with the sequence
// number reached and the last one, every 65,536 records: for the progress
// displays of tools that read large logs. Set it before using the Log.
func (l *Log) OnScanProgress(f func(seq, last uint64)) { l.progress = f }

// Close waits for the appends in flight, commits the AppendLaters still
// queued, then closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	// Every Append and commitLingering holds mu shared while it leads: none
	// leads now, and only AppendLaters can be queued.
	for len(l.queue) > 0 {
		l.leading = true
		l.lead(nil)
	}
	l.stopScrub()
	return l.db.Close()
}

// errFnFailed makes bbolt roll back a batch in which one fn failed.
var errFnFailed = errors.New("wal: append function failed")

// commit runs the functions of the batch in one transaction, in queue
// order. A failing function gets its error and is dropped, and the rest
// run again in a fresh transaction: the outcome is as if the failed call
// had been made alone, after the calls queued before it. Then every
// request of the batch is answered.
func (l *Log) commit(batch []*appendReq) {
	calls := l.calls[:0]
	for _, req := range batch {
		for i := range req.fns {
			calls = append(calls, call{req, i})
		}
	}
	if failed := l.failed.Load(); failed != nil { // failed while this batch queued
		for _, c := range calls {
			c.req.errs[c.i] = *failed
		}
		calls = calls[:0]
	}
	for len(calls) > 0 {
		failed, fnErr, txid := -1, error(nil), 0
		start, committed := l.metrics.start(), (*bolt.Tx)(nil)
		err := l.db.Update(func(btx *bolt.Tx) error {
			txid, committed = btx.ID(), btx
			tx := &Tx{btx: btx}
			for j, c := range calls {
				if fnErr = callSafely(c.req.fns[c.i], tx); fnErr != nil {
					failed = j
					return errFnFailed
				}
			}
			if l.failWrites != nil {
				return l.failWrites()
			}
			return nil
		})
		if failed < 0 {
			if err != nil {
				l.metrics.failed()
				err = l.writeFailed(txid, err)
			} else {
				l.metrics.committed(start, committed, len(calls), l.pageSize)
			}
			for _, c := range calls {
				c.req.errs[c.i] = err
			}
			break
		}
		calls[failed].req.errs[calls[failed].i] = fnErr
		calls = slices.Delete(calls, failed, failed+1)
	}
	clear(calls)
	l.calls = calls[:0]
	for _, req := range batch {
		req.answer()
	}
}

// writeFailed classifies the error of commit txid, which failed on its
// way to the disk: ErrWriteFailed, or ErrLogFailed, for good, if the
// commit is visible all the same. bbolt writes the meta page last and
// fsyncs it; if that fsync fails, the page may be in the page cache, where
// every later transaction would read it, without being on disk. A failed
// commit before it (a full disk while the pages are written or the file
// grows) leaves the previous meta page in force, and bbolt has rolled back.
func (l *Log) writeFailed(txid int, err error) error {
	visible := true
	_ = l.db.View(func(btx *bolt.Tx) error {
		visible = btx.ID() >= txid
		return nil
	})
	if !visible { // a View that fails (the file unmapped) leaves it true
		return fmt.Errorf("%w: %w", ErrWriteFailed, err)
	}
	failed := fmt.Errorf("%w: %w", ErrLogFailed, err)
	l.failed.CompareAndSwap(nil, &failed)
	return failed
}

// call is one function of a request in a commit.
type call struct {
	req *appendReq
	i   int
}

// callSafely turns a panic in fn into an error, so that one bad append
// cannot fail the others of its batch, or leave them waiting for ever.
func callSafely(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wal: append function panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(tx)
}
