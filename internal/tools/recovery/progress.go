package recovery

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressBar shows how far a check has read a log, on one line that it
// redraws. It stays quiet for the first second, so checking a small log
// prints nothing, and clears its line when the check ends.
type progressBar struct {
	w     io.Writer
	name  string
	start time.Time
	now   func() time.Time
	drawn bool
}

func newProgressBar(w io.Writer, name string, now func() time.Time) *progressBar {
	return &progressBar{w: w, name: name, start: now(), now: now}
}

// update is a wal.Log scan progress function: seq of last records read.
// A check reads the log more than once; each pass fills the bar again.
func (b *progressBar) update(seq, last uint64) {
	if last == 0 || b.now().Sub(b.start) < time.Second {
		return
	}
	pct := min(seq*100/last, 100)
	fmt.Fprintf(b.w, "\rchecking %s [%-20s] %3d%% (%d/%d records)", b.name, strings.Repeat("=", int(pct/5)), pct, seq, last)
	b.drawn = true
}

// done clears the bar's line, if it drew one.
func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
