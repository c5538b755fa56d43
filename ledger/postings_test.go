package ledger_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// copyFixture copies testdata/name into a temporary directory and returns
// its path.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// allEntries lists every entry of each account by pages of size, newest
// first, following the page tokens (the sequence number of the last entry
// of a page) as ListEntries does.
func allEntries(t *testing.T, l *ledger.Ledger, size int, numbers ...string) map[string][]ledger.Entry {
	t.Helper()
	out := map[string][]ledger.Entry{}
	require.NoError(t, l.View(func(tx *ledger.Tx) error {
		for _, n := range numbers {
			var before uint64
			for range 1000 {
				page, err := tx.Entries(n, before, size)
				require.NoError(t, err)
				out[n] = append(out[n], page...)
				if len(page) < size {
					break
				}
				before = page[len(page)-1].Seq
			}
		}
		return nil
	}))
	return out
}

// buckets reports which of the projection's entry indexes a file has.
func buckets(t *testing.T, log *wal.Log) (postings, entries bool) {
	t.Helper()
	require.NoError(t, log.View(func(tx *wal.Tx) error {
		postings, entries = tx.ExistingBucket("postings") != nil, tx.ExistingBucket("entries") != nil
		return nil
	}))
	return postings, entries
}

// testdata/bank-v1.db was written by Strife as it was before SETTLED and
// postings (commit 61f5f77, through participant.Participant): accounts 1001,
// 1002 and 1003; commits of a debit, a credit and a payment inside the
// bank; an attempt aborted after its YES, a NO vote, a tombstone; five more
// debits of 1001; and one debit of 7 left in doubt. Its commits are
// HOLD_RELEASED then POSTED, and its projection has the entries bucket.
//
// The offline tools read such a file as it is; the bank rebuilds its
// projection on open, once, and then it lists the same entries, verifies,
// and goes on.
func TestLedgerFromBeforePostingsIsRebuiltOnOpen(t *testing.T) {
	path := copyFixture(t, "bank-v1.db")
	numbers := []string{"1001", "1002", "1003"}

	ro, err := wal.OpenReadOnly(path, time.Second)
	require.NoError(t, err)
	require.NoError(t, ro.View(func(tx *wal.Tx) error {
		require.True(t, ledger.Kept(tx), "a ledger in the old layout is kept too")
		return nil
	}))
	old := ledger.Attach(ro)
	require.NoError(t, old.Verify(), "the offline tools verify it as it is")
	before := allEntries(t, old, 100, numbers...)
	require.Len(t, before["1001"], 8, "the deposit, a debit, the payment inside the bank, five debits")
	require.Equal(t, before, allEntries(t, old, 2, numbers...), "pages of 2 list the same")
	require.NoError(t, ro.Close())

	log, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	defer log.Close()
	opened := commits(t, log)
	l, err := ledger.New(log, clock)
	require.NoError(t, err)
	require.Equal(t, opened+1, commits(t, log), "the rebuild is New's only commit")
	postings, entries := buckets(t, log)
	require.True(t, postings)
	require.False(t, entries, "the old index is gone")
	require.NoError(t, l.Verify())
	require.Equal(t, before, allEntries(t, l, 100, numbers...))
	require.Equal(t, before, allEntries(t, l, 2, numbers...))
	var held int64
	require.NoError(t, l.View(func(tx *ledger.Tx) error {
		a, err := tx.Account("1001")
		held = a.Held
		return err
	}))
	require.Equal(t, int64(7), held, "the attempt in doubt keeps its hold")

	// It goes on: a new entry heads 1001's chain, after the old ones.
	require.NoError(t, l.Update(func(tx *ledger.Tx) error {
		if _, err := tx.Log().Append(wal.Record{Type: ledger.TypePrepared, TxID: ulid.Make(), Attempt: 1}); err != nil {
			return err
		}
		h := ledger.Hold{TxID: ulid.Make(), Attempt: 1, Number: "1002", Direction: ledger.Credit, Amount: 5}
		if err := tx.PlaceHold(h); err != nil {
			return err
		}
		return tx.SettleHold(h, "after the upgrade", "BankB/2001")
	}))
	after := allEntries(t, l, 2, numbers...)
	require.Len(t, after["1002"], len(before["1002"])+1)
	require.Equal(t, "after the upgrade", after["1002"][0].Memo)
	require.Equal(t, before["1002"], after["1002"][1:])
	require.NoError(t, l.Verify())

	// Opening again rebuilds nothing: a projection tampered with stays so.
	require.NoError(t, log.Close())
	tl := &testLedger{path: path}
	tl.reopen(t)
	t.Cleanup(func() { tl.log.Close() })
	tamperProjection(t, tl, func(state *bolt.Bucket) {
		accounts := state.Bucket([]byte("accounts"))
		a := &storagev1.AccountState{}
		require.NoError(t, proto.Unmarshal(accounts.Get([]byte("1003")), a))
		a.Owner = "mallory"
		v, err := proto.Marshal(a)
		require.NoError(t, err)
		require.NoError(t, accounts.Put([]byte("1003"), v))
	})
	require.Equal(t, "mallory", tl.account(t, "1003").Owner)
	require.ErrorIs(t, tl.Verify(), ledger.ErrInconsistent)
}

// commits returns the ID of the last bbolt transaction committed to log's
// file: it grows by one with every commit.
func commits(t *testing.T, log *wal.Log) int {
	t.Helper()
	var id int
	require.NoError(t, log.View(func(tx *wal.Tx) error {
		b, err := tx.Bucket("accounts")
		require.NotNil(t, b)
		id = b.Tx().ID()
		return err
	}))
	return id
}

