package client

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// Commands returns the client subcommands of strife: login, logout, pay,
// balance, history, queue, watch, menu, admin register and details.
func Commands() []*cobra.Command {
	return []*cobra.Command{
		loginCommand(), logoutCommand(), payCommand(), balanceCommand(),
		historyCommand(), queueCommand(), watchCommand(), MenuCommand(),
		adminCommand(), detailsCommand(),
	}
}

// addFlags adds the flags every client command takes.
func addFlags(cmd *cobra.Command, cfg *Config) {
	f := cmd.Flags()
	f.StringVar(&cfg.Gateway, "gateway", "", "gateway address (default: $"+GatewayEnv+", else the one used at login, else "+DefaultGateway+")")
	f.StringVar(&cfg.CertsDir, "certs", "", "directory of ca.crt and <cert-name>.crt/.key (default: $"+CertsEnv+", else the one used at login, else "+DefaultCertsDir+")")
	f.StringVar(&cfg.CertName, "cert-name", "", "this program's certificate name (default: the one used at login, else --user)")
	f.StringVar(&cfg.StateDir, "state-dir", DefaultStateDir(), "state directory: session token and payment queue ($"+StateEnv+", else ~/.strife)")
	f.BoolVar(&cfg.JSON, "json", false, "print one JSON object (see the fields above)")
}

// open opens a client dialed with the session's certificate; with queue it
// also opens the queue. It refuses when nobody is logged in.
func open(cfg Config, queue bool) (*Client, error) {
	c, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.CheckSession(); err != nil {
		return nil, err
	}
	if err := c.Dial(""); err != nil {
		return nil, err
	}
	if queue {
		if err := c.OpenQueue(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func loginCommand() *cobra.Command {
	var cfg Config
	var user string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "login --user NAME",
		Short: "Log in and keep the token in the state directory (mode 0600)",
		Long: `Log in with a password (read from standard input with --password-stdin,
else prompted). The token is saved in <state-dir>/session.json, with the
gateway address and the certificate directory used: later commands go to
the same place without --gateway and --certs (a flag, then $STRIFE_GATEWAY
or $STRIFE_CERTS, then the session, then the default). Log in again when
the token expires.

--json prints {"user", "role", "cert_name", "expires_at"}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := Open(cfg)
			if err != nil {
				return err
			}
			defer c.Close()
			if !cmd.Flags().Changed("cert-name") {
				c.Config.CertName = user
			}
			if err := c.Dial(""); err != nil {
				return err
			}
			password, err := newPasswordReader(cmd, stdin).read("password: ")
			if err != nil {
				return err
			}
			s, err := c.Login(cmd.Context(), user, password)
			if err != nil {
				return err
			}
			if cfg.JSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"user": s.User, "role": s.Role, "cert_name": s.CertName, "expires_at": s.ExpiresAt.Format(time.RFC3339)})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "logged in as %s (%s) until %s\n", s.User, s.Role, s.ExpiresAt.Local().Format(time.DateTime))
			return err
		},
	}
	addFlags(cmd, &cfg)
	cmd.Flags().StringVar(&user, "user", "", "user name")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from the first line of standard input")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}

func logoutCommand() *cobra.Command {
	var cfg Config
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Revoke the saved token at the gateway and forget it (queued payments stay queued)",
		Long: `Revoke the saved token at the gateway, so that it is refused from then on
even if a copy of it was taken, and forget it. If the gateway cannot be
reached, the token is forgotten all the same, with a warning: it then stays
valid until it expires. --json prints {"logged_out": true}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			if err := revoke(cmd.Context(), cfg); err != nil {
				warnNotRevoked(cmd.ErrOrStderr(), err)
			}
			if err := DeleteSession(cfg.StateDir); err != nil {
				return err
			}
			if cfg.JSON {
				return writeJSON(cmd.OutOrStdout(), map[string]bool{"logged_out": true})
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "logged out")
			return err
		},
	}
	addFlags(cmd, &cfg)
	return cmd
}

// revoke revokes the saved session's token at the gateway, if there is a
// session, waiting at most LogoutTimeout.
func revoke(ctx context.Context, cfg Config) error {
	c, err := Open(cfg)
	if err != nil || c.Session == nil {
		return err
	}
	defer c.Close()
	if err := c.Dial(""); err != nil {
		return err
	}
	return revokeSession(ctx, c)
}

// revokeSession revokes the token of c's session, if any, at the gateway c
// is dialed to, waiting at most LogoutTimeout: what logout, and the menu's
// logout, do before forgetting the session.
func revokeSession(ctx context.Context, c *Client) error {
	if c.Session == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, LogoutTimeout)
	defer cancel()
	return c.Logout(ctx)
}

