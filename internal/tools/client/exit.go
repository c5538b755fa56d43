package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit statuses of the strife commands (see doc.go). A script tells a
// payment that is only queued or pending from one that is paid or refused
// by the status alone.
const (
	ExitOK      = 0 // done; a payment COMMITTED
	ExitFailed  = 1 // an error, or a payment FAILED or REJECTED
	ExitUsage   = 2 // the command line is wrong: nothing was done
	ExitQueued  = 3 // a payment is QUEUED: the gateway could not be reached
	ExitPending = 4 // a payment is PENDING: the gateway holds it and keeps trying
)

// ExitStatuses is the exit status table, for the commands' help.
const ExitStatuses = `Exit statuses:
  0  done (a payment COMMITTED)
  1  an error, or a payment FAILED or REJECTED
  2  usage: a flag, argument or command is wrong; nothing was done
  3  a payment is QUEUED: the gateway could not be reached; it is resent later
  4  a payment is PENDING: the gateway holds it and keeps trying`

// Codes of --json errors that are not gRPC code names (see doc.go).
const (
	CodeUsage = "usage" // the command line is wrong (exit status 2)
	CodeLocal = "local" // something on this machine: state directory, queue, certificate files, terminal
)

// UsageError is a wrong command line: an unknown flag or command, a
// missing or bad flag value. Exit status 2, code "usage".
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// GatewayError is what the gateway answered a call, or that it could not be
// reached, as a person reads it; Code is the gRPC code it came with, for
// --json.
type GatewayError struct {
	Code    codes.Code
	Message string
}

func (e *GatewayError) Error() string { return e.Message }

// gatewayError is err's status told with format and args (the gateway's
// own message when format is "").
func gatewayError(err error, format string, args ...any) *GatewayError {
	e := &GatewayError{Code: status.Code(err), Message: gatewayMessage(err)}
	if format != "" {
		e.Message = fmt.Sprintf(format, args...)
	}
	return e
}

// gatewayMessage is a gateway error's message for a person. The gateway
// writes its messages without package prefixes; an older gateway did not,
// so they are taken off here too ("gatewayd: no such user"), with the
// "permission denied: " that the code already says.
func gatewayMessage(err error) string {
	msg := status.Convert(err).Message()
	for _, prefix := range []string{"gatewayd: ", "coordinator: ", "permission denied: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}

// OutcomeError ends a command that printed a payment that is not
// COMMITTED: there is nothing more to say, only the exit status to set.
type OutcomeError struct{ Outcome Outcome }

func (e *OutcomeError) Error() string { return "payment " + strings.ToLower(string(e.Outcome)) }

// Status is the outcome's exit status.
func (e *OutcomeError) Status() int {
	switch e.Outcome {
	case OutcomeQueued:
		return ExitQueued
	case OutcomePending:
		return ExitPending
	case OutcomeCommitted:
		return ExitOK
	}
	return ExitFailed
}

// CodeName is a gRPC code's canonical name: NOT_FOUND, UNAVAILABLE.
func CodeName(c codes.Code) string { return code.Code(c).String() }

// Classify returns an error's exit status and its --json code.
func Classify(err error) (exit int, code string) {
	var usage *UsageError
	var gw *GatewayError
	var outcome *OutcomeError
	switch {
	case err == nil:
		return ExitOK, ""
	case errors.As(err, &outcome):
		return outcome.Status(), ""
	case errors.As(err, &usage):
		return ExitUsage, CodeUsage
	case errors.As(err, &gw):
		return ExitFailed, CodeName(gw.Code)
	case errors.Is(err, ErrNotLoggedIn), errors.Is(err, ErrLoginAgain):
		return ExitFailed, CodeName(codes.Unauthenticated)
	case errors.Is(err, ErrTryLater):
		return ExitFailed, CodeName(codes.ResourceExhausted)
	}
	if st, ok := status.FromError(err); ok {
		return ExitFailed, CodeName(st.Code())
	}
	return ExitFailed, CodeLocal
}

// Report writes err to w for a person ("Error: no user named mallory") or,
// with asJSON, as one JSON object {"code", "message"}, and returns the
// exit status. A payment's outcome (OutcomeError) was printed already: it
// only sets the status.
func Report(w io.Writer, err error, asJSON bool) int {
	exit, code := Classify(err)
	if err == nil || code == "" {
		return exit
	}
	if asJSON {
		_ = writeJSON(w, map[string]string{"code": code, "message": err.Error()})
	} else {
		fmt.Fprintln(w, "Error:", err)
	}
	return exit
}

// Execute runs root (the strife command, its input and outputs set) with
// args, reports an error on its standard error as Report does, and returns
// the process's exit status.
func Execute(ctx context.Context, root *cobra.Command, args []string) int {
	root.SilenceErrors = true
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if cmd == nil {
		cmd = root
	}
	return Report(cmd.ErrOrStderr(), err, wantsJSON(cmd, args))
}

// wantsJSON reports whether the command was given --json. A flag that
// failed to parse can stop the parse before --json, so the arguments are
// looked at too.
func wantsJSON(cmd *cobra.Command, args []string) bool {
	if f := cmd.Flags().Lookup("json"); f != nil && f.Changed {
		return f.Value.String() == "true"
	}
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[:i]
	}
	return slices.Contains(args, "--json") || slices.Contains(args, "--json=true")
}

// UsageErrors makes every command under root report a wrong command line
// as a UsageError: a flag that does not parse, a wrong number of
// arguments or an unknown command, a required flag left out ("--user is
// required", where cobra would say `required flag(s) "user" not set`).
func UsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{err} })
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		if args := cmd.Args; args != nil {
			cmd.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return &UsageError{err}
				}
				return nil
			}
		}
		if preRun := cmd.PreRunE; preRun != nil || cmd.PreRun == nil {
			cmd.PreRunE = func(cmd *cobra.Command, a []string) error {
				if err := requiredFlags(cmd); err != nil {
					return err
				}
				if preRun != nil {
					return preRun(cmd, a)
				}
				return nil
			}
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// requiredFlags says which required flag of cmd is missing, before cobra
// does (PreRunE runs first), in words.
func requiredFlags(cmd *cobra.Command) error {
	var missing []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if v := f.Annotations[cobra.BashCompOneRequiredFlag]; len(v) > 0 && v[0] == "true" && !f.Changed {
			missing = append(missing, "--"+f.Name)
		}
	})
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return usagef("%s is required", missing[0])
	}
	return usagef("%s are required", strings.Join(missing, " and "))
}
