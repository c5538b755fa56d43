package wal_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/testkit/damage"
	"github.com/strife-pay/strife/wal"
)

// TestSalvageRecoversEveryIntactRecord damages a log of 5,000 records so
// that it cannot be opened, salvages it, and opens the new log: every
// record is there, under its own number, or in a gap the report gives.
func TestSalvageRecoversEveryIntactRecord(t *testing.T) {
	dir := t.TempDir()
	batched := filepath.Join(dir, "batched.db")
	writeLog(t, batched, 5000)
	cases := []struct {
		name   string
		intact string
		damage func(path string, ps int, root, leaf int64)
		lost   bool
	}{
		{"the records' root branch page", batched, func(p string, ps int, root, _ int64) { damage.Flip(t, p, root*int64(ps), 16) }, false},
		{"both meta pages", batched, func(p string, ps int, _, _ int64) {
			damage.Flip(t, p, 32, 16)
			damage.Flip(t, p, int64(ps)+32, 16)
		}, false},
		{"the first leaf page of records, and the root", batched, func(p string, ps int, root, leaf int64) {
			damage.Zero(t, p, ps, leaf)
			damage.Flip(t, p, root*int64(ps), 16)
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := wal.OpenReadOnly(c.intact, 0)
			require.NoError(t, err)
			want := scanAll(t, l)
			require.NoError(t, l.Close())
			ps, root, leaf := damage.Tree(t, c.intact, "wal.records")
			damaged, salvaged := filepath.Join(t.TempDir(), "damaged.db"), filepath.Join(t.TempDir(), "new.db")
			damage.Copy(t, c.intact, damaged)
			c.damage(damaged, ps, root, leaf)
			_, err = wal.OpenReadOnly(damaged, 0)
			require.Error(t, err, "the damage is found")

			rep, err := wal.Salvage(damaged, salvaged)
			require.NoError(t, err)
			t.Logf("%+v", rep)
			require.Equal(t, c.lost, rep.Lost())

			l, err = wal.Open(salvaged, wal.Options{})
			require.NoError(t, err)
			defer l.Close()
			got := scanAll(t, l)
			require.Equal(t, rep.Records, uint64(len(got)))
			require.NoError(t, l.View(func(tx *wal.Tx) error {
				require.Equal(t, uint64(5000), tx.LastSeq(), "new records come after the last one")
				return tx.Verify()
			}))
			if !c.lost {
				require.Equal(t, want, got)
				return
			}
			require.Len(t, rep.Gaps, 1)
			gap := rep.Gaps[0]
			require.Equal(t, uint64(1), gap[0], "the first leaf holds the first records")
			require.Equal(t, want[gap[1]:], got, "every record but the leaf's")
		})
	}
}

func TestSalvageRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	writeLog(t, a, 10)
	writeLog(t, b, 10)
	_, err := wal.Salvage(a, b)
	require.ErrorContains(t, err, "exists")
}
