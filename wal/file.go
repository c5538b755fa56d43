package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	berrors "go.etcd.io/bbolt/errors"
)

// Errors for a data file that cannot be trusted, before any record is read.
// Every one comes wrapped in a single line naming the file and what is
// wrong with it; callers classify them with errors.Is.
var (
	// ErrDamaged is a bbolt file whose structure is damaged: both meta
	// pages bad, shorter than its meta page says, or a page of its tree
	// that is not what its parent says. Opening it could crash bbolt.
	ErrDamaged = errors.New("damaged data file")
	// ErrFormatVersion is an intact bbolt file of a format version this
	// build of bbolt does not read.
	ErrFormatVersion = errors.New("bbolt file of another format version")
)

// The bbolt file format, version 2 (go.etcd.io/bbolt/internal/common):
// every page starts with a 16-byte header, and pages 0 and 1 are meta pages,
// written alternately; bbolt trusts the valid one with the higher txid.
//
//	page header: id u64 | flags u16 | count u16 | overflow u32
//	meta (at 16): magic u32 | version u32 | pageSize u32 | flags u32 |
//	              root bucket (root pgid u64, sequence u64) | freelist u64 |
//	              pgid (high-water mark) u64 | txid u64 | checksum u64
//	branch element (16 bytes): pos u32 | ksize u32 | pgid u64
//	leaf element (16 bytes):   flags u32 | pos u32 | ksize u32 | vsize u32
//
// An element's key (and a leaf's value after it) is at pos bytes from the
// element itself. A leaf element with flag 1 is a bucket: its value is the
// bucket's root pgid and sequence, followed, when the root is 0, by the
// bucket's own leaf page inline. The checksum is FNV-1a 64 over the meta
// before it. bbolt writes the integers in the machine's byte order.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16
	elementSize      = 16
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	metaPageFlag     = 0x04
	freelistPageFlag = 0x10
	bucketLeafFlag   = 0x01
	noFreelist       = ^uint64(0)
	minPageSize      = 512
	maxPageSize      = 1 << 16
)

var ne = binary.NativeEndian

// meta is a decoded meta page.
type meta struct {
	magic, version, pageSize, flags uint32
	root, freelist, pgid, txid      uint64
	sum, want                       uint64 // the stored checksum, and the one computed
}

func decodeMeta(page []byte) meta {
	m := page[pageHeaderSize:]
	h := fnv.New64a()
	h.Write(m[:56])
	return meta{
		magic: ne.Uint32(m[0:]), version: ne.Uint32(m[4:]), pageSize: ne.Uint32(m[8:]), flags: ne.Uint32(m[12:]),
		root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]), pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:]),
		sum: ne.Uint64(m[56:]), want: h.Sum64(),
	}
}

// problem says what is wrong with a meta page, or "" if nothing is:
// bbolt's own validation (magic, version, checksum, in the order that
// tells another version from damage) and the fields bbolt relies on.
func (m meta) problem() string {
	switch {
	case m.magic != boltMagic:
		return "no bbolt magic number"
	case m.sum != m.want:
		return fmt.Sprintf("checksum %016x, want %016x", m.sum, m.want)
	case m.version != boltVersion:
		return fmt.Sprintf("format version %d, this build reads %d", m.version, boltVersion)
	case m.pageSize < minPageSize || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0:
		return fmt.Sprintf("page size %d", m.pageSize)
	case m.root < 2 || m.root >= m.pgid:
		return fmt.Sprintf("root page %d outside 2..%d", m.root, m.pgid)
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid):
		return fmt.Sprintf("freelist page %d outside 2..%d", m.freelist, m.pgid)
	}
	return ""
}

// FileCheck is what CheckFile found in a file it accepts.
type FileCheck struct {
	PageSize int
	Pages    uint64 // the high-water mark: pages in use or free
	TxID     uint64 // of the meta page bbolt will use
	// Warnings are damage bbolt works around, such as one bad meta page
	// (bbolt uses the other one; the next commit rewrites it).
	Warnings []string

	size     int64 // of the file, in bytes
	deferred bool  // the walk was bounded: the leaves are left to the scrub
}

