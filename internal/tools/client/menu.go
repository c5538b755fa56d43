package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/internal/plumbing/auth"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// MenuCommand returns `strife menu`, the interactive client.
func MenuCommand() *cobra.Command {
	var cfg Config
	cmd := &cobra.Command{
		Use:   "menu",
		Short: "The interactive client: balance, pay, history, the pending queue",
		Long: `The interactive client, driven by standard input: it logs in if needed,
then offers balance, payment, history, the pending queue, retry now, and
logout (and, to admins, registering a client). At a terminal the password
is read without echo. Queued payments are resent in the background; their outcomes are
shown as notices.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := Open(cfg)
			if err != nil {
				return err
			}
			defer c.Close()
			return c.Menu(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	addFlags(cmd, &cfg)
	return cmd
}

// menu is one interactive session: lines in, screens out.
type menu struct {
	c   *Client
	in  *bufio.Scanner
	out io.Writer
	// passwords reads passwords as the other commands do: without echo at a
	// terminal, else as lines of in (through the scanner).
	passwords *passwordReader
	notices   chan *Result
}

// errQuit ends the menu.
var errQuit = errors.New("quit")

// Menu runs the interactive client until the user exits or in ends.
func (c *Client) Menu(ctx context.Context, in io.Reader, out io.Writer) error {
	m := &menu{c: c, in: bufio.NewScanner(in), out: out, notices: make(chan *Result, 64)}
	m.passwords = &passwordReader{in: in, prompt: out, line: m.line}
	if err := m.login(ctx); errors.Is(err, errQuit) {
		return nil
	} else if err != nil {
		return err
	}
	if err := c.OpenQueue(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = c.Sender().Run(ctx, func(r *Result) {
			select {
			case m.notices <- r:
			default: // the outcome is in the done bucket anyway
			}
		})
	}()
	for {
		err := m.screen(ctx)
		if errors.Is(err, errQuit) {
			return nil
		}
		if err != nil {
			fmt.Fprintf(out, "error: %v\n", err)
		}
	}
}

// ask prints a prompt and reads a line, trimmed of spaces; the end of the
// input ends the menu.
func (m *menu) ask(prompt string) (string, error) {
	fmt.Fprint(m.out, prompt)
	line, err := m.line()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// askEach asks the prompts in turn and returns the answers.
func (m *menu) askEach(prompts ...string) ([]string, error) {
	answers := make([]string, len(prompts))
	for i, prompt := range prompts {
		var err error
		if answers[i], err = m.ask(prompt); err != nil {
			return nil, err
		}
	}
	return answers, nil
}

// line reads the next line as it is; the end of the input is errQuit.
func (m *menu) line() (string, error) {
	if !m.in.Scan() {
		fmt.Fprintln(m.out)
		return "", errQuit
	}
	return m.in.Text(), nil
}

// askPassword reads a password with the reader the other commands use, so
// that only the line ending is stripped; an empty one is an error, and
// the end of the input (or a terminal that cannot be read) ends the menu.
func (m *menu) askPassword(prompt string) (string, error) {
	return menuPassword(m.passwords.read(prompt))
}

// askNewPassword is askPassword for a new password: asked twice at a
// terminal.
func (m *menu) askNewPassword(prompt string) (string, error) {
	return menuPassword(m.passwords.readNew(prompt))
}

func menuPassword(password string, err error) (string, error) {
	if err != nil && !errors.Is(err, errEmptyPassword) && !errors.Is(err, errMismatch) {
		return "", errQuit
	}
	return password, err
}

// login reuses a valid session, or asks for a user and password.
func (m *menu) login(ctx context.Context) error {
	if m.c.CheckSession() == nil {
		return m.c.Dial("")
	}
	fmt.Fprintln(m.out, "Strife: log in")
	user, err := m.ask("user: ")
	if err != nil {
		return err
	}
	password, err := m.askPassword("password: ")
	if err != nil {
		return err
	}
	name := m.c.Config.CertName
	if name == "" {
		name = user
	}
	if err := m.c.Dial(name); err != nil {
		return err
	}
	s, err := m.c.Login(ctx, user, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.out, "logged in as %s\n", s.User)
	return nil
}

const menuText = `
Strife: %s
  1) balance
  2) pay
  3) history
  4) pending queue
  5) retry pending now
  6) logout and exit
