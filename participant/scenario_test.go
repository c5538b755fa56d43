package participant_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/participant"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// TestScenarios runs the protocol scenarios in testdata/. Commands:
//
//	open <number> owner=<name> balance=<n>
//	prepare tx=<name> [attempt=<n>] [debit=<number>:<n>] [credit=<number>:<n>] [memo=<text>]
//	commit tx=<name> [attempt=<n>]
//	abort tx=<name> [attempt=<n>]
//	resolve tx=<name> [attempt=<n>]   a coordinator resolving an attempt after its crash
//	accounts                 balances of every account opened so far
//	close <number>           close an account; reopen <number> opens it again
//	in-doubt                 attempts prepared and undecided
//	restart                  close everything and open it again from the file
//
// Transaction names stand for fixed ULIDs. The in-doubt timeout is an hour,
// so no attempt is resolved behind the scenario's back. Run with -rewrite to
// refresh the expected output.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := newScenario(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return s.run(t, d)
		})
	})
}

type scenario struct {
	path     string
	log      *wal.Log
	ledger   *ledger.Ledger
	p        *participant.Participant
	numbers  []string
	txByName map[string]ulid.ULID
}

func newScenario(t *testing.T) *scenario {
	s := &scenario{path: filepath.Join(t.TempDir(), "bank.db"), txByName: map[string]ulid.ULID{}}
	s.open(t)
	t.Cleanup(func() {
		s.close()
		s.open(t)
		require.NoError(t, s.ledger.Verify())
		s.close()
	})
	return s
}

func (s *scenario) open(t *testing.T) {
	var err error
	s.log, err = wal.Open(s.path, wal.Options{})
	require.NoError(t, err)
	s.ledger, err = ledger.New(s.log, nil)
	require.NoError(t, err)
	s.p, err = participant.New(s.ledger, unreachable{}, participant.Config{InDoubtTimeout: time.Hour, Log: zerolog.Nop()})
	require.NoError(t, err)
}

func (s *scenario) close() {
	s.p.Close()
	s.log.Close()
}

// tx returns the fixed ULID a transaction name stands for.
func (s *scenario) tx(name string) ulid.ULID {
	if id, ok := s.txByName[name]; ok {
		return id
	}
	var id ulid.ULID
	copy(id[:], fmt.Sprintf("%-16s", name))
	s.txByName[name] = id
	return id
}

func (s *scenario) name(id ulid.ULID) string { return strings.TrimSpace(string(id[:])) }

func (s *scenario) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "open":
		return s.openAccount(t, d)
	case "prepare":
		return voteResult(s.p.Prepare(s.request(t, d)))
	case "resolve":
		return voteResult(s.p.Resolve(s.attempt(t, d)))
	case "commit":
		return result(s.p.Commit(s.attempt(t, d)))
	case "abort":
		return result(s.p.Abort(s.attempt(t, d)))
	case "close", "reopen":
		status := map[string]strifev1.AccountStatus{"close": ledger.Closed, "reopen": ledger.Open}[d.Cmd]
		return result(s.ledger.Update(func(tx *ledger.Tx) error {
			_, err := tx.UpdateAccount(d.CmdArgs[0].Key, "", status)
			return err
		}))
	case "accounts":
		return s.accounts(t)
	case "in-doubt":
		return s.inDoubt(t)
	case "restart":
		s.close()
		s.open(t)
		return "in doubt after restart:\n" + s.inDoubt(t)
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

func voteResult(vote participant.Vote, err error) string {
	switch {
	case err != nil:
		return "error: " + err.Error()
	case vote.Yes:
		return "YES"
	}
	return "NO " + vote.Reason.String()
}

func result(err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return "ok"
}

func (s *scenario) openAccount(t *testing.T, d *datadriven.TestData) string {
	var owner string
	var balance int64
	d.ScanArgs(t, "owner", &owner)
	d.MaybeScanArgs(t, "balance", &balance)
	number := d.CmdArgs[0].Key
	s.numbers = append(s.numbers, number)
	return result(s.ledger.Update(func(tx *ledger.Tx) error {
		_, _, err := tx.OpenAccount(number, owner, balance)
		return err
	}))
}

func (s *scenario) attempt(t *testing.T, d *datadriven.TestData) (ulid.ULID, uint32) {
	var name string
	attempt := 1
	d.ScanArgs(t, "tx", &name)
	d.MaybeScanArgs(t, "attempt", &attempt)
	return s.tx(name), uint32(attempt)
}

func (s *scenario) request(t *testing.T, d *datadriven.TestData) participant.Request {
	id, attempt := s.attempt(t, d)
	r := participant.Request{TxID: id, Attempt: attempt, Coordinator: "gateway-1"}
	d.MaybeScanArgs(t, "memo", &r.Memo)
	for _, dir := range []struct {
		arg string
		dir ledger.Direction
	}{{"debit", ledger.Debit}, {"credit", ledger.Credit}} {
		var leg string
		if !d.HasArg(dir.arg) {
			continue
		}
		d.ScanArgs(t, dir.arg, &leg)
		number, amount, _ := strings.Cut(leg, ":")
		n, err := strconv.ParseInt(amount, 10, 64)
		require.NoError(t, err)
		r.Legs = append(r.Legs, &storagev1.Leg{Number: number, Direction: dir.dir, Amount: n})
	}
	return r
}

func (s *scenario) accounts(t *testing.T) string {
	var b strings.Builder
	require.NoError(t, s.ledger.View(func(tx *ledger.Tx) error {
		for _, n := range s.numbers {
			a, err := tx.Account(n)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s %s %s: posted=%d held=%d available=%d pending=%d\n",
				a.Number, a.Owner, strings.TrimPrefix(a.Status.String(), "ACCOUNT_STATUS_"), a.Balance, a.Held, a.Available(), a.Pending)
		}
		return nil
	}))
	return b.String()
}

func (s *scenario) inDoubt(t *testing.T) string {
	doubts, err := s.p.InDoubt()
	require.NoError(t, err)
	var lines []string
	for k, coordinator := range doubts {
		lines = append(lines, fmt.Sprintf("%s/%d asks %s", s.name(k.TxID), k.Attempt, coordinator))
	}
	slices.Sort(lines)
	if len(lines) == 0 {
		return "none"
	}
	return strings.Join(lines, "\n")
}

// unreachable is a coordinator that never answers.
type unreachable struct{}

func (unreachable) GetDecision(context.Context, string, ulid.ULID, uint32) (participant.Decision, error) {
	return 0, fmt.Errorf("coordinator unreachable")
}
