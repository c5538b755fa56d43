package wal_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/internal/testkit/damage"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/wal"
)

// scrubbed has Open bound its check of any file and scrub the rest.
var scrubbed = wal.Options{FullCheckBelow: 1}

// noFreelist is bbolt's meta value for a file that keeps no freelist.
const noFreelist = ^uint64(0)

// metaFreelist returns the freelist page of the meta page bbolt uses (the
// higher txid) of the bbolt file at path.
func metaFreelist(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	ne := binary.NativeEndian
	var best, txid uint64
	for _, off := range []int64{0, 4096} {
		m := make([]byte, 16+64)
		_, err := f.ReadAt(m, off)
		require.NoError(t, err)
		if t := ne.Uint64(m[16+48:]); t >= txid {
			best, txid = ne.Uint64(m[16+32:]), t
		}
	}
	return best
}

// withoutFreelist makes the log at path what the code before issue 17
// wrote: a meta page with no freelist (bbolt's NoFreelistSync).
func withoutFreelist(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return nil }))
	require.NoError(t, db.Close())
	require.Equal(t, noFreelist, metaFreelist(t, path))
}

// deferredLeaf returns a leaf page of the records' tree that the bounded
// check leaves to the scrub: not the first child of its branch page.
func deferredLeaf(t *testing.T, path string) (pageSize int, id int64) {
	t.Helper()
	pageSize, root, _ := damage.Tree(t, path, "wal.records")
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	page := make([]byte, pageSize)
	for id = root; ; {
		_, err := f.ReadAt(page, id*int64(pageSize))
		require.NoError(t, err)
		if binary.NativeEndian.Uint16(page[8:]) == 2 {
			return pageSize, id
		}
		n := int(binary.NativeEndian.Uint16(page[10:]))
		require.GreaterOrEqual(t, n, 2)
		id = int64(binary.NativeEndian.Uint64(page[16+(n/2)*16+8:]))
	}
}

func appendAnother(l *wal.Log) error {
	return l.Append(func(tx *wal.Tx) error {
		_, err := tx.Append(wal.Record{Type: ledger.TypePrepared, TxID: newID(), Attempt: 1, Payload: []byte("one more")})
		return err
	})
}

// TestADamagedLeafOfALargeFileIsFoundByTheScrub: above FullCheckBelow, a
// leaf damaged at rest does not stop Open (its check is bounded), but the
// scrub finds it, names the page, stops appends with ErrDamaged, tells
// OnDamage and sets strife_wal_damaged.
func TestADamagedLeafOfALargeFileIsFoundByTheScrub(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	writeLog(t, path, 5000)
	ps, leaf := deferredLeaf(t, path)
	damage.Flip(t, path, leaf*int64(ps), 16)

	reg := prometheus.NewRegistry()
	opts := scrubbed
	opts.Metrics = wal.NewMetrics(reg)
	var told []error
	opts.OnDamage = func(err error) { told = append(told, err) }
	l, err := wal.Open(path, opts)
	require.NoError(t, err, "the bounded check leaves the leaves to the scrub")
	defer l.Close()
	require.True(t, l.Scrubbing())
	l.WaitScrub()

	err = l.Damaged()
	require.ErrorIs(t, err, wal.ErrDamaged)
	require.Contains(t, err.Error(), path)
	require.Regexp(t, `page \d+`, err.Error())
	t.Log(err)
	require.Len(t, told, 1)
	require.Equal(t, err, told[0])
	require.ErrorIs(t, appendAnother(l), wal.ErrDamaged, "appends are refused")
	require.Equal(t, 1.0, gauge(t, reg, "strife_wal_damaged"))
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	n, err := testutil.GatherAndCount(reg, name)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// TestAnIntactLargeFileIsScrubbedAndServes: the scrub of an intact file
// finds nothing, appends go on, Close stops a scrub.
func TestAnIntactLargeFileIsScrubbedAndServes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	writeLog(t, path, 5000)
	reg := prometheus.NewRegistry()
	opts := scrubbed
	opts.Metrics = wal.NewMetrics(reg)
	l, err := wal.Open(path, opts)
	require.NoError(t, err)
	require.NoError(t, appendAnother(l), "appends while the scrub runs")
	l.WaitScrub()
	require.NoError(t, l.Damaged())
	require.NoError(t, appendAnother(l))
	require.Equal(t, 0.0, gauge(t, reg, "strife_wal_damaged"))
	require.NoError(t, l.Close())

	l, err = wal.Open(path, scrubbed)
	require.NoError(t, err)
	require.NoError(t, l.Close(), "Close stops a scrub in flight")
}

