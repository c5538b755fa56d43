package deploy

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// upPrefix marks the lines up writes itself.
const upPrefix = "up"

// output writes whole lines to stdout, one at a time, each prefixed with the
// name of the process it comes from, padded so that the columns line up.
type output struct {
	mu    sync.Mutex
	w     io.Writer
	width int
	color bool
}

func newOutput(w io.Writer, color bool, names []string) *output {
	o := &output{w: w, color: color, width: len(upPrefix)}
	for _, n := range names {
		o.width = max(o.width, len(n))
	}
	return o
}

// say writes one of up's own lines.
func (o *output) say(format string, args ...any) {
	o.write(upPrefix, fmt.Sprintf(format, args...))
}

// write writes text, line by line, under the prefix of name.
func (o *output) write(name, text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for line := range strings.Lines(strings.TrimRight(text, "\n")) {
		text := fmt.Sprintf("%-*s %s", o.width+2, "["+name+"]", line)
		fmt.Fprintln(o.w, strings.TrimRight(text, " \r\n"))
	}
}

// child renders a line a child wrote: a JSON log line in the console
// format, anything else (a panic, a usage error) as it is. It returns the
// log message, empty for a line that is not JSON. The line is parsed once,
// by the console writer: under load the children write thousands of lines
// a second, and up renders every one.
func (o *output) child(name string, line []byte) string {
	var msg string
	var buf bytes.Buffer
	cw := zerolog.ConsoleWriter{Out: &buf, NoColor: !o.color, TimeFormat: "15:04:05",
		FormatPrepare: func(evt map[string]any) error {
			msg, _ = evt[zerolog.MessageFieldName].(string)
			return nil
		}}
	if _, err := cw.Write(line); err != nil {
		o.write(name, string(line))
		return ""
	}
	o.write(name, buf.String())
	return msg
}
