package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// passwordReader reads passwords for one command. When standard input is a
// terminal it prompts and reads without echo (term.ReadPassword); otherwise
// (a pipe, a test, --password-stdin) it reads one line per password, so
// that several passwords may follow one another on standard input.
type passwordReader struct {
	in     io.Reader
	prompt io.Writer
	quiet  bool // --password-stdin: no prompt
	// line, if set, reads the next line of in (with or without its line
	// ending) when in is not a terminal: the menu's, which reads its other
	// answers from in too. Otherwise lines are read from in directly.
	line  func() (string, error)
	lines *bufio.Reader
}

func newPasswordReader(cmd *cobra.Command, stdin bool) *passwordReader {
	return &passwordReader{in: cmd.InOrStdin(), prompt: cmd.ErrOrStderr(), quiet: stdin}
}

// terminalFd returns the file descriptor of r when it is a terminal.
func terminalFd(r io.Reader) (int, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// read prompts (unless quiet) and reads one password; an empty one is an
// error.
func (p *passwordReader) read(prompt string) (string, error) {
	if !p.quiet {
		fmt.Fprint(p.prompt, prompt)
	}
	var line string
	if fd, ok := terminalFd(p.in); ok && !p.quiet {
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(p.prompt) // the newline the user typed was not echoed
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		line = string(b)
	} else {
		s, err := p.readLine()
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password: %w", err)
		}
		line = s
	}
	// Only the line ending goes: spaces are part of the password.
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errEmptyPassword
	}
	return line, nil
}

// Refusals of read and readNew.
var (
	errEmptyPassword = errors.New("empty password")
	errMismatch      = errors.New("the passwords do not match: try again")
)

// readLine reads the next line of a standard input that is not a terminal.
func (p *passwordReader) readLine() (string, error) {
	if p.line != nil {
		return p.line()
	}
	if p.lines == nil {
		p.lines = bufio.NewReader(p.in)
	}
	return p.lines.ReadString('\n')
}

// readNew reads a new password; at a terminal it asks twice and refuses a
// mismatch.
func (p *passwordReader) readNew(prompt string) (string, error) {
	password, err := p.read(prompt)
	if err != nil {
		return "", err
	}
	if _, ok := terminalFd(p.in); !ok || p.quiet {
		return password, nil
	}
	indent := prompt[:len(prompt)-len(strings.TrimLeft(prompt, " "))]
	again, err := p.read(indent + "again: ")
	if err != nil {
		return "", err
	}
	if again != password {
		return "", errMismatch
	}
	return password, nil
}
