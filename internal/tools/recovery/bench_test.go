package recovery_test

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/internal/tools/recovery"
	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// buildBigLedger writes a bank ledger of n records straight into the log in
// large batches: 1,000 ACCOUNT_OPENED, then DEPOSITED and committed
// transfers (PREPARED, 2 HOLD_PLACED, COMMITTED, 2 HOLD_RELEASED, 2 POSTED)
// in turn; then it builds the projection with ledger.Replay.
func buildBigLedger(tb testing.TB, path string, n int) {
	l, err := wal.Open(path, wal.Options{})
	require.NoError(tb, err)
	defer l.Close()
	const accounts = 1000
	balance := make([]int64, accounts)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var pending []wal.Record
	add := func(typ wal.Type, id ulid.ULID, m proto.Message) {
		b, err := proto.Marshal(m)
		require.NoError(tb, err)
		pending = append(pending, wal.Record{Type: typ, TxID: id, Attempt: 1, Payload: b})
	}
	flush := func() {
		recs := pending
		pending = nil
		require.NoError(tb, l.Append(func(tx *wal.Tx) error {
			for _, r := range recs {
				if _, err := tx.Append(r); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	num := func(i int) string { return strconv.Itoa(100000 + i) }
	for i := range accounts {
		add(ledger.TypeAccountOpened, ulid.ULID{}, &storagev1.AccountOpened{Number: num(i), Owner: "u" + num(i), TimeUnixNano: at})
	}
	written, k := accounts, 0
	for written < n {
		k++
		at += int64(time.Millisecond)
		if k%2 == 1 || n-written < 8 {
			i := k % accounts
			balance[i] += 1000
			add(ledger.TypeDeposited, ulid.ULID{}, &storagev1.Deposited{Number: num(i), Amount: 1000, BalanceAfter: balance[i], TimeUnixNano: at})
			written++
		} else {
			from, to := (k-1)%accounts, (k+7)%accounts
			var id ulid.ULID
			id.SetTime(uint64(at / int64(time.Millisecond)))
			id[15], id[14], id[13] = byte(k), byte(k>>8), byte(k>>16)
			debit := &storagev1.HoldPlaced{Number: num(from), Amount: 10, Direction: ledger.Debit}
			credit := &storagev1.HoldPlaced{Number: num(to), Amount: 10, Direction: ledger.Credit}
			add(ledger.TypePrepared, id, &storagev1.Prepared{Coordinator: "gateway-1", TimeUnixNano: at})
			add(ledger.TypeHoldPlaced, id, debit)
			add(ledger.TypeHoldPlaced, id, credit)
			add(ledger.TypeCommitted, id, &storagev1.Committed{TimeUnixNano: at})
			add(ledger.TypeHoldReleased, id, &storagev1.HoldReleased{Number: debit.Number, Amount: 10, Direction: ledger.Debit})
			add(ledger.TypeHoldReleased, id, &storagev1.HoldReleased{Number: credit.Number, Amount: 10, Direction: ledger.Credit})
			balance[from] -= 10
			balance[to] += 10
			add(ledger.TypePosted, id, &storagev1.Posted{Number: num(from), Amount: -10, BalanceAfter: balance[from], TimeUnixNano: at})
			add(ledger.TypePosted, id, &storagev1.Posted{Number: num(to), Amount: 10, BalanceAfter: balance[to], TimeUnixNano: at})
			written += 8
		}
		if len(pending) >= 50_000 {
			flush()
		}
	}
	flush()
	lg, err := ledger.New(l, nil)
	require.NoError(tb, err)
	require.NoError(tb, lg.Replay())
}

// BenchmarkCheckMillionRecords times strife-recover check (a full replay
// and comparison) on a bank ledger of 1,000,000 records. Set
// STRIFE_BENCH_RECORDS to change the size.
func BenchmarkCheckMillionRecords(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("STRIFE_BENCH_RECORDS"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(b, err)
	}
	path := filepath.Join(b.TempDir(), "BankBig.db")
	start := time.Now()
	buildBigLedger(b, path, n)
	b.Logf("built %d records in %v", n, time.Since(start))
	b.ResetTimer()
	for b.Loop() {
		code := recovery.Run(io.Discard, io.Discard, []string{path}, recovery.Options{})
		if code != 0 {
			b.Fatalf("check exited %d", code)
		}
	}
	b.ReportMetric(float64(n), "records")
}

func TestBigLedgerIsConsistent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BankBig.db")
	buildBigLedger(t, path, 20_000)
	code, out := runAt(t, recovery.Options{}, path)
	require.Equal(t, 0, code, out)
	l, err := wal.OpenReadOnly(path, 0)
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, l.View(func(tx *wal.Tx) error {
		require.Equal(t, uint64(20_000), tx.LastSeq(), "exact size")
		return nil
	}))
}