// CheckFile reads the bbolt file at path without trusting it, as bbolt
// would open it, and walks its whole tree: it returns an error wrapping
// ErrNotLog, ErrFormatVersion or ErrDamaged, naming the file and what is
// wrong, for a file bbolt could crash on. It reads with pread, never
// through a memory map, so damage cannot fault it. It holds a shared lock
// on the file while it reads, waiting up to timeout (0: 1s) for a writer
// to release it (then ErrLocked). A missing file is an error wrapping
// fs.ErrNotExist.
func CheckFile(path string, timeout time.Duration) (*FileCheck, error) {
	c, err := checkFile(path, timeout)
	if err != nil {
		return nil, fmt.Errorf("wal: %s: %w", path, err)
	}
	return c, nil
}

func checkFile(path string, timeout time.Duration) (*FileCheck, error) {
	return checkFileUpTo(path, timeout, 0)
}

// checkFileUpTo is checkFile, with the walk bounded (see walker.bounded)
// for a file larger than fullBelow bytes that keeps a freelist; 0 walks
// every file whole. A bounded check says so in FileCheck.deferred: the
// caller must have the rest walked (Log.scrub).
func checkFileUpTo(path string, timeout time.Duration, fullBelow int64) (*FileCheck, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := lockShared(f, timeout); err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%w: a directory", ErrNotLog)
	}
	r := &fileReader{f: f, size: info.Size()}
	c, m, err := r.readMetas()
	if err != nil {
		return nil, err
	}
	if need := m.pgid * uint64(m.pageSize); uint64(r.size) < need {
		return nil, fmt.Errorf("%w: truncated: %d bytes, its meta page counts %d pages of %d bytes (%d bytes)", ErrDamaged, r.size, m.pgid, m.pageSize, need)
	}
	w := newWalker(r, m)
	// A file without a freelist is walked whole whatever its size: bbolt
	// rebuilds the freelist by walking the tree, on a goroutine of its own.
	w.bounded = fullBelow > 0 && r.size > fullBelow && m.freelist != noFreelist
	if err := w.walk(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	c.size, c.deferred = r.size, w.bounded
	return c, nil
}

