package recovery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/testkit/damage"
	"github.com/strife-pay/strife/internal/tools/recovery"
	"github.com/strife-pay/strife/internal/tools/recovery/fixture"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// contents is every bucket's sequence and every key/value pair of a bbolt
// file, by bucket path: what a copy must keep.
func contents(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	out := map[string]string{}
	var walk func(at string, b *bolt.Bucket) error
	walk = func(at string, b *bolt.Bucket) error {
		out["sequence of "+at] = fmt.Sprint(b.Sequence())
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(at+"/"+string(k), b.Bucket(k))
			}
			out[at+" "+string(k)] = string(v)
			return nil
		})
	}
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(string(name), b) })
	}))
	return out
}

// requireSame fails with the first few pairs that differ.
func requireSame(t *testing.T, want, got map[string]string) {
	t.Helper()
	var diffs []string
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			diffs = append(diffs, fmt.Sprintf("%q: %q in the original, %q (there: %v) in the copy", k, v, g, ok))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q: only in the copy, %q", k, v))
		}
	}
	slices.Sort(diffs)
	require.Empty(t, diffs[:min(len(diffs), 5)], "%d difference(s) in %d pairs", len(diffs), len(want))
}

// compact runs strife-recover compact --json and decodes its result.
func compact(t *testing.T, from, into string) recovery.CompactResult {
	t.Helper()
	code, stdout, stderr := run(t, "compact", "--json", from, into)
	require.Equal(t, 0, code, stderr)
	var res recovery.CompactResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	return res
}

// grown writes n payments (fixture.Large), then empties the gateway's
// payments and bank B's postings and rebuilds them from the logs (check
// --repair):
// the files are left with the free pages of the dropped buckets, as a
// long-lived file is with those of its rewritten pages.
func grown(t *testing.T, n int) fixture.Files {
	files, _ := fixture.Large(t, t.TempDir(), n)
	empty := func(name string) func(*bolt.Bucket) {
		return func(state *bolt.Bucket) {
			require.NoError(t, state.DeleteBucket([]byte(name)))
			_, err := state.CreateBucket([]byte(name))
			require.NoError(t, err)
		}
	}
	edit(t, files.Gateway, empty(coordinator.PaymentsBucket))
	edit(t, files.BankB, empty("postings"))
	code, out := runAt(t, recovery.Options{Repair: true}, files.Gateway, files.BankB)
	require.Equal(t, 0, code, out)
	for _, f := range []string{files.Gateway, files.BankB} {
		backups, err := filepath.Glob(f + ".bak-*")
		require.NoError(t, err)
		for _, b := range backups {
			require.NoError(t, os.Remove(b))
		}
	}
	return files
}

// TestCompactKeepsEveryRecordAndState compacts a gateway's and a bank's
// file: each copy is smaller, checks as consistent, and holds every record,
// index key, projection pair and bucket sequence of the original, which is
// not changed by a single byte.
func TestCompactKeepsEveryRecordAndState(t *testing.T) {
	files := grown(t, 2000)
	for _, src := range []string{files.Gateway, files.BankB} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			before, err := os.ReadFile(src)
			require.NoError(t, err)
			into := filepath.Join(t.TempDir(), filepath.Base(src))
			res := compact(t, src, into)
			t.Logf("%+v", res)
			require.Equal(t, 2000, res.Payments)
			require.Less(t, res.After.Pages, res.Before.Pages, "the free pages and the empty halves of pages are gone")
			require.LessOrEqual(t, res.After.Bytes, res.Before.Bytes)
			require.Equal(t, res.After.Pages, res.After.Bytes, "the copy is no longer than its pages")
			info, err := os.Stat(into)
			require.NoError(t, err)
			require.Equal(t, res.After.Bytes, info.Size())

			after, err := os.ReadFile(src)
			require.NoError(t, err)
			require.True(t, string(before) == string(after), "compact only reads its source")
			requireSame(t, contents(t, src), contents(t, into))
			code, out := runAt(t, recovery.Options{}, into)
			require.Equal(t, 0, code, out)
			require.Contains(t, out, "consistent")
			left, err := filepath.Glob(filepath.Join(filepath.Dir(into), ".*compact-*"))
			require.NoError(t, err)
			require.Empty(t, left, "no temporary file is left")
		})
	}
}

