package recovery_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/tools/recovery"
	"github.com/strife-pay/strife/internal/tools/recovery/fixture"
	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

var spaces = regexp.MustCompile(` +`)

// now is an hour after the fixture's clock started.
var now = fixture.Start.Add(time.Hour)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := recovery.Command()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	code := 0
	if err := cmd.Execute(); err != nil {
		e, ok := err.(*recovery.ExitError)
		require.True(t, ok, "%v", err)
		code = e.Code
	}
	return code, out.String(), errOut.String()
}

// runAt runs check with the test's clock.
func runAt(t *testing.T, opts recovery.Options, paths ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	opts.Now = func() time.Time { return now }
	code := recovery.Run(&out, &errOut, paths, opts)
	return code, out.String() + errOut.String()
}

func edit(t *testing.T, path string, fn func(state *bolt.Bucket)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { fn(tx.Bucket([]byte(wal.StateBucket))); return nil }))
	require.NoError(t, db.Close())
}

func TestConsistentFilesExitZero(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	code, out := runAt(t, recovery.Options{}, f.BankA, f.BankB, f.Gateway)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `BankA.db: bank "BankA", `)
	require.Contains(t, out, "consistent")
	require.NotContains(t, out, "CROSS-CHECK")
}

func TestCorruptedProjectionIsReportedAndRepaired(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	edit(t, f.BankB, func(state *bolt.Bucket) {
		accounts := state.Bucket([]byte(ledger.AccountsBucket))
		a := &storagev1.AccountState{}
		require.NoError(t, proto.Unmarshal(accounts.Get([]byte("2001")), a))
		a.Balance = 1_000_000
		v, _ := proto.Marshal(a)
		require.NoError(t, accounts.Put([]byte("2001"), v))
	})
	before, err := os.ReadFile(f.BankB)
	require.NoError(t, err)

	code, out := runAt(t, recovery.Options{}, f.BankB)
	require.Equal(t, 1, code, out)
	out = spaces.ReplaceAllString(out, " ") // protobuf's text format varies its spacing
	require.Contains(t, out, `DIFF account "2001" is stored as {number:"2001" owner:"bob" status:ACCOUNT_STATUS_OPEN balance:1000000`)
	require.Contains(t, out, `the log says {number:"2001" owner:"bob" status:ACCOUNT_STATUS_OPEN balance:400`)
	require.Contains(t, out, "DIFF balances add up to 1000000, deposits and postings to 400")
	after, err := os.ReadFile(f.BankB)
	require.NoError(t, err)
	require.Equal(t, before, after, "check alone writes nothing")

	code, out = runAt(t, recovery.Options{Repair: true}, f.BankB)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "REPAIRED "+f.BankB)
	backups, err := filepath.Glob(f.BankB + ".bak-*")
	require.NoError(t, err)
	require.Len(t, backups, 1)
	saved, err := os.ReadFile(backups[0])
	require.NoError(t, err)
	require.Equal(t, before, saved, "the backup is the file before the repair")

	code, out, _ = run(t, "check", f.BankB)
	require.Equal(t, 0, code, out)
}

func TestCorruptedPaymentIsReportedAndRepaired(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	edit(t, f.Gateway, func(state *bolt.Bucket) {
		b := state.Bucket([]byte(coordinator.PaymentsBucket))
		s := &storagev1.PaymentState{}
		require.NoError(t, proto.Unmarshal(b.Get(fixture.Done[:]), s))
		s.Ended = false
		v, _ := proto.Marshal(s)
		require.NoError(t, b.Put(fixture.Done[:], v))
	})
	code, out := runAt(t, recovery.Options{}, f.Gateway)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "DIFF payment "+fixture.Done.String()+" is stored as")
	code, out = runAt(t, recovery.Options{Repair: true}, f.Gateway)
	require.Equal(t, 0, code, out)
	code, out = runAt(t, recovery.Options{}, f.Gateway)
	require.Equal(t, 0, code, out)
}

