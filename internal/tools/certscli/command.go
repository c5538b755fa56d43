package certscli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strife-pay/strife/certs"
)

// Command returns the strife-certs command line: init, issue, revoke and
// show.
// Errors come back from Execute, printed by cobra as one line without the
// usage text.
func Command() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "strife-certs",
		Short: "Create and inspect Strife's CA, certificates and token key",
		Long: `strife-certs creates the one CA of a Strife deployment and the certificates
that name each program and its role (gateway, bank, admin, client), writes the
gateway's token signing key, adds, renews and revokes certificates, and lists
them.`,
		Args:              cobra.NoArgs,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	cmd.AddCommand(initCommand(), issueCommand(), revokeCommand(), showCommand())
	return cmd
}

func initCommand() *cobra.Command {
	o := DefaultInitOptions("")
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Create a CA, a certificate for every program, and the gateway's token key",
		Long: `init creates in DIR (0700 if new):

  ca.crt, ca.key      the CA; hand out ca.crt, keep ca.key (0600) with the operator
  <name>.crt, .key    one pair per program, signed by the CA; the key is 0600
  token.key           the gateway's token signing key: 32 random bytes as 64
                      hex characters, no newline, 0600; the gateway signs its
                      HS256 login tokens with it. Give it to the gateway only.

The gateway and the banks get the --hosts DNS names and IP addresses; the admin
tool and the clients (client programs, not user logins) get none.

init refuses a DIR that already has a CA, or any of these files, unless --force;
--force replaces them and leaves other files alone (certificates of the old CA
stop verifying; see show). To add one certificate to an existing CA, use issue.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := Init(o)
			if err != nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", "", "directory to write (required)")
	f.StringSliceVar(&o.Banks, "banks", o.Banks, "bank names (role bank)")
	f.StringVar(&o.Gateway, "gateway", o.Gateway, "gateway name (role gateway)")
	f.StringVar(&o.Admin, "admin", o.Admin, `admin tool name (role admin); "" for none`)
	f.StringSliceVar(&o.Clients, "clients", o.Clients, "client program names (role client)")
	f.StringSliceVar(&o.Hosts, "hosts", o.Hosts, "DNS names and IP addresses of the gateway and the banks")
	f.DurationVar(&o.Validity, "validity", o.Validity, "validity of each certificate")
	f.BoolVar(&o.Force, "force", false, "replace an existing CA and files")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func issueCommand() *cobra.Command {
	var o IssueOptions
	var role string
	cmd := &cobra.Command{
		Use:   "issue --dir DIR --role ROLE --name NAME",
		Short: "Sign one more certificate with the CA in DIR, or renew one",
		Long: `issue loads the CA from DIR (ca.crt and ca.key) and writes NAME.crt and
NAME.key there. It refuses an existing NAME unless --force, which renews: the
new files replace the old ones atomically, and a server using them picks them
up at its next handshake without a restart.

Without --hosts, a gateway or bank certificate gets ` + strings.Join(DefaultHosts(), ",") + `
and an admin or client certificate gets none.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := parseRole(role)
			if err != nil {
				return err
			}
			o.Role = r
			if !cmd.Flags().Changed("hosts") && serves(r) {
				o.Hosts = DefaultHosts()
			}
			res, err := Issue(o)
			if err != nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", "", "directory of the CA (required)")
	f.StringVar(&role, "role", "", "role: "+joinRoles()+" (required)")
	f.StringVar(&o.Name, "name", "", "program name, e.g. BankD (required)")
	f.StringSliceVar(&o.Hosts, "hosts", nil, "DNS names and IP addresses (default: loopback for gateway and bank)")
	f.DurationVar(&o.Validity, "validity", certs.DefaultValidity, "validity of the certificate")
	f.BoolVar(&o.Force, "force", false, "replace an existing certificate (renew)")
	for _, name := range []string{"dir", "role", "name"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func revokeCommand() *cobra.Command {
	var o RevokeOptions
	cmd := &cobra.Command{
		Use:   "revoke --dir DIR NAME|SERIAL...",
		Short: "Put certificates on the CA's revocation list, DIR/ca.crl",
		Long: `revoke loads the CA from DIR and adds to its revocation list, DIR/ca.crl
(created if needed, signed by the CA), each certificate named:

  NAME     every certificate in DIR with that name signed by the CA
  SERIAL   one certificate, by its serial as show prints it (hex bytes joined
           by colons): also one whose file was renewed over

Every gateway and bank reads the ca.crl next to its --ca (or its --crl) at each
handshake, reloading it when it changes: a revoked peer is refused from the
next connection on, without a restart, on both sides of the connection.
Connections already open are not cut. Copy ca.crl wherever ca.crt was copied.

Revoking what is already revoked changes nothing. To give a revoked name a new
certificate, issue it with --force: the new one has a new serial.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Targets = args
			res, err := Revoke(o)
			if err != nil {
				return err
			}
			return printRevoked(cmd.OutOrStdout(), res)
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "directory of the CA (required)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func showCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:     "show --dir DIR",
		Aliases: []string{"list"},
		Short:   "List the certificates in DIR, their serials, and whether each chains to its CA and is not revoked",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			entries, err := List(dir)
			if err != nil {
				return err
			}
			return printEntries(cmd.OutOrStdout(), entries)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the certificates (required)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

// printResult prints one line per file written; never key material.
func printResult(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "wrote in %s:\n", res.Dir)
	for _, f := range res.Files {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", filepath.Base(f.Path), f.Kind,
			orDash(f.Name), orDash(string(f.Role)), expires(f.NotAfter))
	}
	return tw.Flush()
}

func printRevoked(w io.Writer, res *RevokeResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range res.Revoked {
		state := "revoked"
		if r.Already {
			state = "already revoked"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", state, orDash(r.Name), certs.FormatSerial(r.Serial))
	}
	if res.Written {
		fmt.Fprintf(tw, "wrote %s (list number %v)\n", res.Path, res.Number)
	} else {
		fmt.Fprintf(tw, "%s unchanged (list number %v)\n", res.Path, res.Number)
	}
	return tw.Flush()
}

func printEntries(w io.Writer, entries []Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSANS\tSERIAL\tNOT AFTER\tCHAINS TO ca.crt")
	for _, e := range entries {
		if e.Err != nil {
			fmt.Fprintf(tw, "%s\tunreadable: %v\n", e.File, e.Err)
			continue
		}
		name := e.Cert.Subject.CommonName
		if want := name + ".crt"; e.File != want && e.File != certs.CACertFile {
			name += " (in " + e.File + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, orDash(e.Role()),
			orDash(strings.Join(e.SANs(), ",")), certs.FormatSerial(e.Cert.SerialNumber), e.Cert.NotAfter.UTC().Format(time.RFC3339), chainStatus(e))
	}
	return tw.Flush()
}

func expires(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return "expires " + t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