// warnNotRevoked says that a logout forgets a token the gateway did not
// revoke.
func warnNotRevoked(w io.Writer, err error) {
	fmt.Fprintf(w, "warning: the gateway did not revoke the token (%v); it is forgotten here, and stays valid until it expires\n", err)
}

// LogoutTimeout bounds how long logout waits for the gateway.
const LogoutTimeout = 5 * time.Second

// paymentObject lists a payment's --json fields, for the commands' help.
const paymentObject = `{"transaction_id", "status" (COMMITTED, FAILED,
PENDING, QUEUED or REJECTED), "reason" (for FAILED, e.g. INSUFFICIENT_FUNDS),
"message", "from_account", "to", "amount" (minor units), "amount_text",
"memo", "attempts", "created_at"}.`

const paymentFields = "--json prints a payment: " + paymentObject

func payCommand() *cobra.Command {
	var cfg Config
	var to, toAccount, from, amount, memo string
	cmd := &cobra.Command{
		Use:   "pay --to USER --amount 12.50",
		Short: "Pay a user or an account, exactly once",
		Long: `Pay a user (--to) or an account (--to-account BankB/2001). The payment gets
its ULID and is written to the local queue before it is sent; if the gateway
cannot be reached it stays queued and is resent (with the same ULID) by
"strife queue flush" or "strife watch". The exit status says how it ended:
0 COMMITTED, 1 FAILED or REJECTED, 3 QUEUED, 4 PENDING (2: the command line
is wrong, nothing was queued).

` + paymentFields,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := payRequest(to, toAccount, from, amount, memo)
			if err != nil {
				return err
			}
			c, err := open(cfg, true)
			if err != nil {
				return err
			}
			defer c.Close()
			r, err := c.Sender().Pay(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printResult(cmd, cfg, r)
		},
	}
	addFlags(cmd, &cfg)
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "the payee's user name")
	f.StringVar(&toAccount, "to-account", "", "the payee's account, <bank>/<number>")
	f.StringVar(&from, "from", "", "the account to pay from (default: your default account)")
	f.StringVar(&amount, "amount", "", "amount, e.g. 12.50")
	f.StringVar(&memo, "memo", "", "a note for the payee")
	return cmd
}

// payRequest checks the pay flags; what it refuses is a UsageError.
func payRequest(to, toAccount, from, amount, memo string) (*strifev1.PayRequest, error) {
	if amount == "" {
		return nil, usagef("--amount is required")
	}
	minor, err := ParseAmount(amount)
	if err != nil {
		return nil, &UsageError{err}
	}
	if err := checkMemo(memo); err != nil {
		return nil, &UsageError{err}
	}
	req := &strifev1.PayRequest{FromAccount: from, Amount: minor, Memo: memo}
	switch {
	case (to == "") == (toAccount == ""):
		return nil, usagef("give exactly one of --to USER or --to-account BANK/NUMBER")
	case to != "":
		req.Payee = &strifev1.PayRequest_ToUser{ToUser: to}
	default:
		req.Payee = &strifev1.PayRequest_ToAccount{ToAccount: toAccount}
	}
	return req, nil
}

func printResult(cmd *cobra.Command, cfg Config, r *Result) error {
	if cfg.JSON {
		if err := writeJSON(cmd.OutOrStdout(), resultJSON(r)); err != nil {
			return err
		}
	} else if _, err := fmt.Fprintln(cmd.OutOrStdout(), resultLine(r)); err != nil {
		return err
	}
	if r.Outcome != OutcomeCommitted {
		cmd.SilenceErrors = true
		return &OutcomeError{Outcome: r.Outcome}
	}
	return nil
}