func TestGatewayStoppedAfterCommitDecisionIsInDoubt(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	code, out := runAt(t, recovery.Options{}, f.Gateway, f.BankA, f.BankB)
	require.Equal(t, 0, code, "in doubt is not a difference:\n%s", out)
	id := fixture.InDoubt.String()
	require.Contains(t, out, "IN DOUBT "+id+"/1: decided COMMIT, not ended (in phase 2); coordinator gateway-1; banks [BankA BankB]")
	require.Contains(t, out, "IN DOUBT "+id+"/1: prepared, no decision; coordinator gateway-1; banks [BankA]; since 2026-01-02T03:04:23Z (59m42s ago)")
	require.Contains(t, out, "IN DOUBT "+id+"/1: prepared, no decision; coordinator gateway-1; banks [BankB]")
	require.Contains(t, out, "PHASE 2 "+id+"/1: gateway gateway-1 decided COMMIT, BankA has not committed yet: in phase 2")
	require.Contains(t, out, "PHASE 2 "+id+"/1: gateway gateway-1 decided COMMIT, BankB has not committed yet: in phase 2")
	require.NotContains(t, out, fixture.Done.String(), "the finished payment is not in doubt")
}

// appendRecord appends r to the log at path and then runs fix, if given,
// on the log (to bring a projection up to date).
func appendRecord(t *testing.T, path string, r wal.Record, fix func(*wal.Log) error) {
	t.Helper()
	l, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	require.NoError(t, l.Append(func(tx *wal.Tx) error {
		_, err := tx.Append(r)
		return err
	}))
	if fix != nil {
		require.NoError(t, fix(l))
	}
	require.NoError(t, l.Close())
}

func TestCrossCheckCatchesACommitTheGatewayDidNotDecide(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	forged := fixture.InDoubt
	appendRecord(t, f.BankA, wal.Record{Type: ledger.TypeCommitted, TxID: forged, Attempt: 7}, nil)

	code, out := runAt(t, recovery.Options{}, f.Gateway, f.BankA, f.BankB)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "CROSS-CHECK "+forged.String()+"/7: BankA has a COMMITTED record, but no gateway file given decided COMMIT")

	code, out = runAt(t, recovery.Options{}, f.BankA)
	require.Equal(t, 0, code, "without the gateway's file there is nothing to cross-check:\n%s", out)
}

func TestUnusableInputExitsTwoAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(garbage, bytes.Repeat([]byte("not bbolt"), 1000), 0o600))
	empty := filepath.Join(dir, "empty.db")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	other := filepath.Join(dir, "other.db")
	db, err := bolt.Open(other, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("mine")); return err }))
	require.NoError(t, db.Close())
	bare := filepath.Join(dir, "bare.db") // a log with no projection
	l, err := wal.Open(bare, wal.Options{})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	missing := filepath.Join(dir, "missing.db")

	for _, path := range []string{garbage, empty, other, bare, missing} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			before, _ := os.ReadFile(path)
			for _, repair := range []bool{false, true} {
				code, out := runAt(t, recovery.Options{Repair: repair}, path)
				require.Equal(t, 2, code, out)
				if path != missing {
					require.Contains(t, out, "not a Strife data file")
				}
				after, _ := os.ReadFile(path)
				require.Equal(t, before, after)
			}
			matches, _ := filepath.Glob(path + "*")
			if path == missing {
				require.Empty(t, matches, "nothing created")
			} else {
				require.Equal(t, []string{path}, matches, "no backup")
			}
		})
	}
}

func TestLockedFileIsReportedClearly(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	l, err := wal.Open(f.BankA, wal.Options{})
	require.NoError(t, err)
	defer l.Close()
	code, out, errOut := run(t, "check", "--timeout", "50ms", f.BankA)
	require.Equal(t, 2, code)
	require.True(t, strings.Contains(out+errOut, "in use by a running daemon"), out+errOut)
}