// A commit appends each of its entries at the end of the postings bucket,
// and each account's entries are a chain from its newest: pages follow it,
// and a page token that is not one of the account's entries still lists
// the entries below it.
func TestEntriesAreAChainPerAccount(t *testing.T) {
	tl := newLedger(t)
	tl.open(t, "1001", "alice", 1000)
	tl.open(t, "1002", "bob", 0)
	for i := range 5 {
		for _, h := range []ledger.Hold{
			{TxID: ulid.Make(), Attempt: 1, Number: "1001", Direction: ledger.Debit, Amount: int64(i + 1)},
			{TxID: ulid.Make(), Attempt: 1, Number: "1002", Direction: ledger.Credit, Amount: int64(i + 1)},
		} {
			require.NoError(t, tl.prepare(h))
			require.NoError(t, tl.Update(func(tx *ledger.Tx) error { return tx.SettleHold(h, "", "") }))
			require.Equal(t, tl.entries(t, h.Number)[0].Seq, lastPosting(t, tl.log), "the entry is the last posting")
		}
	}
	all := allEntries(t, tl.Ledger, 100, "1001", "1002")
	require.Len(t, all["1001"], 6)
	require.Len(t, all["1002"], 5)
	require.Equal(t, all, allEntries(t, tl.Ledger, 1, "1001", "1002"))

	// A token from bob's entries, between two of alice's.
	foreign := all["1002"][2].Seq
	require.NoError(t, tl.View(func(tx *ledger.Tx) error {
		page, err := tx.Entries("1001", foreign, 100)
		require.NoError(t, err)
		var want []ledger.Entry
		for _, e := range all["1001"] {
			if e.Seq < foreign {
				want = append(want, e)
			}
		}
		require.Equal(t, want, page)
		return nil
	}))
}

// A damaged link of a chain is found by Verify, and listing the account
// refuses to follow it.
func TestABrokenChainIsFoundAndNotFollowed(t *testing.T) {
	l, log := ledgerWithEntries(t)
	var second uint64
	require.NoError(t, log.Append(func(tx *wal.Tx) error {
		b, err := tx.Bucket("postings")
		require.NoError(t, err)
		c := b.Cursor()
		k, v := c.First()
		k, v = c.Next()
		second = binary.BigEndian.Uint64(k)
		// Point it past the first entry: at the record before the first
		// entry, which is no entry.
		damaged := append(binary.BigEndian.AppendUint64(nil, 1), v[8:]...)
		return b.Put(k, damaged)
	}))
	require.ErrorIs(t, l.Verify(), ledger.ErrInconsistent)
	require.ErrorContains(t, l.Verify(), "follows 1")
	require.NoError(t, l.View(func(tx *ledger.Tx) error {
		_, err := tx.Entries("1001", second+1, 10)
		require.ErrorIs(t, err, ledger.ErrInconsistent)
		return nil
	}))
}

// lastPosting returns the key of the last entry in the postings bucket.
func lastPosting(t *testing.T, log *wal.Log) uint64 {
	t.Helper()
	var seq uint64
	require.NoError(t, log.View(func(tx *wal.Tx) error {
		k, _ := tx.ExistingBucket("postings").Cursor().Last()
		seq = binary.BigEndian.Uint64(k)
		return nil
	}))
	return seq
}

// A posting that cannot be read is found by Verify. A page that ends at
// its entry lists whole, since the link past a full page is not followed;
// a longer page refuses to follow it.
func TestADamagedPostingIsFoundAndNotFollowed(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(seq uint64, v []byte) []byte
		why    string
	}{
		{"too short", func(_ uint64, v []byte) []byte { return v[:8] }, "is 8 bytes"},
		{"not before its entry", func(seq uint64, v []byte) []byte {
			return append(binary.BigEndian.AppendUint64(nil, seq), v[8:]...)
		}, "follows"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, log := ledgerWithEntries(t)
			var newest uint64
			require.NoError(t, log.Append(func(tx *wal.Tx) error {
				b := tx.ExistingBucket("postings")
				k, v := b.Cursor().Last()
				newest = binary.BigEndian.Uint64(k)
				return b.Put(k, c.damage(newest, v))
			}))
			err := l.Verify()
			require.ErrorIs(t, err, ledger.ErrInconsistent)
			require.ErrorContains(t, err, fmt.Sprintf("posting %d %s", newest, c.why))
			require.NoError(t, l.View(func(tx *ledger.Tx) error {
				page, err := tx.Entries("1001", 0, 1)
				require.NoError(t, err)
				require.Len(t, page, 1)
				require.Equal(t, newest, page[0].Seq)
				_, err = tx.Entries("1001", 0, 2)
				require.ErrorIs(t, err, ledger.ErrInconsistent)
				return nil
			}))
		})
	}
}

// ledgerWithEntries is a ledger whose 1001 has two entries: its opening
// deposit and one debit.
func ledgerWithEntries(t *testing.T) (*ledger.Ledger, *wal.Log) {
	t.Helper()
	log, err := wal.Open(filepath.Join(t.TempDir(), "bank.db"), wal.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { log.Close() })
	l, err := ledger.New(log, clock)
	require.NoError(t, err)
	h := ledger.Hold{TxID: ulid.Make(), Attempt: 1, Number: "1001", Direction: ledger.Debit, Amount: 5}
	require.NoError(t, l.Update(func(tx *ledger.Tx) error {
		if _, _, err := tx.OpenAccount("1001", "alice", 100); err != nil {
			return err
		}
		if _, err := tx.Log().Append(wal.Record{Type: ledger.TypePrepared, TxID: h.TxID, Attempt: 1}); err != nil {
			return err
		}
		if err := tx.PlaceHold(h); err != nil {
			return err
		}
		return tx.SettleHold(h, "", "")
	}))
	require.NoError(t, l.Verify())
	return l, log
}
