package inspect

import (
	"fmt"
	"math"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/internal/tools/recovery"
	"github.com/strife-pay/strife/wal"
)

// BucketStats is one bucket's row of stats: its own pairs and pages, not
// those of the buckets nested in it (they have rows of their own).
type BucketStats struct {
	Bucket      string  `json:"bucket"` // nested buckets as parent/child
	Pairs       int     `json:"pairs"`
	Pages       int     `json:"pages"`
	Allocated   int64   `json:"allocated_bytes"`
	InUse       int64   `json:"in_use_bytes"`
	FillPercent float64 `json:"fill_percent"` // in use / allocated, one decimal
	Inline      bool    `json:"inline,omitempty"`
}

// PerPayment is a file's total divided by the payments it holds.
type PerPayment struct {
	Pairs     float64 `json:"pairs"`
	Pages     float64 `json:"pages"`
	Allocated int64   `json:"allocated_bytes"`
	InUse     int64   `json:"in_use_bytes"`
	FileBytes int64   `json:"file_bytes"`
}

// FileStats is the output of stats for one file.
type FileStats struct {
	File       string        `json:"file"`
	Kind       recovery.Kind `json:"kind"`
	Size       int64         `json:"size_bytes"`
	PageSize   int           `json:"page_size"`
	Payments   int           `json:"payments"`
	Buckets    []BucketStats `json:"buckets"`
	Total      BucketStats   `json:"total"`
	PerPayment *PerPayment   `json:"per_payment,omitempty"` // absent without payments
}

// percent is part/whole as a percentage with one decimal (0 of nothing).
func percent(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return math.Round(1000*float64(part)/float64(whole)) / 10
}

// perOne is n/d with one decimal.
func perOne(n, d int) float64 { return math.Round(10*float64(n)/float64(d)) / 10 }

func (g *globals) stats(path string) (FileStats, error) {
	res := FileStats{File: path}
	l, err := g.open(path)
	if err != nil {
		return res, err
	}
	defer l.Close()
	err = l.View(func(tx *wal.Tx) error {
		if res.Kind, err = recovery.Detect(tx); err != nil {
			return err
		}
		s := tx.Stats()
		res.Size, res.PageSize, res.Payments = s.Size, s.PageSize, recovery.Payments(tx, res.Kind)
		res.Total.Bucket = "total"
		for _, b := range s.Buckets {
			row := BucketStats{Bucket: b.Path, Pairs: b.Pairs, Pages: b.Pages, Allocated: int64(b.Allocated), InUse: int64(b.InUse),
				FillPercent: percent(int64(b.InUse), int64(b.Allocated)), Inline: b.Inline}
			res.Buckets = append(res.Buckets, row)
			res.Total.Pairs += row.Pairs
			res.Total.Pages += row.Pages
			res.Total.Allocated += row.Allocated
			res.Total.InUse += row.InUse
		}
		res.Total.FillPercent = percent(res.Total.InUse, res.Total.Allocated)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	if n := res.Payments; n > 0 {
		res.PerPayment = &PerPayment{Pairs: perOne(res.Total.Pairs, n), Pages: perOne(res.Total.Pages, n),
			Allocated: res.Total.Allocated / int64(n), InUse: res.Total.InUse / int64(n), FileBytes: res.Size / int64(n)}
	}
	return res, nil
}

func statsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "stats FILE...",
		Short: "What each bucket of a file costs: pairs, pages, bytes, fill, and per payment",
		Long: `stats reports, per file and per bucket (nested buckets as parent/child, each
counted without those nested in it), bbolt's own statistics: key/value pairs,
pages, bytes allocated to those pages, bytes in use, and fill (in use /
allocated). The total is divided by the payments the file holds (the
gateway's payments, or the transactions a bank's log names) to give the cost
of one payment. The file's size also counts free pages and bbolt's meta
pages, which belong to no bucket.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files := []FileStats{}
			for _, path := range args {
				s, err := g.stats(path)
				if err != nil {
					return err
				}
				files = append(files, s)
			}
			return g.print(cmd.OutOrStdout(), files, func(w *tabwriter.Writer) {
				for i, f := range files {
					if i > 0 {
						fmt.Fprintln(w)
					}
					fmt.Fprintf(w, "%s (%s): %d bytes, pages of %d bytes, %d payments\n", f.File, f.Kind, f.Size, f.PageSize, f.Payments)
					fmt.Fprintln(w, "BUCKET\tPAIRS\tPAGES\tALLOCATED\tIN USE\tFILL")
					for _, b := range append(f.Buckets, f.Total) {
						fill := fmt.Sprintf("%.1f%%", b.FillPercent)
						if b.Inline {
							fill = "inline"
						}
						fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%s\n", b.Bucket, b.Pairs, b.Pages, b.Allocated, b.InUse, fill)
					}
					if p := f.PerPayment; p != nil {
						fmt.Fprintf(w, "per payment\t%.1f\t%.1f\t%d\t%d\t(file: %d bytes)\n", p.Pairs, p.Pages, p.Allocated, p.InUse, p.FileBytes)
					}
				}
			})
		},
	}
}
