package recovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/wal"
)

// Payments counts the payments a file holds: the gateway's projection has
// one key per payment, in open or in payments; a bank's log names each
// transaction it took part in, prepared (or, rarely, only aborted) there.
func Payments(tx *wal.Tx, kind Kind) int {
	if kind == Bank {
		return tx.TxIDs()
	}
	n := 0
	for _, name := range []string{coordinator.OpenBucket, coordinator.PaymentsBucket} {
		if b := tx.ExistingBucket(name); b != nil {
			n += b.Stats().KeyN
		}
	}
	return n
}

// FileSize is a data file's size on disk, per payment it holds (0 without
// payments), and the bytes of its pages up to bbolt's high-water mark
// (strife-inspect stats' size): bbolt grows a file ahead of its pages.
type FileSize struct {
	Bytes      int64 `json:"bytes"`
	PerPayment int64 `json:"bytes_per_payment,omitempty"`
	Pages      int64 `json:"page_bytes"`
}

// CompactResult is what compact prints with --json.
type CompactResult struct {
	From     string   `json:"from"`
	Into     string   `json:"into"`
	Kind     Kind     `json:"kind"`
	Name     string   `json:"name"`
	Records  uint64   `json:"records"`
	Payments int      `json:"payments"`
	Before   FileSize `json:"before"`
	After    FileSize `json:"after"`
	// Seconds is how long the copy took, without the checks before and
	// after it.
	Seconds float64 `json:"seconds"`
	// Warnings are the damage bbolt worked around in SRC (one bad meta
	// page, see check); DST has new meta pages.
	Warnings []string `json:"warnings,omitempty"`
}

// Compact checks the file from as check does, copies it into a new file
// into with bbolt's compaction (wal.Log.Compact), and checks the copy the
// same way: it must be consistent and hold the records and payments the
// original held. It returns the exit status: 0 compacted, 1 from is
// inconsistent (check --repair first), 2 unusable input or a copy that
// failed (no file is left at into).
func Compact(stdout, stderr io.Writer, from, into string, opts Options) int {
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "strife-recover: compact: "+format+"\n", args...)
		return code
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch _, err := os.Lstat(into); {
	case err == nil:
		return fail(ExitUnusable, "%s exists: compact writes a new file and never replaces one", into)
	case !errors.Is(err, os.ErrNotExist):
		return fail(ExitUnusable, "%v", err)
	}
	l, err := wal.OpenReadOnly(from, opts.Timeout)
	if err != nil {
		return fail(ExitUnusable, "%v%s", err, salvageHint(err, from))
	}
	defer l.Close()
	before, err := Check(l, from, opts.Now())
	if err != nil {
		return fail(ExitUnusable, "%v%s", err, salvageHint(err, from))
	}
	if n := len(before.Differences); n > 0 {
		return fail(ExitDifferences, "%s: %d difference(s) between its log and its projection (see strife-recover check): run strife-recover check --repair first", from, n)
	}
	res := CompactResult{From: from, Into: into, Kind: before.Kind, Name: before.Name, Records: before.Records, Warnings: before.Warnings}
	if res.Before, res.Payments, err = sizeOf(l, from, before.Kind); err != nil {
		return fail(ExitUnusable, "%s: %v", from, err)
	}
	start := time.Now()
	if err := l.Compact(into); err != nil {
		return fail(ExitUnusable, "%v", err)
	}
	res.Seconds = time.Since(start).Seconds()
	l.Close() // SRC is done with: its lock goes while DST is checked
	if err := checkCopy(into, before, &res, opts); err != nil {
		os.Remove(into)
		return fail(ExitUnusable, "%s: the copy failed its check and was removed: %v", into, err)
	}
	if opts.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return ExitConsistent
	}
	fmt.Fprintf(stdout, "COMPACTED %s %q (%d records, %d payments) from %s into %s in %s\n",
		res.Kind, res.Name, res.Records, res.Payments, from, into, time.Duration(res.Seconds*float64(time.Second)).Round(time.Millisecond))
	for _, w := range res.Warnings {
		fmt.Fprintf(stdout, "  WARNING %s: %s\n", from, w)
	}
	fmt.Fprintf(stdout, "  before: %s\n", res.Before)
	fmt.Fprintf(stdout, "  after:  %s, %.1f%% of before\n", res.After, 100*float64(res.After.Bytes)/float64(max(1, res.Before.Bytes)))
	fmt.Fprintf(stdout, "  %s: consistent, records verified\n", into)
	return ExitConsistent
}

func (s FileSize) String() string {
	per := ""
	if s.PerPayment > 0 {
		per = fmt.Sprintf(" (%d per payment)", s.PerPayment)
	}
	return fmt.Sprintf("%d bytes%s, %d of them in pages", s.Bytes, per, s.Pages)
}

// salvageHint points at salvage when a file is damaged: compact copies only
// what a daemon could open.
func salvageHint(err error, path string) string {
	if errors.Is(err, wal.ErrDamaged) || errors.Is(err, wal.ErrCorrupt) {
		return fmt.Sprintf(" (compact copies only a sound file; for a damaged one: strife-recover salvage %s NEW)", path)
	}
	return ""
}

// sizeOf is the file's size on disk and its payments.
func sizeOf(l *wal.Log, path string, kind Kind) (FileSize, int, error) {
	info, err := os.Stat(path)
	if err != nil {
		return FileSize{}, 0, err
	}
	s := FileSize{Bytes: info.Size()}
	var n int
	err = l.View(func(tx *wal.Tx) error {
		n, s.Pages = Payments(tx, kind), tx.Size()
		return nil
	})
	if n > 0 {
		s.PerPayment = s.Bytes / int64(n)
	}
	return s, n, err
}

// checkCopy opens the compacted copy as a log and checks it as check does
// (wal.Tx.Verify and the owner's checks): it must be consistent, of the
// same kind, with the same last record and payments as the original.
func checkCopy(path string, before *Report, res *CompactResult, opts Options) error {
	l, err := wal.OpenReadOnly(path, opts.Timeout)
	if err != nil {
		return err
	}
	defer l.Close()
	after, err := Check(l, path, opts.Now())
	if err != nil {
		return err
	}
	var payments int
	if res.After, payments, err = sizeOf(l, path, after.Kind); err != nil {
		return err
	}
	switch {
	case len(after.Differences) > 0:
		return fmt.Errorf("%d difference(s), the first: %s", len(after.Differences), after.Differences[0])
	case after.Kind != before.Kind || after.Records != before.Records || payments != res.Payments || len(after.InDoubt) != len(before.InDoubt):
		return fmt.Errorf("a %s log of %d records, %d payments and %d attempts in doubt, from a %s log of %d records, %d payments and %d attempts in doubt",
			after.Kind, after.Records, payments, len(after.InDoubt), before.Kind, before.Records, res.Payments, len(before.InDoubt))
	}
	return nil
}
