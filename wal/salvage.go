package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"

	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
)

// SalvageReport is what Salvage recovered.
type SalvageReport struct {
	Records uint64 // intact records written to the new log
	// LastSeq is the sequence number of the newest record the damaged file
	// had, if its root page still says (Known); the new log continues
	// after it, so no number is used twice.
	LastSeq uint64
	Known   bool
	// Gaps are the ranges of sequence numbers, first and last, up to
	// LastSeq (or the newest record found), of which no intact record was
	// found.
	Gaps [][2]uint64
	// Conflicts are sequence numbers found with two different intact
	// records, outside the tree (stale pages of a transaction that never
	// committed): neither is kept, and they are counted in Gaps.
	Conflicts []uint64
	// Unreadable counts the pages of the records' tree that could not be
	// read; their records were looked for among all pages.
	Unreadable int
}

// Lost reports whether any record of the damaged log is missing.
func (r *SalvageReport) Lost() bool { return len(r.Gaps) > 0 }

// Salvage copies every intact record of the damaged log file at damaged
// into a new log at into (which must not exist), under its own sequence
// number, with its index key. Records check themselves (CRC-32C over key
// and value), so they can be taken from any page: Salvage first follows
// the records' tree as far as it reads, then reads every other page of
// the file that looks like a leaf, which finds the records of leaves
// whose branch pages are gone. A record found only outside the tree with
// a sequence number after the file's last is a transaction that never
// committed, and is left out. The caller's buckets (projections) are not
// copied: they must be rebuilt from the new log. The damaged file is only
// read.
func Salvage(damaged, into string) (*SalvageReport, error) {
	if _, err := os.Stat(into); !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("wal: salvage into %s: the file exists (or cannot be checked: %v)", into, err)
	}
	found, rep, err := salvageRecords(damaged)
	if err != nil {
		return nil, fmt.Errorf("wal: salvage %s: %w", damaged, err)
	}
	if err := writeSalvaged(into, found, rep); err != nil {
		os.Remove(into)
		return nil, fmt.Errorf("wal: salvage into %s: %w", into, err)
	}
	return rep, nil
}