%s  0) exit
`

// adminItems are the menu items shown to admins.
const adminItems = "  7) admin: register a client\n"

func (m *menu) screen(ctx context.Context) error {
	m.showNotices()
	admin := m.c.Session.Role == auth.RoleAdmin
	items := ""
	if admin {
		items = adminItems
	}
	fmt.Fprintf(m.out, menuText, m.c.Session.User, items)
	choice, err := m.ask("> ")
	if err != nil {
		return err
	}
	switch choice {
	case "1":
		return m.balance(ctx)
	case "2":
		return m.pay(ctx)
	case "3":
		return m.history(ctx)
	case "4":
		return m.queue()
	case "5":
		return m.retry(ctx)
	case "6":
		if err := revokeSession(ctx, m.c); err != nil {
			warnNotRevoked(m.out, err)
		}
		if err := DeleteSession(m.c.Config.StateDir); err != nil {
			return err
		}
		fmt.Fprintln(m.out, "logged out")
		return errQuit
	case "0", "q":
		return errQuit
	case "7":
		if admin {
			return m.register(ctx)
		}
	}
	fmt.Fprintf(m.out, "no such choice %q\n", choice)
	return nil
}

func (m *menu) showNotices() {
	for {
		select {
		case r := <-m.notices:
			fmt.Fprintf(m.out, "notice: %s\n", resultLine(r))
		default:
			return
		}
	}
}

func (m *menu) balance(ctx context.Context) error {
	accounts, err := m.c.Balance(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.out, "Balance")
	for _, a := range accounts {
		fmt.Fprintln(m.out, "  "+balanceLine(a))
	}
	return nil
}

func (m *menu) pay(ctx context.Context) error {
	fmt.Fprintln(m.out, "Pay")
	a, err := m.askEach("  to (user, or bank/number): ", "  amount (e.g. 12.50): ", "  memo (optional): ")
	if err != nil {
		return err
	}
	to, amount, memo := a[0], a[1], a[2]
	user, account := to, ""
	if strings.Contains(to, "/") {
		user, account = "", to
	}
	req, err := payRequest(user, account, "", amount, memo)
	if err != nil {
		return err
	}
	r, err := m.c.Sender().Pay(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.out, resultLine(r))
	return nil
}

func (m *menu) history(ctx context.Context) error {
	payments, err := m.c.History(ctx, 20)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.out, "History")
	for _, p := range payments {
		fmt.Fprintf(m.out, "  %s %-9s %10s %s -> %s %s\n", p.CreatedAt, p.Status, p.AmountText, p.From, p.To, p.Reason)
	}
	return nil
}

func (m *menu) queue() error {
	pending, err := m.c.Queue.Pending()
	if err != nil {
		return err
	}
	fmt.Fprintln(m.out, "Pending queue")
	if len(pending) == 0 {
		fmt.Fprintln(m.out, "  empty")
	}
	for _, e := range pending {
		fmt.Fprintln(m.out, "  "+pendingLine(entryJSON(e)))
	}
	return nil
}

func (m *menu) retry(ctx context.Context) error {
	results, err := m.c.Sender().Flush(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.out, "Retried %d\n", len(results))
	for _, r := range results {
		fmt.Fprintln(m.out, "  "+resultLine(r))
	}
	return nil
}

func (m *menu) register(ctx context.Context) error {
	fmt.Fprintln(m.out, "Register a client")
	answers, err := m.askEach("  user: ", "  role (customer or admin): ", "  account (bank/number): ", "  opening balance (e.g. 100.00, optional): ")
	if err != nil {
		return err
	}
	role, err := parseRole(answers[1])
	if err != nil {
		return errors.New("the role must be customer or admin")
	}
	var opening int64
	if answers[3] != "" {
		if opening, err = ParseAmount(answers[3]); err != nil {
			return err
		}
	}
	password, err := m.askNewPassword("  password: ")
	if err != nil {
		return err
	}
	u, err := m.c.RegisterClient(ctx, &strifev1.RegisterClientRequest{
		Username: answers[0], Password: password, Role: role, Account: answers[2], OpeningBalance: opening,
	})
	if err != nil {
		return err
	}
	j := userJSON(u)
	fmt.Fprintf(m.out, "registered %s (%s), accounts %s\n", j.User, j.Role, strings.Join(j.Accounts, " "))
	return nil
}
