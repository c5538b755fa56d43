package inspect

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/tools/recovery"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/participant"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

type globals struct {
	json    bool
	timeout time.Duration
}

// Command returns the strife-inspect root command.
func Command() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "strife-inspect",
		Short: "Read-only views of Strife data files: accounts, entries, transactions, totals, stats",
		Long: `strife-inspect reads a bank's or the gateway's bbolt file read-only; it never
writes, and waits at most --timeout for a running daemon's lock.`,
		SilenceUsage: true,
	}
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print JSON instead of a table")
	root.PersistentFlags().DurationVar(&g.timeout, "timeout", time.Second, "how long to wait for a daemon's lock on a file")
	root.AddCommand(accountsCommand(g), entriesCommand(g), txCommand(g), totalsCommand(g), statsCommand(g))
	return root
}

func (g *globals) open(path string) (*wal.Log, error) {
	return wal.OpenReadOnly(path, g.timeout)
}

// bank opens a bank's file and checks that it is one.
func (g *globals) bank(path string) (*wal.Log, error) {
	l, err := g.open(path)
	if err != nil {
		return nil, err
	}
	var kind recovery.Kind
	err = l.View(func(tx *wal.Tx) (err error) { kind, err = recovery.Detect(tx); return err })
	if err == nil && kind != recovery.Bank {
		err = fmt.Errorf("%s is a %s file, not a bank's", path, kind)
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (g *globals) print(w io.Writer, v any, table func(*tabwriter.Writer)) error {
	if g.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// Account is one row of accounts.
type Account struct {
	Number    string `json:"number"`
	Owner     string `json:"owner"`
	Status    string `json:"status"`
	Balance   int64  `json:"balance"`
	Held      int64  `json:"held"`
	Pending   int64  `json:"pending_credits"`
	Available int64  `json:"available"`
	Opened    string `json:"opened"`
}

// enumName is the name of an enum value without its prefix, in lower case:
// enumName(ACCOUNT_STATUS_OPEN, "ACCOUNT_STATUS_") is "open".
func enumName(v fmt.Stringer, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(v.String(), prefix))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func readAccounts(l *wal.Log) ([]Account, error) {
	out := []Account{}
	err := ledger.Attach(l).View(func(tx *ledger.Tx) error {
		accts, err := tx.Accounts()
		for _, a := range accts {
			out = append(out, Account{
				Number: a.Number, Owner: a.Owner, Status: enumName(a.Status, "ACCOUNT_STATUS_"), Balance: a.Balance, Held: a.Held,
				Pending: a.PendingCredits, Available: a.Balance - a.Held, Opened: stamp(time.Unix(0, a.OpenedUnixNano)),
			})
		}
		return err
	})
	return out, err
}

func accountsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "accounts FILE",
		Short: "A bank's accounts with balance, holds and available balance",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := g.bank(args[0])
			if err != nil {
				return err
			}
			defer l.Close()
			accts, err := readAccounts(l)
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), accts, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NUMBER\tOWNER\tSTATUS\tBALANCE\tHELD\tPENDING\tAVAILABLE\tOPENED")
				for _, a := range accts {
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", a.Number, a.Owner, a.Status, a.Balance, a.Held, a.Pending, a.Available, a.Opened)
				}
			})
		},
	}
}

// Entry is one row of entries.
type Entry struct {
	Seq          uint64 `json:"seq"`
	Time         string `json:"time"`
	Kind         string `json:"kind"`
	Amount       int64  `json:"amount"`
	BalanceAfter int64  `json:"balance_after"`
	TxID         string `json:"tx_id,omitempty"`
	Counterparty string `json:"counterparty,omitempty"`
	Memo         string `json:"memo,omitempty"`
}

