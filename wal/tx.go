package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

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
	if !r.Type.Known() {
		return 0, fmt.Errorf("%w: %v", ErrUnknownType, r.Type)
	}
	if r.Type.Transactional() {
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
	if !r.Type.Indexed() {
		return seq, nil
	}
	return seq, tx.btx.Bucket(indexBucket).Put(indexKey(r.TxID, r.Attempt, seq), nil)
}

// appendFill is how full bbolt fills the pages of the records bucket when
// it splits them, instead of its default of half (bbolt.DefaultFillPercent):
// completely. Their keys, sequence numbers, only ever grow and their values
// never change: a page, once split off, never takes another key or a
// longer value, so any room left in it would stay empty for ever (etcd
// fills its append-only buckets to 0.9, for values it rewrites; measured
// with strife-inspect stats: 89% full at 0.9, 99% at 1). bbolt does not
// keep the setting: it is set on the bucket in every transaction that
// writes. The index keeps bbolt's default: its keys start with transaction
// IDs, which grow only roughly, and a transaction's later records land in
// the middle of it, into pages that fuller splits leave without room
// (measured: 0.9 took a gateway's index from 64% to 55% full).
const appendFill = 1.0

// Lookup returns the indexed records of one attempt of a transaction, in
// the order they were appended: those of the types registered Indexed, and
// in a log written before that choice existed, every record of the
// attempt. Records with a zero TxID are not indexed, so the zero ID finds
// nothing.
func (tx *Tx) Lookup(id ulid.ULID, attempt uint32) ([]Record, error) {
	prefix := indexKey(id, attempt, 0)[:20]
	records := tx.btx.Bucket(recordsBucket)
	var out []Record
	c := tx.btx.Bucket(indexBucket).Cursor()
	for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		key := k[20:]
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

// indexKey is txid(16) attempt(4) seq(8): all records of one attempt are
// adjacent, in append order.
func indexKey(id ulid.ULID, attempt uint32, seq uint64) []byte {
	k := make([]byte, 0, 28)
	k = append(k, id[:]...)
	k = binary.BigEndian.AppendUint32(k, attempt)
	return binary.BigEndian.AppendUint64(k, seq)
}

// Verify reads the whole log as a daemon may: every record must decode,
// every record of an Indexed type must have its key in wal.index, and
// every key there must name a record with a TxID, of that key's TxID and
// attempt. A log written before Indexed existed also has keys for the
// other records of a transaction; they are valid. It returns an error
// wrapping ErrCorrupt (or ErrUnknownType) for the first thing wrong.
// Offline checks run it; a lost or stray index key would make Lookup, and
// so a bank's idempotency, wrong without any record being damaged.
func (tx *Tx) Verify() error {
	records := tx.btx.Bucket(recordsBucket)
	err := tx.Scan(1, func(r Record) error {
		if r.TxID == (ulid.ULID{}) || !r.Type.Indexed() {
			return nil
		}
		if tx.btx.Bucket(indexBucket).Get(indexKey(r.TxID, r.Attempt, r.Seq)) == nil {
			return fmt.Errorf("%w: record %d (%v of %s/%d) has no index key", ErrCorrupt, r.Seq, r.Type, r.TxID, r.Attempt)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tx.btx.Bucket(indexBucket).ForEach(func(k, _ []byte) error {
		if len(k) != 28 {
			return fmt.Errorf("%w: an index key of %d bytes: %x", ErrCorrupt, len(k), k)
		}
		r, err := Decode(k[20:], records.Get(k[20:]))
		if err != nil {
			return fmt.Errorf("%w: index key %x names a record that does not read: %w", ErrCorrupt, k, err)
		}
		if r.TxID == (ulid.ULID{}) || !bytes.Equal(r.TxID[:], k[:16]) || r.Attempt != binary.BigEndian.Uint32(k[16:20]) {
			return fmt.Errorf("%w: index key %x names record %d, of %s/%d", ErrCorrupt, k, r.Seq, r.TxID, r.Attempt)
		}
		return nil
	})
}
