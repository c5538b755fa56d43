package wal

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// BucketStats are one bucket's own figures, from bbolt's statistics
// (Bucket.Stats) less those of the buckets nested in it, so that the
// figures of every bucket of a file add up to the file's.
type BucketStats struct {
	Path      string // bucket names from the top level, joined by "/"
	Pairs     int    // key/value pairs, a nested bucket's own key included
	Pages     int    // branch, leaf and overflow pages
	Allocated int    // bytes of those pages
	InUse     int    // bytes of those pages that hold data
	Inline    bool   // small enough to live inside its parent's leaf page
}

// FileStats are a file's size and the figures of every bucket in it.
type FileStats struct {
	Size     int64 // bytes of the file, as of the transaction
	PageSize int
	Buckets  []BucketStats // top-level buckets by name, each before those nested in it
}

// Stats returns the file's figures: what each bucket costs in pages and
// how full those pages are. It reads every page of every bucket, so it is
// for offline tools, not for a daemon's hot path.
func (tx *Tx) Stats() FileStats {
	s := FileStats{Size: tx.btx.Size(), PageSize: tx.btx.DB().Info().PageSize}
	_ = tx.btx.ForEach(func(name []byte, b *bolt.Bucket) error {
		s.Buckets = bucketStats(s.Buckets, string(name), b)
		return nil
	})
	return s
}

// bucketStats appends the figures of b (at path) and of the buckets nested
// in it to out, and returns them.
func bucketStats(out []BucketStats, path string, b *bolt.Bucket) []BucketStats {
	own := b.Stats() // b's and every nested bucket's
	at := len(out)
	out = append(out, BucketStats{Path: path})
	_ = b.ForEachBucket(func(name []byte) error {
		nested := b.Bucket(name).Stats()
		own.KeyN -= nested.KeyN
		own.BranchPageN -= nested.BranchPageN + nested.BranchOverflowN
		own.LeafPageN -= nested.LeafPageN + nested.LeafOverflowN
		own.BranchAlloc -= nested.BranchAlloc
		own.LeafAlloc -= nested.LeafAlloc
		own.BranchInuse -= nested.BranchInuse
		own.LeafInuse -= nested.LeafInuse
		out = bucketStats(out, path+"/"+string(name), b.Bucket(name))
		return nil
	})
	out[at] = BucketStats{
		Path:      path,
		Pairs:     own.KeyN,
		Pages:     own.BranchPageN + own.BranchOverflowN + own.LeafPageN + own.LeafOverflowN,
		Allocated: own.BranchAlloc + own.LeafAlloc,
		InUse:     own.BranchInuse + own.LeafInuse,
		Inline:    b.RootPage() == 0,
	}
	return out
}

// TxIDs returns how many distinct transaction IDs the log's records name,
// from the index's keys alone (they sort by transaction ID).
func (tx *Tx) TxIDs() int {
	n := 0
	var last []byte
	c := tx.btx.Bucket(indexBucket).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) >= 16 && !bytes.Equal(k[:16], last) {
			n++
			last = append(last[:0], k[:16]...)
		}
	}
	return n
}

// Size is the bytes of the file's pages up to bbolt's high-water mark, as
// of the transaction: what the file needs; bbolt grows the file itself
// ahead of it.
func (tx *Tx) Size() int64 { return tx.btx.Size() }
