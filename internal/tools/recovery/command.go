package recovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// Exit codes.
const (
	ExitConsistent  = 0
	ExitDifferences = 1
	ExitUnusable    = 2
)

// ExitError carries an exit code out of a command.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Options of check.
type Options struct {
	Repair  bool
	JSON    bool
	Timeout time.Duration
	Now     func() time.Time
	// Progress, if set, shows a progress bar while a log that takes more
	// than a second to check is read (the command gives it stderr).
	Progress io.Writer
}

// Command returns the strife-recover root command.
func Command() *cobra.Command {
	root := &cobra.Command{
		Use:           "strife-recover",
		Short:         "Check and repair Strife data files offline, from their write-ahead logs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	opts := Options{}
	check := &cobra.Command{
		Use:   "check FILE...",
		Short: "Replay each file's log, compare the projections, list attempts in doubt, cross-check the files",
		Long: `check replays each bank's or gateway's data file from its first record and
compares the rebuilt projection with the stored one, reporting every
difference; it lists attempts in doubt, and with the gateway's file and the
banks' files together it cross-checks COMMIT decisions against COMMITTED
records. Files are opened read-only; --repair rebuilds a projection from the
log after copying the file to FILE.bak-<timestamp>.
Exit status: 0 consistent, 1 differences found, 2 unusable input.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Progress = cmd.ErrOrStderr()
			code := Run(cmd.OutOrStdout(), cmd.ErrOrStderr(), args, opts)
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	f := check.Flags()
	f.BoolVar(&opts.Repair, "repair", false, "rebuild each inconsistent projection from its log, after a backup copy")
	f.BoolVar(&opts.JSON, "json", false, "print the reports as JSON")
	f.DurationVar(&opts.Timeout, "timeout", time.Second, "how long to wait for a daemon's lock on a file")
	root.AddCommand(check)
	root.AddCommand(&cobra.Command{
		Use:   "salvage DAMAGED NEW",
		Short: "Copy the intact records of a damaged data file into a new file and rebuild its projection",
		Long: `salvage reads every intact record of DAMAGED (a file check calls unusable):
the records check themselves, so they are found on the pages of the records'
tree that still read and, where that tree is broken, on every page of the
file that looks like a leaf. It writes them, under their own sequence
numbers, into NEW (which must not exist), rebuilds the bank's ledger or the
gateway's payments and users from them, and checks NEW. DAMAGED is only
read. Replace the daemon's file with NEW once the report is understood.
Exit status: 0 every record was recovered, 1 records were lost (listed as
LOST), 2 nothing usable was written.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := Salvage(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], args[1], time.Now); code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	})
	compactOpts := Options{}
	compact := &cobra.Command{
		Use:   "compact SRC DST",
		Short: "Copy a data file into a new file without its free pages, its pages filled",
		Long: `compact checks SRC as check does (it must be sound and consistent), copies it
with bbolt's compaction into DST (which must not exist): every bucket, key and
value in key order, into pages as full as bbolt makes them, with no free
pages. DST is written under a temporary name beside it, synced, then given
its name, and checked as check does before compact reports success. SRC is
only read. It prints both sizes, per payment, and how long the copy took.
Replace the daemon's file with DST while the daemon is stopped.
Exit status: 0 compacted, 1 SRC is inconsistent (check --repair first), 2
unusable input (a damaged SRC: salvage it) or DST exists.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := Compact(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], args[1], compactOpts); code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	compact.Flags().BoolVar(&compactOpts.JSON, "json", false, "print the result as JSON")
	compact.Flags().DurationVar(&compactOpts.Timeout, "timeout", time.Second, "how long to wait for a daemon's lock on SRC")
	root.AddCommand(compact)
	return root
}

// Main runs the command and returns the process's exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	cmd := Command()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.Execute()
	var exit *ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.Code
	}
	fmt.Fprintln(stderr, "strife-recover:", err)
	return ExitUnusable
}

// Result is what check prints with --json.
type Result struct {
	Files      []*Report `json:"files"`
	Unusable   []string  `json:"unusable"`
	CrossCheck []string  `json:"cross_check"`
	Phase2     []string  `json:"in_phase_2"`
	Repaired   []string  `json:"repaired"`
	Exit       int       `json:"exit"`
}

// Run checks (and repairs) the files and returns the exit status.
func Run(stdout, stderr io.Writer, paths []string, opts Options) int {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	res := &Result{Files: []*Report{}, Unusable: []string{}, Repaired: []string{}}
	for _, path := range paths {
		r, err := checkFile(path, opts)
		if err == nil && opts.Repair && len(r.Differences) > 0 {
			var backup string
			if backup, err = repair(path, r.Kind, opts); err == nil {
				res.Repaired = append(res.Repaired, fmt.Sprintf("%s (backup %s)", path, backup))
				r, err = checkFile(path, opts)
			}
		}
		if err != nil {
			res.Unusable = append(res.Unusable, fmt.Sprintf("%s: %v", path, err))
			continue
		}
		res.Files = append(res.Files, r)
	}
	res.CrossCheck, res.Phase2 = CrossCheck(res.Files)
	if res.CrossCheck == nil {
		res.CrossCheck = []string{}
	}
	if res.Phase2 == nil {
		res.Phase2 = []string{}
	}
	for _, r := range res.Files {
		if len(r.Differences) > 0 {
			res.Exit = ExitDifferences
		}
	}
	if len(res.CrossCheck) > 0 {
		res.Exit = ExitDifferences
	}
	if len(res.Unusable) > 0 {
		res.Exit = ExitUnusable
	}
	if opts.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		printText(stdout, res)
	}
	for _, u := range res.Unusable {
		fmt.Fprintf(stderr, "strife-recover: UNUSABLE %s\n", u)
	}
	return res.Exit
}

func checkFile(path string, opts Options) (*Report, error) {
	l, err := wal.OpenReadOnly(path, opts.Timeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnusable, err)
	}
	defer l.Close()
	if opts.Progress != nil {
		bar := newProgressBar(opts.Progress, filepath.Base(path), time.Now)
		l.OnScanProgress(bar.update)
		defer bar.done()
	}
	return Check(l, path, opts.Now())
}

func printText(w io.Writer, res *Result) {
	for _, r := range res.Files {
		status := "consistent"
		if len(r.Differences) > 0 {
			status = fmt.Sprintf("%d difference(s)", len(r.Differences))
		}
		fmt.Fprintf(w, "%s: %s %q, %d records, %s\n", r.Path, r.Kind, r.Name, r.Records, status)
		for _, d := range r.Warnings {
			fmt.Fprintf(w, "  WARNING %s\n", d)
		}
		for _, d := range r.Differences {
			fmt.Fprintf(w, "  DIFF %s\n", d)
		}
		for _, d := range r.InDoubt {
			fmt.Fprintf(w, "  IN DOUBT %s/%d: %s; coordinator %s; banks %v; since %s (%s ago)\n",
				d.TxID, d.Attempt, d.State, d.Coordinator, d.Banks, d.Since.Format(time.RFC3339Nano), d.Age)
		}
	}
	for _, p := range res.Phase2 {
		fmt.Fprintf(w, "PHASE 2 %s\n", p)
	}
	for _, p := range res.CrossCheck {
		fmt.Fprintf(w, "CROSS-CHECK %s\n", p)
	}
	for _, p := range res.Repaired {
		fmt.Fprintf(w, "REPAIRED %s\n", p)
	}
}

// repair backs the file up and rebuilds its projection from the log.
func repair(path string, kind Kind, opts Options) (string, error) {
	backup := fmt.Sprintf("%s.bak-%s", path, opts.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := CopyFile(path, backup); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	l, err := wal.Open(path, wal.Options{LockTimeout: opts.Timeout})
	if err != nil {
		return backup, err
	}
	defer l.Close()
	switch kind {
	case Bank:
		lg, err := ledger.New(l, nil)
		if err != nil {
			return backup, err
		}
		return backup, lg.Replay()
	case Gateway:
		if err := coordinator.Replay(l); err != nil {
			return backup, err
		}
		return backup, users.New(l).Replay()
	}
	return backup, fmt.Errorf("cannot repair a %q file", kind)
}

// CopyFile copies a data file to a new file, to, synced before it
// returns: a copy a daemon may open at once (check --repair's backup, and
// strife-bench startup's copies of its history files). It refuses an
// existing to.
func CopyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