// EntriesPage is the output of entries.
type EntriesPage struct {
	Account       string  `json:"account"`
	Entries       []Entry `json:"entries"`
	NextPageToken string  `json:"next_page_token,omitempty"`
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// entriesBatch is how many entries readEntries reads from the ledger at a
// time.
const entriesBatch = 256

// readEntries returns the page of limit entries of account, newest first,
// that keep selects among those older than entry before (0: from the
// newest), and the token of the next page if there are more.
func readEntries(l *wal.Log, account string, before uint64, limit int, keep func(ledger.Entry) bool) (EntriesPage, error) {
	page := EntriesPage{Account: account, Entries: []Entry{}}
	err := ledger.Attach(l).View(func(tx *ledger.Tx) error {
		for {
			batch, err := tx.Entries(account, before, entriesBatch)
			if err != nil {
				return err
			}
			for _, e := range batch {
				before = e.Seq
				if !keep(e) {
					continue
				}
				if len(page.Entries) == limit {
					page.NextPageToken = strconv.FormatUint(page.Entries[limit-1].Seq, 10)
					return nil
				}
				page.Entries = append(page.Entries, entryRow(e))
			}
			if len(batch) < entriesBatch {
				return nil
			}
		}
	})
	return page, err
}

func entryRow(e ledger.Entry) Entry {
	row := Entry{Seq: e.Seq, Time: stamp(e.Time), Kind: enumName(e.Kind, "ENTRY_KIND_"),
		Amount: e.Amount, BalanceAfter: e.BalanceAfter, Counterparty: e.Counterparty, Memo: e.Memo}
	if e.TxID != (ulid.ULID{}) {
		row.TxID = e.TxID.String()
	}
	return row
}

func entriesCommand(g *globals) *cobra.Command {
	var since, until, txID, token string
	var limit int
	cmd := &cobra.Command{
		Use:   "entries FILE ACCOUNT",
		Short: "An account's entries, newest first, a page at a time",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := parseTime(since)
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			to, err := parseTime(until)
			if err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			var id ulid.ULID
			if txID != "" {
				if id, err = ulid.ParseStrict(txID); err != nil {
					return fmt.Errorf("--tx: %w", err)
				}
			}
			var before uint64
			if token != "" {
				if before, err = strconv.ParseUint(token, 10, 64); err != nil || before == 0 {
					return fmt.Errorf("--page-token %q is not a token from a previous page", token)
				}
			}
			if limit <= 0 {
				return fmt.Errorf("--limit must be positive")
			}
			l, err := g.bank(args[0])
			if err != nil {
				return err
			}
			defer l.Close()
			keep := func(e ledger.Entry) bool {
				return (from.IsZero() || !e.Time.Before(from)) && (to.IsZero() || e.Time.Before(to)) && (txID == "" || e.TxID == id)
			}
			page, err := readEntries(l, args[1], before, limit, keep)
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), page, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "SEQ\tTIME\tKIND\tAMOUNT\tBALANCE AFTER\tTX\tCOUNTERPARTY\tMEMO")
				for _, e := range page.Entries {
					fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", e.Seq, e.Time, e.Kind, e.Amount, e.BalanceAfter, e.TxID, e.Counterparty, e.Memo)
				}
				if page.NextPageToken != "" {
					fmt.Fprintf(w, "next page: --page-token %s\n", page.NextPageToken)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "only entries at or after this time (RFC 3339 or YYYY-MM-DD)")
	f.StringVar(&until, "until", "", "only entries before this time (RFC 3339 or YYYY-MM-DD)")
	f.StringVar(&txID, "tx", "", "only the entries of this transaction (ULID)")
	f.IntVar(&limit, "limit", participant.DefaultPageSize, "entries per page")
	f.StringVar(&token, "page-token", "", "where to continue: the token a previous page printed")
	return cmd
}

// TxRecord is one record of a transaction, in one file.
type TxRecord struct {
	File    string          `json:"file"`
	Seq     uint64          `json:"seq"`
	Time    string          `json:"time"`
	Type    string          `json:"type"`
	Attempt uint32          `json:"attempt"`
	Payload json.RawMessage `json:"payload"`
	at      time.Time
}

// payloadOf returns an empty payload message for a record type, from the
// package that owns it.
func payloadOf(t wal.Type) proto.Message {
	for _, newPayload := range []func(wal.Type) proto.Message{ledger.NewPayload, coordinator.NewPayload, users.NewPayload} {
		if m := newPayload(t); m != nil {
			return m
		}
	}
	return nil
}

// decodePayload decodes a record's payload, and its time if it has one.
func decodePayload(r wal.Record) (proto.Message, time.Time, error) {
	m := payloadOf(r.Type)
	if m == nil {
		return nil, time.Time{}, fmt.Errorf("record %d: no payload type known for %v", r.Seq, r.Type)
	}
	if err := proto.Unmarshal(r.Payload, m); err != nil {
		return nil, time.Time{}, fmt.Errorf("record %d: %w", r.Seq, err)
	}
	var at time.Time
	if t, ok := m.(interface{ GetTimeUnixNano() int64 }); ok && t.GetTimeUnixNano() != 0 {
		at = time.Unix(0, t.GetTimeUnixNano()).UTC()
	}
	return m, at, nil
}

// payloadJSON is a decoded payload as compact JSON (protojson's spacing
// varies, so it is compacted).
func payloadJSON(m proto.Message) (json.RawMessage, error) {
	if u, ok := m.(*storagev1.UserState); ok {
		m = &storagev1.UserState{Username: u.Username} // never print password hashes
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		return nil, err
	}
	return compact.Bytes(), nil
}

func txCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tx ULID FILE...",
		Short: "Every record of one transaction across the files given, in time order",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := ulid.ParseStrict(args[0])
			if err != nil {
				return fmt.Errorf("transaction ID %q: %w", args[0], err)
			}
			recs := []TxRecord{}
			for _, path := range args[1:] {
				l, err := g.open(path)
				if err != nil {
					return err
				}
				err = l.View(func(tx *wal.Tx) error {
					var last time.Time // records without a time share their transaction's
					// Every record is decoded, for the times; only the
					// transaction's are turned into JSON.
					return tx.Scan(1, func(r wal.Record) error {
						m, at, err := decodePayload(r)
						if err != nil {
							return err
						}
						if at.IsZero() {
							at = last
						}
						last = at
						if r.TxID != id {
							return nil
						}
						payload, err := payloadJSON(m)
						if err != nil {
							return err
						}
						recs = append(recs, TxRecord{File: recovery.NameOf(path), Seq: r.Seq, Time: stamp(at), Type: r.Type.String(),
							Attempt: r.Attempt, Payload: payload, at: at})
						return nil
					})
				})
				l.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
			}
			slices.SortStableFunc(recs, func(a, b TxRecord) int { return a.at.Compare(b.at) })
			return g.print(cmd.OutOrStdout(), recs, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "TIME\tFILE\tSEQ\tTYPE\tATTEMPT\tPAYLOAD")
				for _, r := range recs {
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\t%s\n", r.Time, r.File, r.Seq, r.Type, r.Attempt, r.Payload)
				}
			})
		},
	}
}

// BankTotals are one bank's sums.
type BankTotals struct {
	Bank        string `json:"bank"`
	Deposits    int64  `json:"deposits"`
	NetPostings int64  `json:"net_postings"`
	Balances    int64  `json:"balances"`
	Held        int64  `json:"held"`
	Pending     int64  `json:"pending_credits"`
	Consistent  bool   `json:"consistent"` // balances == deposits + net postings
}

// Totals is the output of totals.
type Totals struct {
	Banks       []BankTotals `json:"banks"`
	NetPostings int64        `json:"net_postings"` // over every bank given
	Conserved   bool         `json:"conserved"`
}

func totalsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "totals FILE...",
		Short: "Deposits, net postings and balances per bank; conservation across the banks given",
		Long: `totals adds up each bank's deposits, net postings and balances (which must
equal deposits plus postings), and the postings over all the banks given:
payments between them move money without creating it, so that sum is zero
when every bank of every committed payment is given.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res := Totals{Banks: []BankTotals{}}
			for _, path := range args {
				t, err := g.totals(path)
				if err != nil {
					return err
				}
				res.Banks = append(res.Banks, t)
				res.NetPostings += t.NetPostings
			}
			slices.SortStableFunc(res.Banks, func(a, b BankTotals) int { return cmp.Compare(a.Bank, b.Bank) })
			res.Conserved = res.NetPostings == 0
			return g.print(cmd.OutOrStdout(), res, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "BANK\tDEPOSITS\tNET POSTINGS\tBALANCES\tHELD\tPENDING\tBALANCES = DEPOSITS + POSTINGS")
				for _, t := range res.Banks {
					fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", t.Bank, t.Deposits, t.NetPostings, t.Balances, t.Held, t.Pending, yesNo(t.Consistent))
				}
				fmt.Fprintf(w, "all\t\t%d\t\t\t\tconserved: %s\n", res.NetPostings, yesNo(res.Conserved))
			})
		},
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func (g *globals) totals(path string) (BankTotals, error) {
	t := BankTotals{Bank: recovery.NameOf(path)}
	l, err := g.bank(path)
	if err != nil {
		return t, err
	}
	defer l.Close()
	deposits, postings := new(big.Int), new(big.Int)
	err = l.View(func(tx *wal.Tx) error {
		return tx.Scan(1, func(r wal.Record) error {
			deposited, posted, err := ledger.Movement(r)
			deposits.Add(deposits, big.NewInt(deposited))
			postings.Add(postings, big.NewInt(posted))
			return err
		})
	})
	if err != nil {
		return t, fmt.Errorf("%s: %w", path, err)
	}
	accts, err := readAccounts(l)
	if err != nil {
		return t, err
	}
	balances := new(big.Int)
	for _, a := range accts {
		balances.Add(balances, big.NewInt(a.Balance))
		t.Held += a.Held
		t.Pending += a.Pending
	}
	if !deposits.IsInt64() || !postings.IsInt64() || !balances.IsInt64() {
		return t, fmt.Errorf("%s: totals overflow int64", path)
	}
	t.Deposits, t.NetPostings, t.Balances = deposits.Int64(), postings.Int64(), balances.Int64()
	t.Consistent = new(big.Int).Add(deposits, postings).Cmp(balances) == 0
	return t, nil
}
