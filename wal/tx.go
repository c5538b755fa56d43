package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The file's top-level bbolt buckets: the records by sequence number, the
// (txid, attempt) index, and StateBucket, under which the owners keep
// their projections (see Tx.Bucket). Exported for the tests and tools that
// read or damage the file below the log.
const (
	RecordsBucket = "wal.records"
	IndexBucket   = "wal.index"
	StateBucket   = "state"
)

var (
	recordsBucket = []byte(RecordsBucket)
	indexBucket   = []byte(IndexBucket)
	stateBucket   = []byte(StateBucket)
)

var (
	// ErrReadOnly is returned by Tx.Append in a View transaction.
	ErrReadOnly = errors.New("wal: read-only transaction")
	// ErrNotFound is returned by Tx.Get for a sequence number not in the log.
	ErrNotFound = errors.New("wal: no such record")
)

// logBuckets are the buckets every log file has: Open creates them,
// OpenReadOnly requires them.
var logBuckets = [][]byte{recordsBucket, indexBucket, stateBucket}

func initBuckets(btx *bolt.Tx) error {
	for _, name := range logBuckets {
		if _, err := btx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// Tx is a transaction on the log and the caller's state. It is valid only
// inside the function it was passed to.
type Tx struct {
	btx      *bolt.Tx
	progress func(seq, last uint64) // see Log.OnScanProgress; may be nil
}

// Append adds r to the log and returns its sequence number. The record
// becomes durable when the enclosing Log.Append returns nil. A record of a
// Transactional type must have a valid TxID (CheckTxID): one with the zero
// ID is refused with an error wrapping ErrZeroTxID, since it could never
// be looked up.
func (tx *Tx) Append(r Record) (uint64, error) {
	if !tx.btx.Writable() {
		return 0, ErrReadOnly
	}
	info, known := r.Type.info() // once: every append looks its type up
	if !known {
		return 0, fmt.Errorf("%w: %v", ErrUnknownType, r.Type)
	}
	if info.Transactional {
		if err := CheckTxID(r.TxID); err != nil {
			return 0, fmt.Errorf("wal: a %v record must name its transaction: %w", r.Type, err)
		}
	}
	if len(r.Payload) > MaxPayload {
		return 0, fmt.Errorf("wal: payload of %d bytes exceeds %d", len(r.Payload), MaxPayload)
	}
	records := tx.btx.Bucket(recordsBucket)
	records.FillPercent = appendFill
	seq, err := records.NextSequence()
	if err != nil {
		return 0, err
	}
	r.Seq = seq
	if err := records.Put(encodeKey(seq), encode(r)); err != nil {
		return 0, err
	}
	if !info.indexed() {
		return seq, nil
	}
	index := tx.btx.Bucket(indexBucket)
	index.FillPercent = indexFill
	return seq, addToIndex(index, r.TxID, r.Attempt, seq)
}

// appendFill is how full bbolt fills the pages of the records bucket when
// it splits them, instead of its default of half (bbolt.DefaultFillPercent):
// completely. Their keys, sequence numbers, only ever grow and their values
// never change: a page, once split off, never takes another key or a
// longer value, so any room left in it would stay empty for ever (etcd
// fills its append-only buckets to 0.9, for values it rewrites; measured
// with strife-inspect stats: 89% full at 0.9, 99% at 1). bbolt does not
// keep the setting: it is set on the bucket in every transaction that
// writes.
const appendFill = 1.0

// indexFill is how full bbolt fills the index's pages when it splits them.
// Its keys, (transaction, attempt), are written once, when an attempt's
// first record is, and begin with the transaction's ULID, so they arrive
// in roughly growing order, near the end; an attempt's later record (a
// bank's COMMITTED, within milliseconds) only lengthens its value by a
// byte or two. 0.9 leaves room for that in pages that are split: measured
// with strife-inspect stats, a bank's index is 91% full with it, 50% with
// bbolt's default. (With a key per record, as before, a transaction's
// later keys landed in the middle of full pages, and 0.9 did worse than
// the default.)
const indexFill = 0.9

// Lookup returns the indexed records of one attempt of a transaction, in
// the order they were appended: those of the types registered Indexed, and
// in a log written before that choice existed, every record of the
// attempt. Records with a zero TxID are not indexed, so the zero ID finds
// nothing.
func (tx *Tx) Lookup(id ulid.ULID, attempt uint32) ([]Record, error) {
	seqs, err := indexed(tx.btx.Bucket(indexBucket), id, attempt)
	if err != nil {
		return nil, err
	}
	records := tx.btx.Bucket(recordsBucket)
	out := make([]Record, 0, len(seqs))
	for _, seq := range seqs {
		key := encodeKey(seq)
		r, err := Decode(key, records.Get(key))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Get returns the record with sequence number seq, or an error wrapping
// ErrNotFound.
func (tx *Tx) Get(seq uint64) (Record, error) {
	key := encodeKey(seq)
	v := tx.btx.Bucket(recordsBucket).Get(key)
	if v == nil {
		return Record{}, fmt.Errorf("%w: seq %d", ErrNotFound, seq)
	}
	return Decode(key, v)
}

// Scan calls fn for every record from sequence number from on, in order. It
// stops at the first error, from fn or from a record that fails to decode.
func (tx *Tx) Scan(from uint64, fn func(Record) error) error {
	c := tx.btx.Bucket(recordsBucket).Cursor()
	last := tx.LastSeq()
	for k, v := c.Seek(encodeKey(from)); k != nil; k, v = c.Next() {
		r, err := Decode(k, v)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		if tx.progress != nil && r.Seq%scanProgressEvery == 0 {
			tx.progress(r.Seq, last)
		}
	}
	return nil
}

// scanProgressEvery is how many records Scan reads between two calls of the
// progress function.
const scanProgressEvery = 1 << 16

// LastSeq returns the sequence number of the newest record, or 0.
func (tx *Tx) LastSeq() uint64 {
	return tx.btx.Bucket(recordsBucket).Sequence()
}

// Bucket returns the caller's top-level bucket with the given name, creating
// it in a read-write transaction. In a read-only transaction it returns nil
// if the bucket does not exist. These buckets hold state derived from the
// records (projections); the log never reads them.
func (tx *Tx) Bucket(name string) (*bolt.Bucket, error) {
	state := tx.btx.Bucket(stateBucket)
	if !tx.btx.Writable() {
		return state.Bucket([]byte(name)), nil
	}
	return state.CreateBucketIfNotExists([]byte(name))
}

// ExistingBucket returns the caller's top-level bucket with the given name,
// or nil if it does not exist; unlike Bucket, it never creates one.
func (tx *Tx) ExistingBucket(name string) *bolt.Bucket {
	return tx.btx.Bucket(stateBucket).Bucket([]byte(name))
}

// DeleteBucket removes one of the caller's buckets, if it exists. Replaying
// a projection from scratch starts with it.
func (tx *Tx) DeleteBucket(name string) error {
	err := tx.btx.Bucket(stateBucket).DeleteBucket([]byte(name))
	if errors.Is(err, berrors.ErrBucketNotFound) {
		return nil
	}
	return err
}

// The index has a key per attempt, txid(16) attempt(4), whose value lists
// the sequence numbers of the attempt's indexed records in append order,
// as uvarints, each after the first as its distance from the one before
// (a bank's PREPARED and COMMITTED take about five bytes). Logs written
// before this layout have a key per record instead, txid(16) attempt(4)
// seq(8) with an empty value; an attempt may have keys of both kinds (one
// prepared by an older version and decided by this one). Both sort the
// keys of one attempt together, so one seek finds them all.
const (
	attemptKeyLen = 16 + 4
	recordKeyLen  = attemptKeyLen + 8
)

func attemptKey(id ulid.ULID, attempt uint32) []byte {
	k := make([]byte, 0, recordKeyLen)
	k = append(k, id[:]...)
	return binary.BigEndian.AppendUint32(k, attempt)
}

// addToIndex adds seq, the newest record of the attempt, to its key.
func addToIndex(index *bolt.Bucket, id ulid.ULID, attempt uint32, seq uint64) error {
	key := attemptKey(id, attempt)
	v := index.Get(key)
	next := seq
	if len(v) > 0 {
		seqs, err := decodeSeqs(v)
		if err != nil {
			return fmt.Errorf("%w: index key %x: %w", ErrCorrupt, key, err)
		}
		next = seq - seqs[len(seqs)-1]
	}
	return index.Put(key, binary.AppendUvarint(bytes.Clone(v), next))
}

// indexed returns the sequence numbers of an attempt's indexed records, in
// order, from keys of either layout.
func indexed(index *bolt.Bucket, id ulid.ULID, attempt uint32) ([]uint64, error) {
	prefix := attemptKey(id, attempt)
	var seqs []uint64
	c := index.Cursor()
	for k, v := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, v = c.Next() {
		switch len(k) {
		case recordKeyLen:
			seqs = append(seqs, binary.BigEndian.Uint64(k[attemptKeyLen:]))
		case attemptKeyLen:
			more, err := decodeSeqs(v)
			if err != nil {
				return nil, fmt.Errorf("%w: index key %x: %w", ErrCorrupt, k, err)
			}
			seqs = append(seqs, more...)
		default:
			return nil, fmt.Errorf("%w: an index key of %d bytes: %x", ErrCorrupt, len(k), k)
		}
	}
	slices.Sort(seqs) // the two layouts' keys sort apart
	return seqs, nil
}

// decodeSeqs reads the value of an attempt's key: at least one sequence
// number, each greater than the one before.
func decodeSeqs(v []byte) ([]uint64, error) {
	var seqs []uint64
	var seq uint64
	for len(v) > 0 {
		d, n := binary.Uvarint(v)
		if n <= 0 || (len(seqs) > 0 && d == 0) || seq+d < seq {
			return nil, errors.New("sequence numbers do not decode")
		}
		seq += d
		seqs = append(seqs, seq)
		v = v[n:]
	}
	if len(seqs) == 0 {
		return nil, errors.New("no sequence number")
	}
	return seqs, nil
}

// Verify reads the whole log as a daemon may: every record must decode,
// every record of an Indexed type must be in wal.index under its attempt,
// and everything wal.index names must be a record of that attempt. A log
// written before Indexed existed also indexes the other records of a
// transaction; that is valid. It returns an error wrapping ErrCorrupt (or
// ErrUnknownType) for the first thing wrong. Offline checks run it; a lost
// or stray index entry would make Lookup, and so a bank's idempotency,
// wrong without any record being damaged.
func (tx *Tx) Verify() error {
	index, records := tx.btx.Bucket(indexBucket), tx.btx.Bucket(recordsBucket)
	err := tx.Scan(1, func(r Record) error {
		if r.TxID == (ulid.ULID{}) || !r.Type.Indexed() {
			return nil
		}
		seqs, err := indexed(index, r.TxID, r.Attempt)
		if err != nil {
			return err
		}
		if _, found := slices.BinarySearch(seqs, r.Seq); !found {
			return fmt.Errorf("%w: record %d (%v of %s/%d) has no index key", ErrCorrupt, r.Seq, r.Type, r.TxID, r.Attempt)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return index.ForEach(func(k, v []byte) (err error) {
		var seqs []uint64
		switch len(k) {
		case recordKeyLen:
			seqs = []uint64{binary.BigEndian.Uint64(k[attemptKeyLen:])}
		case attemptKeyLen:
			if seqs, err = decodeSeqs(v); err != nil {
				return fmt.Errorf("%w: index key %x: %w", ErrCorrupt, k, err)
			}
		default:
			return fmt.Errorf("%w: an index key of %d bytes: %x", ErrCorrupt, len(k), k)
		}
		for _, seq := range seqs {
			key := encodeKey(seq)
			r, err := Decode(key, records.Get(key))
			if err != nil {
				return fmt.Errorf("%w: index key %x names a record that does not read (%d): %w", ErrCorrupt, k, seq, err)
			}
			if r.TxID == (ulid.ULID{}) || !bytes.Equal(r.TxID[:], k[:16]) || r.Attempt != binary.BigEndian.Uint32(k[16:20]) {
				return fmt.Errorf("%w: index key %x names record %d, of %s/%d", ErrCorrupt, k, r.Seq, r.TxID, r.Attempt)
			}
		}
		return nil
	})
}
