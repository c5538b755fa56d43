package daemon

import (
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

// NewLogger returns a zerolog logger writing JSON lines, or human-readable
// lines for format "console", to w.
func NewLogger(w io.Writer, format string) (zerolog.Logger, error) {
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	default:
		return zerolog.Logger{}, fmt.Errorf("unknown log format %q (want json or console)", format)
	}
	return zerolog.New(w).With().Timestamp().Logger(), nil
}

// LogFormatFlag declares --log-format, the same on every daemon.
func LogFormatFlag(fs *pflag.FlagSet, format *string) {
	fs.StringVar(format, "log-format", "json", "log format: json or console")
}