// TestDamageBboltReadsAtOpenIsRefusedAboveTheThreshold: the bounded check
// still reads what bbolt reads at open (the freelist page) and the branch
// pages.
func TestDamageBboltReadsAtOpenIsRefusedAboveTheThreshold(t *testing.T) {
	dir := t.TempDir()
	intact := filepath.Join(dir, "intact.db")
	writeLog(t, intact, 5000)
	ps, root, _ := damage.Tree(t, intact, "wal.records")
	_, pages := damage.Layout(t, intact)
	freelist := int64(-1)
	for _, p := range pages {
		if p.Type == "freelist" {
			freelist = int64(p.ID)
		}
	}
	require.Positive(t, freelist, "Open writes a freelist")
	for name, id := range map[string]int64{"branch": root, "freelist": freelist} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wal.db")
			damage.Copy(t, intact, path)
			damage.Flip(t, path, id*int64(ps), 16)
			l, err := wal.Open(path, scrubbed)
			if err == nil {
				l.Close()
			}
			require.ErrorIs(t, err, wal.ErrDamaged)
			t.Log(err)
		})
	}
}

// TestAFileWithoutAFreelistIsWalkedWholeAndGetsOne: a log written before
// issue 17 keeps no freelist, so bbolt rebuilds it at the first open by
// walking the tree, where a damaged page would crash it: Open walks such
// a file whole whatever its size, and the file has a freelist afterwards
// (its next open is bounded).
func TestAFileWithoutAFreelistIsWalkedWholeAndGetsOne(t *testing.T) {
	dir := t.TempDir()
	intact := filepath.Join(dir, "intact.db")
	writeLog(t, intact, 5000)
	withoutFreelist(t, intact)
	ps, leaf := deferredLeaf(t, intact)

	damaged := filepath.Join(dir, "damaged.db")
	damage.Copy(t, intact, damaged)
	damage.Flip(t, damaged, leaf*int64(ps), 16)
	_, err := wal.Open(damaged, scrubbed)
	require.ErrorIs(t, err, wal.ErrDamaged, "refused before bbolt walks it")

	l, err := wal.Open(intact, scrubbed)
	require.NoError(t, err)
	require.False(t, l.Scrubbing(), "walked whole")
	require.NoError(t, appendAnother(l))
	require.NoError(t, l.Close())
	require.NotEqual(t, noFreelist, metaFreelist(t, intact), "bbolt wrote a freelist")

	l, err = wal.Open(intact, scrubbed)
	require.NoError(t, err)
	require.True(t, l.Scrubbing(), "bounded now")
	l.WaitScrub()
	require.NoError(t, l.Damaged())
	require.NoError(t, l.View(func(tx *wal.Tx) error { return tx.Verify() }))
	require.NoError(t, l.Close())
}

// TestTheFixtureOfBeforeIssue16Opens: files written by older code (no
// freelist) open and get a freelist (their daemons' tests read them).
func TestTheFixtureOfBeforeIssue16Opens(t *testing.T) {
	for _, name := range []string{"BankA.db", "gateway.db"} {
		path := filepath.Join(t.TempDir(), name)
		damage.Copy(t, filepath.Join("..", "testdata", "before-issue-16", name), path)
		require.Equal(t, noFreelist, metaFreelist(t, path))
		l, err := wal.Open(path, wal.Options{})
		require.NoError(t, err)
		require.NoError(t, l.Close())
		require.NotEqual(t, noFreelist, metaFreelist(t, path))
	}
}

// TestAReadOfADamagedLeafBeforeTheScrubIsAnError: above FullCheckBelow, a
// read can reach a damaged leaf before the scrub does; bbolt then panics
// on it (a page of the wrong type), and View returns that as ErrDamaged
// instead of letting the panic kill the process. A panic of the caller's
// own function is not bbolt's, and goes on.
func TestAReadOfADamagedLeafBeforeTheScrubIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	writeLog(t, path, 5000)
	ps, leaf := deferredLeaf(t, path)
	damage.Flip(t, path, leaf*int64(ps), 16)

	l, err := wal.Open(path, scrubbed)
	require.NoError(t, err)
	defer l.Close()
	err = l.View(func(tx *wal.Tx) error { return tx.Scan(1, func(wal.Record) error { return nil }) })
	require.ErrorIs(t, err, wal.ErrDamaged)
	require.ErrorContains(t, err, path)
	t.Log(err)

	require.PanicsWithValue(t, "mine", func() {
		_ = l.View(func(*wal.Tx) error { panic("mine") })
	})
}