func balanceCommand() *cobra.Command {
	var cfg Config
	cmd := &cobra.Command{
		Use:   "balance",
		Short: "Show your accounts' balances",
		Long: `Show each of your accounts as its bank reports it.

--json prints {"accounts": [{"account", "posted", "available", "held",
"pending_credits", "available_text"}]}, amounts in minor units.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(cfg, false)
			if err != nil {
				return err
			}
			defer c.Close()
			accounts, err := c.Balance(cmd.Context())
			if err != nil {
				return err
			}
			if cfg.JSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"accounts": accounts})
			}
			for _, a := range accounts {
				fmt.Fprintln(cmd.OutOrStdout(), balanceLine(a))
			}
			return nil
		},
	}
	addFlags(cmd, &cfg)
	return cmd
}

// Balance returns the caller's accounts.
func (c *Client) Balance(ctx context.Context) ([]AccountJSON, error) {
	resp, err := c.API.GetBalance(c.Auth(ctx), &strifev1.GetBalanceRequest{})
	if err != nil {
		return nil, c.Explain(err)
	}
	out := []AccountJSON{}
	for _, a := range resp.GetAccounts() {
		out = append(out, AccountJSON{
			Account: a.GetBank() + "/" + a.GetNumber(), Posted: a.GetPostedBalance(), Available: a.GetAvailableBalance(),
			Held: a.GetHeld(), PendingCredits: a.GetPendingCredits(), AvailableText: FormatAmount(a.GetAvailableBalance()),
		})
	}
	return out, nil
}

// History returns the caller's payments, newest first.
func (c *Client) History(ctx context.Context, limit int32) ([]PaymentJSON, error) {
	resp, err := c.API.ListPayments(c.Auth(ctx), &strifev1.ListPaymentsRequest{PageSize: limit})
	if err != nil {
		return nil, c.Explain(err)
	}
	return jsonOf(resp.GetPayments(), paymentJSON), nil
}

func historyCommand() *cobra.Command {
	var cfg Config
	var limit int32
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the payments you made or received, newest first",
		Long: `List the payments you made or received, newest first, as the gateway
knows them (queued payments: "strife queue list").

--json prints {"payments": [payment...]}; ` + paymentObject,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(cfg, false)
			if err != nil {
				return err
			}
			defer c.Close()
			payments, err := c.History(cmd.Context(), limit)
			if err != nil {
				return err
			}
			if cfg.JSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"payments": payments})
			}
			for _, p := range payments {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %-9s %10s %s -> %s %s\n", p.TransactionID, p.Status, p.AmountText, p.From, p.To, p.Reason)
			}
			return nil
		},
	}
	addFlags(cmd, &cfg)
	cmd.Flags().Int32Var(&limit, "limit", 0, "how many payments, at most 1000 (0: the gateway's page size)")
	return cmd
}

func queueCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Payments not yet final: list them or send them now",
	}
	cmd.AddCommand(queueListCommand(), queueFlushCommand())
	return cmd
}

func queueListCommand() *cobra.Command {
	var cfg Config
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List queued (not sent) and pending (held by the gateway) payments, oldest first",
		Long: `List the payments of the local queue, oldest first: QUEUED (not yet
acknowledged by the gateway) and PENDING (held by the gateway).

--json prints {"pending": [payment...]}, "message" being the last error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			c := &Client{Config: cfg}
			if err := c.OpenQueue(); err != nil {
				return err
			}
			defer c.Close()
			pending, err := c.Queue.Pending()
			if err != nil {
				return err
			}
			out := jsonOf(pending, entryJSON)
			if cfg.JSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"pending": out})
			}
			if len(out) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "the queue is empty")
			}
			for _, p := range out {
				fmt.Fprintln(cmd.OutOrStdout(), pendingLine(p), p.Message)
			}
			return nil
		},
	}
	addFlags(cmd, &cfg)
	return cmd
}

func queueFlushCommand() *cobra.Command {
	var cfg Config
	cmd := &cobra.Command{
		Use:   "flush",
		Short: "Send every queued payment now, oldest first, each with its own ULID",
		Long: `Send every queued or pending payment once, oldest first, stopping at the
first that finds the gateway unreachable.

--json prints {"results": [payment...], "remaining": N}, "status" of each
being COMMITTED, FAILED, REJECTED, PENDING or QUEUED.

The exit status says what is left: 0 nothing, 3 payments still QUEUED (the
gateway could not be reached), 4 only PENDING ones (the gateway holds them).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(cfg, true)
			if err != nil {
				return err
			}
			defer c.Close()
			results, err := c.Sender().Flush(cmd.Context())
			if err != nil {
				return err
			}
			remaining, err := c.Queue.Len()
			if err != nil {
				return err
			}
			if cfg.JSON {
				if err := writeJSON(cmd.OutOrStdout(), map[string]any{"results": jsonOf(results, resultJSON), "remaining": remaining}); err != nil {
					return err
				}
				return leftOver(results, remaining)
			}
			for _, r := range results {
				fmt.Fprintln(cmd.OutOrStdout(), resultLine(r))
			}
			if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%d left in the queue\n", remaining); err != nil {
				return err
			}
			return leftOver(results, remaining)
		},
	}
	addFlags(cmd, &cfg)
	return cmd
}

// leftOver is what a flush that leaves remaining payments in the queue
// ends with: QUEUED if the gateway could not be reached (the flush stops at
// the first such payment), else PENDING.
func leftOver(results []*Result, remaining int) error {
	switch {
	case remaining == 0:
		return nil
	case slices.ContainsFunc(results, func(r *Result) bool { return r.Outcome == OutcomeQueued }):
		return &OutcomeError{Outcome: OutcomeQueued}
	}
	return &OutcomeError{Outcome: OutcomePending}
}
