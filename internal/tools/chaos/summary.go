package chaos

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strife-pay/strife/internal/tools/deploy"
)

// Summary is what a run did and found.
type Summary struct {
	Seed     uint64
	Duration time.Duration
	// Payments counts the payments by final answer (Committed, Failed,
	// Rejected; Pending for those without one), Sent all of them, and
	// Sends every request, retries included.
	Payments    map[string]int
	Sent, Sends int
	// Reasons counts the FAILED payments by reason.
	Reasons map[string]int
	// Faults counts, by kind of process (deploy.KindEtcd, ...), the faults
	// and starts by action ("kills", "stops", ...).
	Faults     map[string]map[string]int
	Invariants []Invariant
}

// OK reports whether every invariant holds.
func (s *Summary) OK() bool {
	for _, inv := range s.Invariants {
		if !inv.OK() {
			return false
		}
	}
	return true
}

// Kills is how many processes were killed with SIGKILL.
func (s *Summary) Kills() int {
	n := 0
	for _, m := range s.Faults {
		n += m[actKill]
	}
	return n
}

func summarize(cfg Config, payments []payment, faults map[string]map[string]int, invs []Invariant) *Summary {
	s := &Summary{Seed: cfg.Seed, Duration: cfg.Duration, Payments: map[string]int{}, Reasons: map[string]int{},
		Faults: faults, Invariants: invs, Sent: len(payments)}
	for _, p := range payments {
		s.Sends += p.sends
		switch p.final {
		case "":
			s.Payments[Pending]++
		case Failed:
			s.Payments[Failed]++
			s.Reasons[p.reason]++
		default:
			s.Payments[p.final]++
		}
	}
	return s
}

// Print writes the summary table.
func (s *Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "\nstrife-chaos summary (seed %d, %v of faults)\n\n", s.Seed, s.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "payments\tsent\tcommitted\tfailed\trejected\tpending\trequests")
	fmt.Fprintf(tw, "\t%d\t%d\t%d\t%d\t%d\t%d\n", s.Sent, s.Payments[Committed], s.Payments[Failed], s.Payments[Rejected], s.Payments[Pending], s.Sends)
	tw.Flush()
	if len(s.Reasons) > 0 {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(s.Reasons)) {
			parts = append(parts, fmt.Sprintf("%s %d", r, s.Reasons[r]))
		}
		fmt.Fprintf(w, "failed: %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "faults\t%s\n", strings.Join(actions, "\t"))
	total := map[string]int{}
	for _, kind := range []string{deploy.KindEtcd, deploy.KindBank, deploy.KindGateway} {
		fmt.Fprint(tw, kind)
		for _, a := range actions {
			fmt.Fprintf(tw, "\t%d", s.Faults[kind][a])
			total[a] += s.Faults[kind][a]
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "all")
	for _, a := range actions {
		fmt.Fprintf(tw, "\t%d", total[a])
	}
	fmt.Fprintln(tw)
	tw.Flush()
	fmt.Fprintln(w)
	for _, inv := range s.Invariants {
		mark := "✓"
		if !inv.OK() {
			mark = "✗"
		}
		fmt.Fprintf(w, "%s %s: %d checked, %d violations\n", mark, inv.Name, inv.Checked, inv.Violations)
		for _, e := range inv.Examples {
			fmt.Fprintf(w, "    %s\n", e)
		}
	}
	if s.OK() {
		fmt.Fprintln(w, "\nevery invariant holds")
	} else {
		fmt.Fprintln(w, "\nVIOLATIONS: see above, and payments.log, faults.log, daemons.log and recover-check.txt in the run directory")
	}
}
