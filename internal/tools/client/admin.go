package client

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// UserJSON is a user in the --json output of `admin register` and
// `details` (see doc.go).
type UserJSON struct {
	User           string   `json:"user"`
	Role           string   `json:"role"`
	Accounts       []string `json:"accounts"`
	DefaultAccount string   `json:"default_account"`
	CreatedAt      string   `json:"created_at,omitempty"`
	Locked         bool     `json:"locked,omitempty"`
}

func userJSON(u *strifev1.User) UserJSON {
	out := UserJSON{User: u.GetUsername(), Role: roleText(u.GetRole()), Accounts: u.GetAccounts(), DefaultAccount: u.GetDefaultAccount(), Locked: u.GetLocked()}
	if out.Accounts == nil {
		out.Accounts = []string{}
	}
	if u.GetCreatedAt() != nil {
		out.CreatedAt = u.GetCreatedAt().AsTime().Format(time.RFC3339)
	}
	return out
}

const userFields = `--json prints the user: {"user", "role" (customer or admin), "accounts"
(["BankA/1005", ...]), "default_account", "created_at", and "locked": true
for a user an admin locked out}.`

func printUser(cmd *cobra.Command, cfg Config, verb string, u *strifev1.User) error {
	j := userJSON(u)
	if cfg.JSON {
		return writeJSON(cmd.OutOrStdout(), j)
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s), accounts %s, default %s\n",
		verb, j.User, j.Role, strings.Join(j.Accounts, " "), orNone(j.DefaultAccount))
	return err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func adminCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Admin commands (log in as an admin first)",
	}
	cmd.AddCommand(registerCommand(), lockCommand(true), lockCommand(false))
	return cmd
}

// lockCommand is `admin lock USER` (lock true) or `admin unlock USER`.
func lockCommand(lock bool) *cobra.Command {
	var cfg Config
	verb, short := "unlock", "Let a locked user log in again (admins only)"
	if lock {
		verb, short = "lock", "Lock a user out: their tokens are revoked and they cannot log in (admins only)"
	}
	cmd := &cobra.Command{
		Use:   verb + " USER",
		Short: short,
		Long:  short + ".\n\n" + userFields,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open(cfg, false)
			if err != nil {
				return err
			}
			defer c.Close()
			u, err := c.LockUser(cmd.Context(), args[0], lock)
			if err != nil {
				return err
			}
			return printUser(cmd, cfg, verb+"ed", u)
		},
	}
	addFlags(cmd, &cfg)
	return cmd
}

// LockUser locks a user out or lets them in again (admins only).
func (c *Client) LockUser(ctx context.Context, user string, lock bool) (*strifev1.User, error) {
	resp, err := c.API.LockUser(c.Auth(ctx), &strifev1.LockUserRequest{Username: user, Locked: lock})
	if err == nil {
		return resp.GetUser(), nil
	}
	switch status.Code(err) {
	case codes.PermissionDenied, codes.InvalidArgument, codes.NotFound:
		return nil, gatewayError(err, "cannot lock or unlock %s: %s", user, gatewayMessage(err))
	}
	return nil, c.Explain(err)
}

func parseRole(role string) (strifev1.UserRole, error) {
	switch role {
	case "customer":
		return strifev1.UserRole_USER_ROLE_CUSTOMER, nil
	case "admin":
		return strifev1.UserRole_USER_ROLE_ADMIN, nil
	}
	return 0, usagef("--role must be customer or admin, not %q", role)
}

func registerCommand() *cobra.Command {
	var cfg Config
	var user, role, account, opening string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "register --user NAME --role customer|admin --account BankA/1005",
		Short: "Register a client and open (or link) their account (admins only)",
		Long: `Register a user with a password (read from standard input with
--password-stdin, else prompted twice without echo) and open their account
at its bank, depositing --opening (e.g. 100.00). An account that exists at
the bank with this user as its owner is linked instead. An admin may have
no account.

` + userFields,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := parseRole(role)
			if err != nil {
				return err
			}
			var minor int64
			if opening != "" {
				if minor, err = ParseAmount(opening); err != nil {
					return usagef("--opening: %w", err)
				}
			}
			c, err := open(cfg, false)
			if err != nil {
				return err
			}
			defer c.Close()
			password, err := newPasswordReader(cmd, stdin).readNew("password for " + user + ": ")
			if err != nil {
				return err
			}
			u, err := c.RegisterClient(cmd.Context(), &strifev1.RegisterClientRequest{
				Username: user, Password: password, Role: r, Account: account, OpeningBalance: minor,
			})
			if err != nil {
				return err
			}
			return printUser(cmd, cfg, "registered", u)
		},
	}
	addFlags(cmd, &cfg)
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "the new user's name")
	f.StringVar(&role, "role", "customer", "customer or admin")
	f.StringVar(&account, "account", "", "the user's account, <bank>/<number>")
	f.StringVar(&opening, "opening", "", "opening balance deposited into a new account, e.g. 100.00")
	f.BoolVar(&stdin, "password-stdin", false, "read the new user's password from the first line of standard input")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}