// TestCompactedBankServesEveryBalance starts a real bank on a compacted
// copy of its file.
func TestCompactedBankServesEveryBalance(t *testing.T) {
	files := grown(t, 2000)
	dataDir := t.TempDir()
	compact(t, files.BankB, filepath.Join(dataDir, "BankB.db"))
	pki := banktest.NewPKI(t)
	bank := banktest.Start(t, pki.Config(t, "BankB", dataDir))
	got, err := pki.GatewayClient(t, bank.Addr()).GetAccount(context.Background(), &strifev1.GetAccountRequest{Number: "2001"})
	require.NoError(t, err)
	require.Equal(t, int64(2000), got.GetAccount().GetPostedBalance(), "bob got 1 from each of the 2,000 payments")
}

// TestCompactNeverReplacesAFile leaves an existing DST as it was.
func TestCompactNeverReplacesAFile(t *testing.T) {
	files := fixture.Build(t, t.TempDir())
	into := filepath.Join(t.TempDir(), "BankA.db")
	require.NoError(t, os.WriteFile(into, []byte("someone's file"), 0o600))
	code, stdout, stderr := run(t, "compact", files.BankA, into)
	require.Equal(t, 2, code, stdout)
	require.Equal(t, "strife-recover: compact: "+into+" exists: compact writes a new file and never replaces one\n", stderr)
	kept, err := os.ReadFile(into)
	require.NoError(t, err)
	require.Equal(t, "someone's file", string(kept))
}

// TestCompactRefusesADamagedFile refuses a file check calls damaged, in
// one line that points at salvage, and writes nothing.
func TestCompactRefusesADamagedFile(t *testing.T) {
	files, _ := fixture.Large(t, t.TempDir(), 500)
	ps, root, _ := damage.Tree(t, files.BankB, wal.RecordsBucket)
	damage.Flip(t, files.BankB, root*int64(ps), 16)
	dir := t.TempDir()
	into := filepath.Join(dir, "BankB.db")
	code, stdout, stderr := run(t, "compact", files.BankB, into)
	require.Equal(t, 2, code, stdout)
	require.Contains(t, stderr, "damaged data file")
	require.Contains(t, stderr, "strife-recover salvage "+files.BankB+" NEW")
	require.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left)
}

// TestCompactRefusesAnInconsistentFile: a copy of a projection that
// disagrees with its log would carry the disagreement on.
func TestCompactRefusesAnInconsistentFile(t *testing.T) {
	files := fixture.Build(t, t.TempDir())
	edit(t, files.Gateway, func(state *bolt.Bucket) {
		require.NoError(t, state.Bucket([]byte(coordinator.PaymentsBucket)).Delete(fixture.Done[:]))
	})
	into := filepath.Join(t.TempDir(), "gateway-1.db")
	code, _, stderr := run(t, "compact", files.Gateway, into)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "run strife-recover check --repair first")
	_, err := os.Stat(into)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestCompactWaitsForADaemonsLock gives up on a file a daemon holds.
func TestCompactWaitsForADaemonsLock(t *testing.T) {
	files := fixture.Build(t, t.TempDir())
	l, err := wal.Open(files.BankA, wal.Options{})
	require.NoError(t, err)
	defer l.Close()
	into := filepath.Join(t.TempDir(), "BankA.db")
	start := time.Now()
	code, _, stderr := run(t, "compact", "--timeout", "200ms", files.BankA, into)
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "in use by a running daemon")
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	_, err = os.Stat(into)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestCompactCopiesAFileWithOneBadMetaPage: bbolt works around one
// damaged meta page, as check says with a WARNING; the copy has new ones.
func TestCompactCopiesAFileWithOneBadMetaPage(t *testing.T) {
	files := fixture.Build(t, t.TempDir())
	damage.Flip(t, files.BankA, 32, 16)
	into := filepath.Join(t.TempDir(), "BankA.db")
	code, stdout, stderr := run(t, "compact", files.BankA, into)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "WARNING "+files.BankA)
	code, out := runAt(t, recovery.Options{}, into)
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "WARNING")
}
