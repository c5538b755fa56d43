package ledger_test

import (
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

// BenchmarkCommitPages measures what a bank's Commits write: on a ledger of
// 300 accounts it prepares a batch of one-leg attempts (half debits, half
// credits, on random accounts), then commits them all in one UpdateAll, as
// a batch of Commit calls does, each writing COMMITTED and settling its
// hold. It reports, per bbolt commit, the pages written (the meta page
// included) and allocated, and the records appended. Both ways of settling
// are run, SETTLED and the HOLD_RELEASED then POSTED of older ledgers, so
// they can be compared. The entries index grows with b.N, and the pages
// with it: compare runs of the same -benchtime.
//
//	go test -run '^$' -bench CommitPages -benchtime 100x ./ledger/
func BenchmarkCommitPages(b *testing.B) {
	for _, batch := range []int{1, 64} {
		for _, s := range settleVariants {
			b.Run(fmt.Sprintf("settle=%s/batch=%d", s.name, batch), func(b *testing.B) {
				benchCommitPages(b, batch, s.settle)
			})
		}
	}
}

var settleVariants = []struct {
	name   string
	settle func(tx *ledger.Tx, h ledger.Hold) error
}{
	{"SETTLED", func(tx *ledger.Tx, h ledger.Hold) error { return tx.SettleHold(h, "rent", "BankB/2001") }},
	{"HOLD_RELEASED+POSTED", func(tx *ledger.Tx, h ledger.Hold) error { return tx.SettleHoldAsBefore(h, "rent", "BankB/2001") }},
}

func benchCommitPages(b *testing.B, batch int, settle func(*ledger.Tx, ledger.Hold) error) {
	const accounts = 300
	log, err := wal.Open(filepath.Join(b.TempDir(), "bank.db"), wal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	l, err := ledger.New(log, nil)
	if err != nil {
		b.Fatal(err)
	}
	var db *bolt.DB
	err = l.Update(func(tx *ledger.Tx) error {
		for i := range accounts {
			if _, _, err := tx.OpenAccount(strconv.Itoa(100000+i), "owner", 1_000_000_000); err != nil {
				return err
			}
		}
		bkt, err := tx.Log().Bucket("accounts")
		if err != nil {
			return err
		}
		db = bkt.Tx().DB()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	var pages, alloc, records int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		holds := prepareBatch(b, l, rng, batch, accounts)
		before, seq := db.Stats(), lastSeq(b, log)
		b.StartTimer()
		commits := make([]func(*ledger.Tx) error, len(holds))
		for i, h := range holds {
			commits[i] = func(tx *ledger.Tx) error {
				if _, err := tx.Log().Append(wal.Record{Type: ledger.TypeCommitted, TxID: h.TxID, Attempt: h.Attempt}); err != nil {
					return err
				}
				return settle(tx, h)
			}
		}
		for _, err := range l.UpdateAll(commits) {
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		after := db.Stats()
		d := after.TxStats.Sub(&before.TxStats)
		pages += d.GetWrite()
		alloc += d.GetPageCount()
		records += int64(lastSeq(b, log) - seq)
		b.StartTimer()
	}
	b.ReportMetric(float64(pages)/float64(b.N), "pages-written/commit")
	b.ReportMetric(float64(alloc)/float64(b.N), "pages-alloc/commit")
	b.ReportMetric(float64(records)/float64(b.N), "records/commit")
}

// prepareBatch places n one-leg holds, each with its PREPARED record, in
// one commit.
func prepareBatch(b *testing.B, l *ledger.Ledger, rng *mrand.Rand, n, accounts int) []ledger.Hold {
	holds := make([]ledger.Hold, n)
	fns := make([]func(*ledger.Tx) error, n)
	for i := range holds {
		h := debit(newID(), strconv.Itoa(100000+rng.IntN(accounts)), 1+rng.Int64N(100))
		if i%2 == 1 {
			h.Direction = ledger.Credit
		}
		holds[i] = h
		fns[i] = func(tx *ledger.Tx) error {
			if _, err := tx.Log().Append(wal.Record{Type: ledger.TypePrepared, TxID: h.TxID, Attempt: h.Attempt}); err != nil {
				return err
			}
			return tx.PlaceHold(h)
		}
	}
	for _, err := range l.UpdateAll(fns) {
		if err != nil {
			b.Fatal(err)
		}
	}
	return holds
}

func lastSeq(b *testing.B, log *wal.Log) uint64 {
	var seq uint64
	if err := log.View(func(tx *wal.Tx) error { seq = tx.LastSeq(); return nil }); err != nil {
		b.Fatal(err)
	}
	return seq
}
