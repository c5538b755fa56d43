// Package logging makes the zerolog loggers of Strife's programs.
package logging

import (
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
)

// New returns a zerolog logger writing JSON lines, or human-readable
// lines for format "console", to w.
func New(w io.Writer, format string) (zerolog.Logger, error) {
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	default:
		return zerolog.Logger{}, fmt.Errorf("unknown log format %q (want json or console)", format)
	}
	return zerolog.New(w).With().Timestamp().Logger(), nil
}