// RegisterClient registers a user (admins only).
func (c *Client) RegisterClient(ctx context.Context, req *strifev1.RegisterClientRequest) (*strifev1.User, error) {
	resp, err := c.API.RegisterClient(c.Auth(ctx), req)
	if err == nil {
		return resp.GetUser(), nil
	}
	switch status.Code(err) {
	case codes.PermissionDenied:
		return nil, gatewayError(err, "only an admin may register clients: log in as an admin with `strife login`")
	case codes.AlreadyExists, codes.InvalidArgument, codes.NotFound:
		return nil, gatewayError(err, "cannot register %s: %s", req.GetUsername(), gatewayMessage(err))
	}
	return nil, c.Explain(err)
}

func detailsCommand() *cobra.Command {
	var cfg Config
	var user, def, link, role string
	var newPassword, stdin bool
	cmd := &cobra.Command{
		Use:   "details [--user NAME] [--default-account X] [--link-account X] [--new-password]",
		Short: "Change your default account, link an account, or change a password",
		Long: `Change a user's details: --link-account adds an account the bank says is
theirs, --default-account chooses the account payments come from when
"pay" has no --from, --new-password sets a new password. Changing your own
password asks for the current one first. An admin may name another user
with --user (and reset their password without the current one, or set
their --role). A new password or role revokes the user's login tokens.
Passwords are prompted without echo at a terminal, else read one per line
from standard input (current first, then new).

` + userFields,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if def == "" && link == "" && role == "" && !newPassword {
				return usagef("nothing to change: give --default-account, --link-account, --role or --new-password")
			}
			var r strifev1.UserRole
			if role != "" {
				var err error
				if r, err = parseRole(role); err != nil {
					return err
				}
			}
			c, err := open(cfg, false)
			if err != nil {
				return err
			}
			defer c.Close()
			req := &strifev1.UpdateClientDetailsRequest{Username: user, DefaultAccount: def, LinkAccount: link, Role: r}
			if newPassword {
				p := newPasswordReader(cmd, stdin)
				if user == "" || user == c.Session.User {
					if req.CurrentPassword, err = p.read("current password: "); err != nil {
						return err
					}
				}
				if req.NewPassword, err = p.readNew("new password: "); err != nil {
					return err
				}
			}
			u, err := c.UpdateDetails(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printUser(cmd, cfg, "updated", u)
		},
	}
	addFlags(cmd, &cfg)
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "the user to change (admins only; default: you)")
	f.StringVar(&def, "default-account", "", "the new default account, <bank>/<number>")
	f.StringVar(&link, "link-account", "", "an account to link, <bank>/<number>")
	f.BoolVar(&newPassword, "new-password", false, "set a new password (prompted)")
	f.StringVar(&role, "role", "", "the user's new role, customer or admin (admins only, for another user)")
	f.BoolVar(&stdin, "password-stdin", false, "read the passwords from standard input, one per line, without prompts")
	return cmd
}

// UpdateDetails changes a user's details.
func (c *Client) UpdateDetails(ctx context.Context, req *strifev1.UpdateClientDetailsRequest) (*strifev1.User, error) {
	resp, err := c.API.UpdateClientDetails(c.Auth(ctx), req)
	if err == nil {
		return resp.GetUser(), nil
	}
	switch code := status.Code(err); {
	case code == codes.Unauthenticated && strings.Contains(status.Convert(err).Message(), "current password"):
		return nil, gatewayError(err, "the current password is wrong: try again")
	case code == codes.PermissionDenied && req.GetUsername() != "" && (c.Session == nil || req.GetUsername() != c.Session.User) &&
		strings.Contains(status.Convert(err).Message(), "own behalf"):
		return nil, gatewayError(err, "only an admin may change another user's details")
	case code == codes.PermissionDenied, code == codes.InvalidArgument, code == codes.NotFound, code == codes.AlreadyExists:
		return nil, gatewayError(err, "cannot update details: %s", gatewayMessage(err))
	}
	return nil, c.Explain(err)
}
