package top

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// Config is what Run watches and how.
type Config struct {
	// Targets are the endpoints, one row each, in this order.
	Targets []Target
	// Interval is the refresh period, and the time a scrape may take
	// before its process is shown DOWN. Default 1s.
	Interval time.Duration
	// Once prints a single frame, after two scrapes Interval apart (so
	// that rates and percentiles have an interval to cover), and returns.
	Once bool
	// In is read for q (or Ctrl-C at a terminal in raw mode) to quit; nil
	// reads nothing. Out receives the frames.
	In  io.Reader
	Out io.Writer
}

// DefaultInterval is the refresh period when Config.Interval is zero.
const DefaultInterval = time.Second

// Validate rejects a Config Run cannot use.
func (c Config) Validate() error {
	switch {
	case len(c.Targets) == 0:
		return errors.New("top: nothing to watch")
	case c.Interval < 0 || c.Interval > 0 && c.Interval < 10*time.Millisecond:
		return fmt.Errorf("top: --interval %s is too short (10ms at least)", c.Interval)
	case c.Out == nil:
		return errors.New("top: no output")
	}
	return nil
}

// Run shows frames until ctx ends, q is read from In, or (Once) the first
// frame is out. At a terminal it redraws in place, on the alternate screen,
// with In in raw mode, and restores the terminal before it returns;
// elsewhere each frame is plain text followed by a blank line.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	scr, err := openScreen(cfg.In, cfg.Out)
	if err != nil {
		return err
	}
	defer scr.close()
	if cfg.In != nil {
		go watchKeys(cfg.In, cancel)
	}
	transport := &http.Transport{DisableCompression: false, MaxIdleConnsPerHost: 1}
	defer transport.CloseIdleConnections()
	return loop(ctx, cfg, NewMonitor(cfg.Targets, &http.Client{Transport: transport}), scr)
}

// loop polls every Interval and draws each frame (with Once, only the
// second).
func loop(ctx context.Context, cfg Config, mon *Monitor, scr *screen) error {
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	for polls := 1; ; polls++ {
		pollCtx, cancel := context.WithTimeout(ctx, cfg.Interval)
		frame := mon.Poll(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if !cfg.Once || polls == 2 {
			if err := scr.draw(Render(frame, cfg.Interval)); err != nil {
				return err
			}
		}
		if cfg.Once && polls == 2 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// watchKeys cancels on q, Q, Ctrl-C (a byte, in raw mode) or Ctrl-D. The
// end of In is not a request to quit: a test or a pipe may give none.
func watchKeys(in io.Reader, cancel func()) {
	buf := make([]byte, 64)
	for {
		n, err := in.Read(buf)
		for _, c := range buf[:n] {
			if c == 'q' || c == 'Q' || c == 3 || c == 4 {
				cancel()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// A screen is where frames go: a terminal, redrawn in place, or a stream
// of plain frames.
type screen struct {
	out      io.Writer
	terminal bool
	restore  func()
}

// The ANSI sequences a terminal screen uses.
const (
	enterAlt   = "\x1b[?1049h\x1b[?25l" // alternate screen, cursor hidden
	leaveAlt   = "\x1b[?25h\x1b[?1049l"
	home       = "\x1b[H"
	clearLine  = "\x1b[K" // to the end of the line
	clearBelow = "\x1b[J" // to the end of the screen
)

func openScreen(in io.Reader, out io.Writer) (*screen, error) {
	s := &screen{out: out, restore: func() {}}
	f, ok := out.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return s, nil
	}
	s.terminal = true
	if inFile, ok := in.(*os.File); ok && term.IsTerminal(int(inFile.Fd())) {
		state, err := term.MakeRaw(int(inFile.Fd()))
		if err != nil {
			return nil, fmt.Errorf("top: terminal: %w", err)
		}
		s.restore = func() { term.Restore(int(inFile.Fd()), state) }
	}
	if _, err := io.WriteString(out, enterAlt); err != nil {
		s.restore()
		return nil, err
	}
	return s, nil
}

// draw shows lines: at a terminal over the previous frame, each line
// cleared to its end and the rest of the screen below (less flicker than
// clearing everything first); in raw mode a line ends in \r\n, as the
// terminal no longer adds the \r.
func (s *screen) draw(lines []string) error {
	if !s.terminal {
		_, err := io.WriteString(s.out, strings.Join(lines, "\n")+"\n\n")
		return err
	}
	var b strings.Builder
	b.WriteString(home)
	for _, l := range append(lines, "", "q quits") {
		b.WriteString(l + clearLine + "\r\n")
	}
	b.WriteString(clearBelow)
	_, err := io.WriteString(s.out, b.String())
	return err
}

func (s *screen) close() {
	if s.terminal {
		io.WriteString(s.out, leaveAlt)
	}
	s.restore()
}