func TestCorruptedUsersAreReportedAndRepaired(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	edit(t, f.Gateway, func(state *bolt.Bucket) {
		owners, err := state.CreateBucketIfNotExists([]byte(users.OwnersBucket))
		require.NoError(t, err)
		require.NoError(t, owners.Put([]byte("BankZ/1"), []byte("mallory"))) // an owner the log never recorded
	})
	code, out := runAt(t, recovery.Options{}, f.Gateway)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "account_owners")
	code, out = runAt(t, recovery.Options{Repair: true}, f.Gateway)
	require.Equal(t, 0, code, out)
	code, out = runAt(t, recovery.Options{}, f.Gateway)
	require.Equal(t, 0, code, out)
}

// A COMMIT decision whose attempt the gateway ended must have a COMMITTED
// record at every participant bank given: it is no longer in phase 2.
func TestCrossCheckCatchesAnEndedCommitABankDidNotRecord(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	ended, err := proto.Marshal(&storagev1.AttemptEnded{TimeUnixNano: now.UnixNano()})
	require.NoError(t, err)
	appendRecord(t, f.Gateway, wal.Record{Type: coordinator.TypeAttemptEnded, TxID: fixture.InDoubt, Attempt: 1, Payload: ended}, coordinator.Replay)

	code, out := runAt(t, recovery.Options{}, f.Gateway, f.BankA, f.BankB)
	require.Equal(t, 1, code, out)
	id := fixture.InDoubt.String()
	require.Contains(t, out, "CROSS-CHECK "+id+"/1: gateway gateway-1 decided COMMIT and ended the attempt, but BankA has no COMMITTED record")
	require.Contains(t, out, "CROSS-CHECK "+id+"/1: gateway gateway-1 decided COMMIT and ended the attempt, but BankB has no COMMITTED record")
	require.NotContains(t, out, "PHASE 2")
	require.NotContains(t, out, "DIFF", "the gateway's projection is up to date")
}

func TestCrossCheckCatchesACommitABankAborted(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	appendRecord(t, f.BankA, wal.Record{Type: ledger.TypeAborted, TxID: fixture.InDoubt, Attempt: 1}, nil)

	code, out := runAt(t, recovery.Options{}, f.Gateway, f.BankA, f.BankB)
	require.Equal(t, 1, code, out)
	id := fixture.InDoubt.String()
	require.Contains(t, out, "CROSS-CHECK "+id+"/1: gateway gateway-1 decided COMMIT, but BankA aborted the attempt")
	require.NotContains(t, out, "BankA has not committed yet", "an ABORTED record is not phase 2")
	require.Contains(t, out, "BankB has not committed yet: in phase 2")
}

func TestAttemptBothCommittedAndAbortedIsADifference(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	appendRecord(t, f.BankA, wal.Record{Type: ledger.TypeAborted, TxID: fixture.Done, Attempt: 1}, nil)

	code, out := runAt(t, recovery.Options{}, f.BankA)
	require.Equal(t, 1, code, out)
	require.Regexp(t, `DIFF attempt `+fixture.Done.String()+`/1 is both COMMITTED and ABORTED \(record \d+\)`, out)
}

func TestUnreadableLogExitsTwoAndIsNotRepaired(t *testing.T) {
	f := fixture.Build(t, t.TempDir())
	db, err := bolt.Open(f.BankA, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(wal.RecordsBucket))
		k, v := b.Cursor().Last()
		v = bytes.Clone(v)
		v[len(v)-1] ^= 1 // the checksum no longer matches
		return b.Put(k, v)
	}))
	require.NoError(t, db.Close())

	code, out := runAt(t, recovery.Options{Repair: true}, f.BankA)
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "UNUSABLE "+f.BankA+": unusable input: the log cannot be read completely")
	backups, err := filepath.Glob(f.BankA + ".bak-*")
	require.NoError(t, err)
	require.Empty(t, backups, "nothing to repair from")
}
