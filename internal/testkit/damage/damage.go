package damage

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// Page is a page of a bbolt file: its id and type as bbolt reports it
// ("branch", "leaf", "freelist", "meta", or "free").
type Page struct {
	ID       int
	Type     string
	Overflow int
}

// Layout reads the pages of the intact bbolt file at path, with bbolt.
func Layout(t testing.TB, path string) (pageSize int, pages []Page) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		for id := 0; ; id++ {
			info, err := tx.Page(id)
			if err != nil || info == nil {
				return err
			}
			pages = append(pages, Page{ID: id, Type: info.Type, Overflow: info.OverflowCount})
		}
	}))
	return db.Info().PageSize, pages
}

// Case is one kind of damage, done to a copy of the intact file.
type Case struct {
	Name string
	// Do damages the file at path.
	Do func(t testing.TB, path string)
}

// Cases are the kinds of damage tried on the intact bbolt file at path
// (which must have branch pages, and a freelist page if freelist is
// set): 16 bytes flipped at several offsets in branch, leaf and freelist
// pages and in the meta pages, truncations, an empty file, and files of
// other programs.
func Cases(t testing.TB, path string, freelist bool) []Case {
	t.Helper()
	ps, pages := Layout(t, path)
	info, err := os.Stat(path)
	require.NoError(t, err)
	size := info.Size()
	var cases []Case
	add := func(name string, do func(testing.TB, string)) { cases = append(cases, Case{name, do}) }
	flip := func(name string, off int64) {
		add(name, func(t testing.TB, p string) { Flip(t, p, off, 16) })
	}
	flip("meta page 0: 16 bytes flipped in its meta", 16+16)
	flip("meta page 1: 16 bytes flipped in its meta", int64(ps)+16+16)
	add("both meta pages flipped", func(t testing.TB, p string) {
		Flip(t, p, 16+16, 16)
		Flip(t, p, int64(ps)+16+16, 16)
	})
	add("both meta pages: another bbolt version", func(t testing.TB, p string) { OtherVersion(t, p, ps) })
	types := []string{"branch", "leaf"}
	if freelist {
		types = append(types, "freelist")
	}
	for _, typ := range types {
		i := slices.IndexFunc(pages, func(p Page) bool { return p.Type == typ })
		require.GreaterOrEqual(t, i, 0, "the file has no %s page", typ)
		id := int64(pages[i].ID)
		// The first and the middle page of that type, at its boundary (the
		// header), in its elements, and in its keys and values.
		mid := pages[slices.IndexFunc(pages[len(pages)/2:], func(p Page) bool { return p.Type == typ })+len(pages)/2]
		if mid.Type != typ {
			mid = pages[i]
		}
		for _, at := range []struct {
			where string
			id    int64
			off   int64
		}{{"at its start (header)", id, 0}, {"in its elements", id, 16 + 16}, {"in its last bytes", id, int64(ps) - 16},
			{"at the start of a later one", int64(mid.ID), 0}, {"a quarter into a later one", int64(mid.ID), int64(ps) / 4}} {
			if at.id == id && at.off == 0 && at.where != "at its start (header)" {
				continue // there is one page of this type
			}
			flip(typ+" page: 16 bytes flipped "+at.where, at.id*int64(ps)+at.off)
		}
	}
	for _, cut := range []struct {
		name string
		size int64
	}{{"half its size", size / 2}, {"two pages", 2 * int64(ps)}, {"one page", int64(ps)}, {"100 bytes", 100},
		{"one page short of its high-water mark", int64(len(pages)-1) * int64(ps)},
		{"one page short (past the high-water mark: unused)", size - int64(ps)}} {
		add("truncated to "+cut.name, func(t testing.TB, p string) { require.NoError(t, os.Truncate(p, cut.size)) })
	}
	add("zero-length file", func(t testing.TB, p string) { require.NoError(t, os.Truncate(p, 0)) })
	add("a PNG image", func(t testing.TB, p string) { Replace(t, p, PNG) })
	add("a SQLite database", func(t testing.TB, p string) { Replace(t, p, SQLite(ps)) })
	add("random bytes", func(t testing.TB, p string) { Replace(t, p, Random(int(size))) })
	return cases
}

// Flip inverts n bytes at off.
func Flip(t testing.TB, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, n)
	_, err = f.ReadAt(buf, off)
	require.NoError(t, err)
	for i := range buf {
		buf[i] ^= 0xFF
	}
	_, err = f.WriteAt(buf, off)
	require.NoError(t, err)
}

// OtherVersion rewrites both meta pages as bbolt format version 3, with
// their checksums right: an intact file of a version this build cannot
// read.
func OtherVersion(t testing.TB, path string, pageSize int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	for _, off := range []int64{0, int64(pageSize)} {
		meta := make([]byte, 64)
		_, err := f.ReadAt(meta, off+16)
		require.NoError(t, err)
		meta[4] = 3 // version, little-endian u32 at 4
		sum := fnv64a(meta[:56])
		for i := range 8 {
			meta[56+i] = byte(sum >> (8 * i))
		}
		_, err = f.WriteAt(meta, off+16)
		require.NoError(t, err)
	}
}

func fnv64a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// Replace makes the file at path hold content instead.
func Replace(t testing.TB, path string, content []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, content, 0o600))
}

// PNG is a small PNG image (a 1×1 pixel).
var PNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

// SQLite is the start of an SQLite database of two pages of size.
func SQLite(size int) []byte {
	b := make([]byte, 2*size)
	copy(b, "SQLite format 3\x00")
	b[16], b[17] = byte(size>>8), byte(size)
	return b
}

// Random is n random bytes, the same every run.
func Random(n int) []byte {
	r := rand.New(rand.NewPCG(13, 13))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Copy copies the file from to a new file to.
func Copy(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.Create(to)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// Crashed reports whether output shows a crash: a panic, a fault, or a
// goroutine dump.
func Crashed(output string) bool {
	for _, s := range []string{"panic", "goroutine ", "SIGSEGV", "SIGBUS", "fatal error"} {
		if bytes.Contains([]byte(output), []byte(s)) {
			return true
		}
	}
	return false
}

// Tree returns the page size, the root page of the top-level bucket
// named bucket (which must be a branch page: a bucket of thousands of
// keys) and its first leaf page, in the intact bbolt file at path.
func Tree(t testing.TB, path, bucket string) (pageSize int, root, firstLeaf int64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		root = int64(tx.Bucket([]byte(bucket)).RootPage())
		return nil
	}))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	page := make([]byte, db.Info().PageSize)
	for id, depth := root, 0; ; depth++ {
		_, err = f.ReadAt(page, id*int64(len(page)))
		require.NoError(t, err)
		switch binary.NativeEndian.Uint16(page[8:]) {
		case 1: // a branch page: its first element's child
			id = int64(binary.NativeEndian.Uint64(page[16+8:]))
		case 2:
			require.Positive(t, depth, "the root of %s is a branch page", bucket)
			return len(page), root, id
		default:
			t.Fatalf("page %d of %s is neither a branch nor a leaf", id, bucket)
		}
	}
}

// Zero overwrites page id with zeros.
func Zero(t testing.TB, path string, pageSize int, id int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt(make([]byte, pageSize), id*int64(pageSize))
	require.NoError(t, err)
}