// lockShared takes a shared flock on f, as bbolt's read-only open does,
// so that no writer changes the file while it is checked. The lock goes
// with f's descriptor.
func lockShared(f *os.File, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return err
		case time.Now().After(deadline):
			return fmt.Errorf("%w (%w)", ErrLocked, berrors.ErrTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fileReader reads pages with pread.
type fileReader struct {
	f    *os.File
	size int64
}

// at reads n bytes at off, or fewer at the end of the file.
func (r *fileReader) at(off int64, n int) ([]byte, error) {
	buf := make([]byte, n)
	got, err := r.f.ReadAt(buf, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return buf[:got], err
}

// readMetas reads the meta pages as bbolt does: page 0 at offset 0, and
// page 1 at the page size page 0 gives, or, if page 0 is bad, at the first
// of the possible page sizes where a valid meta page is found. It returns
// the meta bbolt will use.
func (r *fileReader) readMetas() (*FileCheck, meta, error) {
	const metaEnd = pageHeaderSize + 64
	if r.size < metaEnd {
		return nil, meta{}, fmt.Errorf("%w: %s", ErrNotLog, r.describe(fmt.Sprintf("%d bytes, too short for a bbolt file", r.size)))
	}
	p0, err := r.at(0, metaEnd)
	if err != nil {
		return nil, meta{}, err
	}
	m0 := decodeMeta(p0)
	var m1 meta
	found1 := false
	offsets := []int64{int64(m0.pageSize)}
	if m0.problem() != "" {
		offsets = offsets[:0]
		for ps := int64(minPageSize); ps <= maxPageSize; ps *= 2 {
			offsets = append(offsets, ps)
		}
	}
	for _, off := range offsets {
		p1, err := r.at(off, metaEnd)
		if err != nil {
			return nil, meta{}, err
		}
		if len(p1) < metaEnd {
			break
		}
		if m := decodeMeta(p1); !found1 || m.problem() == "" {
			m1, found1 = m, true
			if m.problem() == "" && uint32(off) == m.pageSize {
				break
			}
		}
	}
	return r.chooseMeta(m0, m1, found1)
}

// chooseMeta tells a file that is not bbolt's from another version and
// from damage, and picks the meta bbolt trusts: the valid one with the
// higher txid.
func (r *fileReader) chooseMeta(m0, m1 meta, found1 bool) (*FileCheck, meta, error) {
	p0, p1 := m0.problem(), "missing (file too short)"
	if found1 {
		p1 = m1.problem()
	}
	switch {
	case m0.magic != boltMagic && (!found1 || m1.magic != boltMagic):
		return nil, meta{}, fmt.Errorf("%w: %s", ErrNotLog, r.describe("no bbolt magic number in either meta page"))
	case p0 != "" && p1 != "":
		if v := otherVersion(m0, m1); v != 0 {
			return nil, meta{}, fmt.Errorf("%w: bbolt format version %d, this build reads version %d", ErrFormatVersion, v, boltVersion)
		}
		return nil, meta{}, fmt.Errorf("%w: both meta pages are damaged (page 0: %s; page 1: %s)", ErrDamaged, p0, p1)
	}
	use, c := m0, &FileCheck{}
	switch {
	case p0 != "":
		use = m1
		c.Warnings = append(c.Warnings, fmt.Sprintf("meta page 0 is damaged (%s): bbolt uses meta page 1 (txid %d), and the next commit rewrites page 0", p0, m1.txid))
	case p1 != "":
		c.Warnings = append(c.Warnings, fmt.Sprintf("meta page 1 is damaged (%s): bbolt uses meta page 0 (txid %d), and the next commit rewrites page 1", p1, m0.txid))
	case m1.txid > m0.txid:
		use = m1
	}
	if use.pageSize != m0.pageSize && p0 == "" || found1 && p1 == "" && m1.pageSize != use.pageSize {
		return nil, meta{}, fmt.Errorf("%w: the meta pages disagree on the page size (%d, %d)", ErrDamaged, m0.pageSize, m1.pageSize)
	}
	c.PageSize, c.Pages, c.TxID = int(use.pageSize), use.pgid, use.txid
	return c, use, nil
}

// otherVersion returns the version of a meta page that is intact but of
// another format version, or 0.
func otherVersion(ms ...meta) uint32 {
	for _, m := range ms {
		if m.magic == boltMagic && m.sum == m.want && m.version != boltVersion {
			return m.version
		}
	}
	return 0
}

// describe adds to what is wrong what the file looks like, for a file
// that is not bbolt's: an operator who gave the wrong path wants to know.
func (r *fileReader) describe(what string) string {
	if r.size == 0 {
		return "empty file (0 bytes)"
	}
	head, _ := r.at(0, 512)
	kind := http.DetectContentType(head)
	switch {
	case bytes.HasPrefix(head, []byte("SQLite format 3\x00")):
		kind = "a SQLite database"
	case kind == "application/octet-stream":
		return what
	}
	return fmt.Sprintf("%s; it looks like %s", what, strings.TrimSuffix(kind, "; charset=utf-8"))
}

// walker walks a bbolt tree from the root bucket, checking each page
// against what its parent says of it, before bbolt trusts any of it.
type walker struct {
	r        *fileReader
	pageSize uint64
	hwm      uint64
	freelist uint64
	root     uint64   // the root bucket's root page
	seen     []uint64 // a bit per page: reached already
	bufs     [][]byte // a page buffer per depth of the tree, reused
	// bounded walks every branch page but only the first leaf below each
	// branch page (bbolt's trees are balanced: a branch page's children
	// are all leaves or all branches). What it leaves out, and buckets
	// nested there, the scrub walks after the log has opened.
	bounded bool
	// pace, if set, is called before each page is read; an error stops the
	// walk (the scrub's throttle, and its stop on Close).
	pace func() error
}

func newWalker(r *fileReader, m meta) *walker {
	return &walker{r: r, pageSize: uint64(m.pageSize), hwm: m.pgid, freelist: m.freelist, root: m.root, seen: make([]uint64, (m.pgid+63)/64)}
}

// maxDepth bounds the tree: bbolt's are a handful of levels deep.
const maxDepth = 64

// walk checks the tree of every bucket and the freelist page, if the file
// keeps one: every page reached exactly once, below the high-water mark,
// of the type its parent expects, its elements within the page, its keys
// in order and within its parent's bounds.
func (w *walker) walk() error {
	w.mark(0)
	w.mark(1)
	var free []uint64
	if w.freelist != noFreelist {
		ids, err := w.freePages()
		if err != nil {
			return err
		}
		free = ids
	}
	if _, err := w.page(w.root, nil, nil, 0); err != nil {
		return err
	}
	for _, id := range free {
		if w.marked(id) {
			return fmt.Errorf("page %d is both in use and on the freelist", id)
		}
	}
	return nil
}

func (w *walker) mark(id uint64) bool {
	if w.marked(id) {
		return false
	}
	w.seen[id/64] |= 1 << (id % 64)
	return true
}

func (w *walker) marked(id uint64) bool { return w.seen[id/64]&(1<<(id%64)) != 0 }

// read reads page id with its overflow pages into the buffer of depth,
// checks its header (flags 0: a branch or a leaf page) and marks the pages
// reached. The page is valid until the next read at the same depth.
func (w *walker) read(id uint64, flags uint16, depth int, what string) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, fmt.Errorf("%s refers to page %d, outside 2..%d", what, id, w.hwm-1)
	}
	if w.pace != nil {
		if err := w.pace(); err != nil {
			return nil, err
		}
	}
	for len(w.bufs) <= depth {
		w.bufs = append(w.bufs, make([]byte, w.pageSize))
	}
	p := w.bufs[depth][:w.pageSize]
	if _, err := w.r.f.ReadAt(p, int64(id*w.pageSize)); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	if got := ne.Uint64(p); got != id {
		return nil, fmt.Errorf("page %d (%s) identifies itself as page %d", id, what, got)
	}
	got := ne.Uint16(p[8:])
	if flags == 0 && got != branchPageFlag && got != leafPageFlag || flags != 0 && got != flags {
		return nil, fmt.Errorf("page %d (%s) has flags %#x", id, what, got)
	}
	overflow := uint64(ne.Uint32(p[12:]))
	if id+overflow >= w.hwm {
		return nil, fmt.Errorf("page %d (%s) overflows %d pages past the high-water mark %d", id, what, overflow, w.hwm)
	}
	for i := id; i <= id+overflow; i++ {
		if !w.mark(i) {
			return nil, fmt.Errorf("page %d is reached twice (again from %s)", i, what)
		}
	}
	if overflow == 0 {
		return p, nil
	}
	n := (overflow + 1) * w.pageSize
	if uint64(cap(w.bufs[depth])) < n {
		w.bufs[depth] = append(make([]byte, 0, n), p...)
	}
	p = w.bufs[depth][:n]
	if _, err := w.r.f.ReadAt(p[w.pageSize:], int64((id+1)*w.pageSize)); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	return p, nil
}

// freePages reads the freelist page and checks its ids.
func (w *walker) freePages() ([]uint64, error) {
	p, err := w.read(w.freelist, freelistPageFlag, 0, "the meta page's freelist")
	if err != nil {
		return nil, err
	}
	start, n := uint64(pageHeaderSize), uint64(ne.Uint16(p[10:]))
	if n == 0xFFFF {
		n, start = ne.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if n > (uint64(len(p))-start)/8 {
		return nil, fmt.Errorf("freelist page %d counts %d ids, more than it holds", w.freelist, n)
	}
	ids := make([]uint64, n)
	dup := map[uint64]bool{}
	for i := range ids {
		id := ne.Uint64(p[start+uint64(i)*8:])
		if id < 2 || id >= w.hwm || dup[id] {
			return nil, fmt.Errorf("freelist page %d lists page %d (outside 2..%d, or twice)", w.freelist, id, w.hwm-1)
		}
		ids[i], dup[id] = id, true
	}
	return ids, nil
}

// page checks page id and the tree below it; every key must be in
// [lo, hi) (nil: unbounded). It says whether the page is a leaf.
func (w *walker) page(id uint64, lo, hi []byte, depth int) (leaf bool, err error) {
	if depth >= maxDepth {
		return false, fmt.Errorf("page %d: the tree is deeper than %d levels", id, maxDepth)
	}
	p, err := w.read(id, 0, depth, "a branch or leaf page")
	if err != nil {
		return false, err
	}
	if ne.Uint16(p[8:]) == branchPageFlag {
		return false, w.branch(id, p, lo, hi, depth)
	}
	return true, w.leaf(place{page: id}, p, lo, hi, depth)
}

// place is where a leaf is, for messages: a page, or a bucket's page
// inline in its parent's leaf.
type place struct {
	page   uint64
	inline []byte // the bucket's name, if inline
	parent *place
}

func (p place) String() string {
	if p.parent != nil {
		return fmt.Sprintf("bucket %q inline in %v", p.inline, *p.parent)
	}
	return fmt.Sprintf("page %d", p.page)
}

// elements returns the count of p's elements, checking that they fit.
func elements(what fmt.Stringer, p []byte) (int, error) {
	if len(p) < pageHeaderSize {
		return 0, fmt.Errorf("%v: %d bytes, shorter than a page header", what, len(p))
	}
	n := int(ne.Uint16(p[10:]))
	if pageHeaderSize+n*elementSize > len(p) {
		return 0, fmt.Errorf("%v: %d elements do not fit in %d bytes", what, n, len(p))
	}
	return n, nil
}

// span returns p[at+pos : at+pos+n], or an error if it is not in p.
func span(what fmt.Stringer, p []byte, at int, pos, n uint64) ([]byte, error) {
	start := uint64(at) + pos
	end := start + n
	if end > uint64(len(p)) {
		return nil, fmt.Errorf("%v: an element's bytes %d..%d are past its end (%d)", what, start, end, len(p))
	}
	return p[start:end], nil
}

func (w *walker) branch(id uint64, p, lo, hi []byte, depth int) error {
	var what fmt.Stringer = place{page: id} // once: each conversion allocates
	n, err := elements(what, p)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("branch page %d has no elements", id)
	}
	keys := make([][]byte, n)
	for i := range n {
		at := pageHeaderSize + i*elementSize
		e := p[at:]
		if keys[i], err = span(what, p, at, uint64(ne.Uint32(e)), uint64(ne.Uint32(e[4:]))); err != nil {
			return err
		}
		var prev []byte
		if i > 0 {
			prev = keys[i-1]
		}
		if err := inOrder(what, i, prev, keys[i], lo, hi); err != nil {
			return err
		}
	}
	for i := range n {
		from, to := keys[i], hi
		if i == 0 {
			from = lo // the first key is a copy of the child's first key
		}
		if i+1 < n {
			to = keys[i+1]
		}
		child := ne.Uint64(p[pageHeaderSize+i*elementSize+8:])
		leaf, err := w.page(child, from, to, depth+1)
		if err != nil {
			return err
		}
		if leaf && w.bounded {
			return nil // its siblings are leaves too: the scrub's
		}
	}
	return nil
}

// inOrder checks k, element i of a page: not empty, after prev (the key
// of element i-1), at least lo if first, before hi.
func inOrder(what fmt.Stringer, i int, prev, k, lo, hi []byte) error {
	switch {
	case len(k) == 0:
		return fmt.Errorf("%v: element %d has an empty key", what, i)
	case i > 0 && bytes.Compare(prev, k) >= 0:
		return fmt.Errorf("%v: key %d (%x) is not after key %d (%x)", what, i, k, i-1, prev)
	case i == 0 && lo != nil && bytes.Compare(k, lo) < 0:
		return fmt.Errorf("%v: key %d (%x) is before its parent's bound %x", what, i, k, lo)
	case hi != nil && bytes.Compare(k, hi) >= 0:
		return fmt.Errorf("%v: key %d (%x) is not before its parent's bound %x", what, i, k, hi)
	}
	return nil
}

// leaf checks a leaf page (a page, or a bucket's page inline in its
// parent's value) and the buckets it holds.
func (w *walker) leaf(what place, p, lo, hi []byte, depth int) error {
	where := fmt.Stringer(what) // once, not per element: each conversion allocates
	n, err := elements(where, p)
	if err != nil {
		return err
	}
	var prev []byte
	for i := range n {
		at := pageHeaderSize + i*elementSize
		e := p[at:]
		flags, pos, ksize, vsize := ne.Uint32(e), ne.Uint32(e[4:]), ne.Uint32(e[8:]), ne.Uint32(e[12:])
		if flags&^bucketLeafFlag != 0 {
			return fmt.Errorf("%v: element %d has flags %#x", what, i, flags)
		}
		kv, err := span(where, p, at, uint64(pos), uint64(ksize)+uint64(vsize))
		if err != nil {
			return err
		}
		if err := inOrder(where, i, prev, kv[:ksize], lo, hi); err != nil {
			return err
		}
		prev = kv[:ksize]
		if flags&bucketLeafFlag != 0 {
			if err := w.bucket(what, prev, kv[ksize:], depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// bucket checks a bucket's tree, from its value in the parent's leaf.
func (w *walker) bucket(in place, name, v []byte, depth int) error {
	if len(v) < 16 {
		return fmt.Errorf("bucket %q in %v: its header is %d bytes, want 16", name, in, len(v))
	}
	if root := ne.Uint64(v); root != 0 {
		_, err := w.page(root, nil, nil, depth+1)
		return err
	}
	inline := v[16:]
	if len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != leafPageFlag {
		return fmt.Errorf("bucket %q in %v: its inline page is not a leaf page", name, in)
	}
	return w.leaf(place{inline: name, parent: &in}, inline, nil, nil, depth+1)
}