// salvageRecords reads the intact records of a damaged file, by sequence
// number.
func salvageRecords(path string) (map[uint64][]byte, *SalvageReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if err := lockShared(f, 0); err != nil {
		return nil, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	r := &fileReader{f: f, size: info.Size()}
	s := &salvager{r: r, pageSize: uint64(os.Getpagesize()), tree: map[uint64][]byte{}, loose: map[uint64][]byte{}, visited: map[uint64]bool{}, rep: &SalvageReport{}}
	_, m, err := r.readMetas()
	switch {
	case errors.Is(err, ErrNotLog):
		return nil, nil, err
	case err == nil:
		s.pageSize = uint64(m.pageSize)
		s.followTree(m.root)
	}
	// Without a meta page, the page size is the machine's, as bbolt
	// would have chosen it, and every record is looked for page by page.
	s.scanPages()
	return s.merge(), s.rep, nil
}

// salvager collects records from the tree and from loose pages.
type salvager struct {
	r        *fileReader
	pageSize uint64
	tree     map[uint64][]byte // records reached through the tree
	loose    map[uint64][]byte // records found page by page
	conflict map[uint64]bool
	visited  map[uint64]bool
	rep      *SalvageReport
}

// page reads page id and its overflow, if it is in the file and says it
// is page id, or returns nil.
func (s *salvager) page(id uint64) []byte {
	pages := uint64(s.r.size) / s.pageSize
	if id < 2 || id >= pages {
		return nil
	}
	p, err := s.r.at(int64(id*s.pageSize), int(s.pageSize))
	if err != nil || uint64(len(p)) < s.pageSize || ne.Uint64(p) != id {
		return nil
	}
	if overflow := uint64(ne.Uint32(p[12:])); overflow > 0 {
		if id+overflow >= pages {
			return nil
		}
		if p, err = s.r.at(int64(id*s.pageSize), int((overflow+1)*s.pageSize)); err != nil {
			return nil
		}
	}
	return p
}

// followTree finds the records bucket in the root bucket's page and
// collects the records of every leaf its tree still reaches.
func (s *salvager) followTree(root uint64) {
	p := s.page(root)
	if p == nil || ne.Uint16(p[8:]) != leafPageFlag {
		s.rep.Unreadable++
		return
	}
	eachElement(p, func(flags uint32, k, v []byte) {
		if flags&bucketLeafFlag == 0 || !bytes.Equal(k, recordsBucket) || len(v) < 16 {
			return
		}
		s.rep.LastSeq, s.rep.Known = ne.Uint64(v[8:]), true
		if id := ne.Uint64(v); id != 0 {
			s.descend(id, 0)
		} else {
			s.collect(v[16:], s.tree)
		}
	})
}

func (s *salvager) descend(id uint64, depth int) {
	if s.visited[id] || depth >= maxDepth {
		return
	}
	s.visited[id] = true
	p := s.page(id)
	if p == nil {
		s.rep.Unreadable++
		return
	}
	switch ne.Uint16(p[8:]) {
	case branchPageFlag:
		n, err := elements(place{page: id}, p)
		if err != nil {
			s.rep.Unreadable++
		}
		for i := range n {
			s.descend(ne.Uint64(p[pageHeaderSize+i*elementSize+8:]), depth+1)
		}
	case leafPageFlag:
		s.collect(p, s.tree)
	default:
		s.rep.Unreadable++
	}
}

// scanPages collects the records of every page that looks like a leaf
// and was not reached through the tree.
func (s *salvager) scanPages() {
	for id := uint64(2); id < uint64(s.r.size)/s.pageSize; id++ {
		if s.visited[id] {
			continue
		}
		if p := s.page(id); p != nil && ne.Uint16(p[8:]) == leafPageFlag {
			s.collect(p, s.loose)
		}
	}
}

// collect adds the intact records of leaf page p to into. A sequence
// number found twice with different bytes is a conflict.
func (s *salvager) collect(p []byte, into map[uint64][]byte) {
	eachElement(p, func(flags uint32, k, v []byte) {
		if flags != 0 || len(k) != 8 {
			return
		}
		seq := binary.BigEndian.Uint64(k)
		if _, err := parseFrame(seq, v); err != nil {
			return // not a record, or a damaged one
		}
		if old, ok := into[seq]; ok && !bytes.Equal(old, v) {
			if s.conflict == nil {
				s.conflict = map[uint64]bool{}
			}
			s.conflict[seq] = true
			return
		}
		into[seq] = bytes.Clone(v)
	})
}

// eachElement calls fn with each leaf element of p whose bytes are within
// p; it stops at the first that is not.
func eachElement(p []byte, fn func(flags uint32, k, v []byte)) {
	n, err := elements(place{}, p)
	if err != nil {
		return
	}
	for i := range n {
		at := pageHeaderSize + i*elementSize
		e := p[at:]
		ksize, vsize := uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
		kv, err := span(place{}, p, at, uint64(ne.Uint32(e[4:])), ksize+vsize)
		if err != nil {
			return
		}
		fn(ne.Uint32(e), kv[:ksize], kv[ksize:])
	}
}

// merge keeps the records of the tree, then those found only on loose
// pages, without conflicts or records after the file's last, and fills in
// the report's gaps.
func (s *salvager) merge() map[uint64][]byte {
	out := s.tree
	for seq, v := range s.loose {
		if _, ok := out[seq]; ok || s.conflict[seq] || s.rep.Known && seq > s.rep.LastSeq {
			continue
		}
		out[seq] = v
	}
	for seq := range s.conflict {
		if _, ok := s.tree[seq]; !ok {
			delete(out, seq)
			s.rep.Conflicts = append(s.rep.Conflicts, seq)
		}
	}
	slices.Sort(s.rep.Conflicts)
	last := s.rep.LastSeq
	if !s.rep.Known {
		for seq := range out {
			last = max(last, seq)
		}
	}
	for seq := uint64(1); seq <= last; seq++ {
		if _, ok := out[seq]; ok {
			continue
		}
		if n := len(s.rep.Gaps); n > 0 && s.rep.Gaps[n-1][1] == seq-1 {
			s.rep.Gaps[n-1][1] = seq
		} else {
			s.rep.Gaps = append(s.rep.Gaps, [2]uint64{seq, seq})
		}
	}
	s.rep.Records = uint64(len(out))
	return out
}

// writeSalvaged writes the records into a new log, in order, in commits
// of 10,000, and sets the records' sequence after the last one the
// damaged file had.
func writeSalvaged(path string, records map[uint64][]byte, rep *SalvageReport) error {
	l, err := Open(path, Options{})
	if err != nil {
		return err
	}
	seqs := slices.Sorted(maps.Keys(records))
	last := rep.LastSeq
	if len(seqs) > 0 {
		last = max(last, seqs[len(seqs)-1])
	}
	for {
		chunk := seqs[:min(len(seqs), 10_000)]
		seqs = seqs[len(chunk):]
		err := l.db.Update(func(btx *bolt.Tx) error {
			recs, index := btx.Bucket(recordsBucket), btx.Bucket(indexBucket)
			for _, seq := range chunk {
				v := records[seq]
				if err := recs.Put(encodeKey(seq), v); err != nil {
					return err
				}
				f, err := parseFrame(seq, v) // collect kept only intact frames
				if err != nil {
					return err
				}
				if f.txID == (ulid.ULID{}) || !f.typ.Indexed() {
					continue
				}
				if err := addToIndex(index, f.txID, f.attempt, seq); err != nil {
					return err
				}
			}
			if len(seqs) == 0 {
				return recs.SetSequence(last)
			}
			return nil
		})
		if err != nil {
			l.Close()
			return err
		}
		if len(seqs) == 0 {
			return l.Close()
		}
	}
}
