package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// store is where the projection lives: bbolt buckets for the live ledger, or
// maps when Verify rebuilds a projection to compare. apply is written against
// it, so both are built by the same code.
type store interface {
	account(number string) (*storagev1.AccountState, error) // nil if absent
	putAccount(a *storagev1.AccountState) error
	hold(k holdKey) (*storagev1.HoldPlaced, error) // nil if absent
	putHold(k holdKey, h *storagev1.HoldPlaced) error
	deleteHold(k holdKey) error
	// addEntry indexes the entry with sequence number seq as a's newest;
	// it may change a (LastEntrySeq), which the caller then puts.
	addEntry(a *storagev1.AccountState, seq uint64) error
}

type holdKey struct {
	txID    ulid.ULID
	attempt uint32
	number  string
}

// Projection buckets, inside the log's file (see wal.Tx.Bucket):
//
//	accounts  number                           -> AccountState
//	holds     txid (16) | attempt (4) | number -> HoldPlaced
//	postings  seq (8)                          -> prev seq (8) | number
//
// postings indexes every entry (a DEPOSITED, POSTED or SETTLED record) by
// its sequence number, so that a commit appends to the end of the bucket
// instead of writing into the middle of it once per account it touches.
// Each account's entries are a chain, newest first: AccountState's
// last_entry_seq is the head, and each entry names the one before it (0
// for the account's first). The accounts bucket is written by every
// posting anyway, so following an account costs no page of its own.
//
// Ledgers written before postings existed have instead
//
//	entries   number | 0x00 | seq (8)          -> empty
//
// with the same entries in each account's key range. New rebuilds such a
// projection in the postings layout (as Replay does), once; until then,
// read-only readers (the offline tools) read it as it is, and nothing
// writes to it.
const (
	AccountsBucket = "accounts"
	holdsBucket    = "holds"
	postingsBucket = "postings"
	entriesBucket  = "entries" // the layout before postings
)

// projectionBuckets are every bucket of the projection, in either layout.
var projectionBuckets = []string{AccountsBucket, holdsBucket, postingsBucket, entriesBucket}

// postingsFill is the fill percent of postings pages: full. Their keys
// only ever grow and their values never change, so a page is never split
// for an insert in its middle or a longer value (measured with
// strife-inspect stats: 89% full at 0.9, 98% at 1).
const postingsFill = 1.0

func (k holdKey) bytes() []byte {
	b := attemptPrefix(k.txID, k.attempt)
	return append(b, k.number...)
}

func attemptPrefix(id ulid.ULID, attempt uint32) []byte {
	b := make([]byte, 0, 20+MaxNumberLen)
	b = append(b, id[:]...)
	return binary.BigEndian.AppendUint32(b, attempt)
}

func parseHoldKey(b []byte) holdKey {
	var k holdKey
	copy(k.txID[:], b[:16])
	k.attempt = binary.BigEndian.Uint32(b[16:20])
	k.number = string(b[20:])
	return k
}

func entryPrefix(number string) []byte { return append([]byte(number), 0) }

func entryKey(number string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(entryPrefix(number), seq)
}

// posting is a value of the postings bucket.
type posting struct {
	prev   uint64
	number string
}

func (p posting) bytes() []byte {
	return append(binary.BigEndian.AppendUint64(nil, p.prev), p.number...)
}

func parsePosting(seq uint64, v []byte) (posting, error) {
	if len(v) <= 8 {
		return posting{}, fmt.Errorf("%w: posting %d is %d bytes", ErrInconsistent, seq, len(v))
	}
	p := posting{prev: binary.BigEndian.Uint64(v), number: string(v[8:])}
	if p.prev >= seq {
		return posting{}, fmt.Errorf("%w: posting %d follows %d", ErrInconsistent, seq, p.prev)
	}
	return p, nil
}

// boltStore keeps the projection in the buckets of a transaction. Exactly
// one of postings and entries is set: the layout of the ledger's file. A
// store in the old layout (entries) is only ever read.
type boltStore struct {
	accounts, holds   *bolt.Bucket
	postings, entries *bolt.Bucket
}

// errOldLayout refuses a write to a projection in the layout before
// postings: New rebuilds it first, and only an Attached ledger can see it.
var errOldLayout = errors.New("ledger: the projection predates postings and is read-only until New rebuilds it")

// openStore finds the projection's buckets. A write transaction on a file
// that has no projection yet creates it, in the postings layout; New
// does that, so a read transaction always finds one.
func openStore(wtx *wal.Tx) (*boltStore, error) {
	s := &boltStore{}
	var err error
	if s.accounts, err = projectionBucket(wtx, AccountsBucket); err != nil {
		return nil, err
	}
	if s.holds, err = projectionBucket(wtx, holdsBucket); err != nil {
		return nil, err
	}
	if s.entries = wtx.ExistingBucket(entriesBucket); s.entries != nil {
		if s.accounts.Tx().Writable() {
			return nil, errOldLayout
		}
		return s, nil
	}
	if s.postings, err = projectionBucket(wtx, postingsBucket); err != nil {
		return nil, err
	}
	s.postings.FillPercent = postingsFill
	return s, nil
}

// projectionBucket returns one of the projection's buckets, creating it in
// a write transaction.
func projectionBucket(wtx *wal.Tx, name string) (*bolt.Bucket, error) {
	b, err := wtx.Bucket(name)
	if err == nil && b == nil {
		err = fmt.Errorf("%w: bucket %q is missing", ErrInconsistent, name)
	}
	return b, err
}

// Kept reports whether tx is on a file that keeps a ledger: one with the
// projection's buckets, in either layout.
func Kept(tx *wal.Tx) bool {
	has := func(name string) bool { return tx.ExistingBucket(name) != nil }
	return has(AccountsBucket) && has(holdsBucket) && (has(postingsBucket) || has(entriesBucket))
}

// oldLayout reports whether the projection still has the entries bucket.
func (s *boltStore) oldLayout() bool { return s.entries != nil }

func getProto[M proto.Message](b *bolt.Bucket, key []byte, m M) (M, error) {
	v := b.Get(key)
	if v == nil {
		var zero M
		return zero, nil
	}
	return m, proto.Unmarshal(v, m)
}

func putProto(b *bolt.Bucket, key []byte, m proto.Message) error {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return err
	}
	return b.Put(key, v)
}

func (s *boltStore) account(number string) (*storagev1.AccountState, error) {
	return getProto(s.accounts, []byte(number), &storagev1.AccountState{})
}

func (s *boltStore) putAccount(a *storagev1.AccountState) error {
	return putProto(s.accounts, []byte(a.Number), a)
}

func (s *boltStore) hold(k holdKey) (*storagev1.HoldPlaced, error) {
	return getProto(s.holds, k.bytes(), &storagev1.HoldPlaced{})
}

func (s *boltStore) putHold(k holdKey, h *storagev1.HoldPlaced) error {
	return putProto(s.holds, k.bytes(), h)
}

func (s *boltStore) deleteHold(k holdKey) error { return s.holds.Delete(k.bytes()) }

func (s *boltStore) addEntry(a *storagev1.AccountState, seq uint64) error {
	if err := s.postings.Put(encodeSeq(seq), posting{prev: a.LastEntrySeq, number: a.Number}.bytes()); err != nil {
		return err
	}
	a.LastEntrySeq = seq
	return nil
}

func encodeSeq(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// posting returns the posting with sequence number seq, or false.
func (s *boltStore) posting(seq uint64) (posting, bool, error) {
	v := s.postings.Get(encodeSeq(seq))
	if v == nil {
		return posting{}, false, nil
	}
	p, err := parsePosting(seq, v)
	return p, err == nil, err
}

// entrySeqs returns the sequence numbers of up to limit entries of a,
// newest first, below before (0: from the newest).
func (s *boltStore) entrySeqs(a *storagev1.AccountState, before uint64, limit int) ([]uint64, error) {
	if s.oldLayout() {
		return s.oldEntrySeqs(a.Number, before, limit)
	}
	seq, err := s.chainBelow(a, before)
	var out []uint64
	for seq != 0 && err == nil && len(out) < limit {
		out = append(out, seq)
		if len(out) < limit { // a full page does not follow the link past it
			seq, err = s.prev(a.Number, seq)
		}
	}
	return out, err
}

// chainBelow is the newest entry of a below before (0: the newest of all).
// A before that names one of a's entries, as a page token does, costs one
// read; any other is found by following the chain from its head.
func (s *boltStore) chainBelow(a *storagev1.AccountState, before uint64) (uint64, error) {
	if before == 0 {
		return a.LastEntrySeq, nil
	}
	if p, ok, err := s.posting(before); err != nil || (ok && p.number == a.Number) {
		return p.prev, err
	}
	seq := a.LastEntrySeq
	var err error
	for seq >= before && err == nil {
		seq, err = s.prev(a.Number, seq)
	}
	return seq, err
}

// prev is the entry of number before the one at seq.
func (s *boltStore) prev(number string, seq uint64) (uint64, error) {
	p, ok, err := s.posting(seq)
	switch {
	case err != nil:
		return 0, err
	case !ok || p.number != number:
		return 0, fmt.Errorf("%w: the entries of %q lead to %d, which is not one of them", ErrInconsistent, number, seq)
	}
	return p.prev, nil
}

// oldEntrySeqs is entrySeqs in the layout before postings.
func (s *boltStore) oldEntrySeqs(number string, before uint64, limit int) ([]uint64, error) {
	if before == 0 {
		before = math.MaxUint64
	}
	prefix := entryPrefix(number)
	c := s.entries.Cursor()
	// Seek finds the first key at or after before; the one before it is the
	// newest entry to return.
	k, _ := c.Seek(entryKey(number, before))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	var out []uint64
	for ; bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Prev() {
		out = append(out, binary.BigEndian.Uint64(k[len(prefix):]))
	}
	return out, nil
}

// load copies the whole projection into memory, for Verify, in either
// layout: a projection with the entries bucket gets each account's
// LastEntrySeq from it, as Replay would set it. problems are the links of
// the postings chains that do not hold.
func (s *boltStore) load() (m *memStore, problems []error, err error) {
	m = newMemStore()
	err = s.accounts.ForEach(func(k, v []byte) error {
		a := &storagev1.AccountState{}
		m.accounts[string(k)] = a
		return proto.Unmarshal(v, a)
	})
	if err != nil {
		return nil, nil, err
	}
	err = s.holds.ForEach(func(k, v []byte) error {
		h := &storagev1.HoldPlaced{}
		m.holds[parseHoldKey(k)] = h
		return proto.Unmarshal(v, h)
	})
	if err != nil {
		return nil, nil, err
	}
	if s.oldLayout() {
		return m, nil, s.loadOldEntries(m)
	}
	err = s.postings.ForEach(func(k, v []byte) error {
		seq := binary.BigEndian.Uint64(k)
		p, err := parsePosting(seq, v)
		if err != nil {
			problems = append(problems, err)
			return nil
		}
		seqs := m.entries[p.number]
		if last := lastOf(seqs); p.prev != last {
			problems = append(problems, fmt.Errorf("entry %d of %q follows %d, its previous entry is %d", seq, p.number, p.prev, last))
		}
		m.entries[p.number] = append(seqs, seq)
		return nil
	})
	return m, problems, err
}

func (s *boltStore) loadOldEntries(m *memStore) error {
	err := s.entries.ForEach(func(k, _ []byte) error {
		i := bytes.IndexByte(k, 0)
		m.entries[string(k[:i])] = append(m.entries[string(k[:i])], binary.BigEndian.Uint64(k[i+1:]))
		return nil
	})
	for number, a := range m.accounts {
		a.LastEntrySeq = lastOf(m.entries[number])
	}
	return err
}

// lastOf is the last of seqs, or 0.
func lastOf(seqs []uint64) uint64 {
	if len(seqs) == 0 {
		return 0
	}
	return seqs[len(seqs)-1]
}

// memStore is a projection in maps.
type memStore struct {
	accounts map[string]*storagev1.AccountState
	holds    map[holdKey]*storagev1.HoldPlaced
	entries  map[string][]uint64 // ascending
}

func newMemStore() *memStore {
	return &memStore{
		accounts: map[string]*storagev1.AccountState{},
		holds:    map[holdKey]*storagev1.HoldPlaced{},
		entries:  map[string][]uint64{},
	}
}

// The map store hands out copies, like bbolt does, so that apply cannot
// change it without a put.

func (m *memStore) account(number string) (*storagev1.AccountState, error) {
	if a, ok := m.accounts[number]; ok {
		return proto.Clone(a).(*storagev1.AccountState), nil
	}
	return nil, nil
}

func (m *memStore) putAccount(a *storagev1.AccountState) error {
	m.accounts[a.Number] = proto.Clone(a).(*storagev1.AccountState)
	return nil
}

func (m *memStore) hold(k holdKey) (*storagev1.HoldPlaced, error) {
	if h, ok := m.holds[k]; ok {
		return proto.Clone(h).(*storagev1.HoldPlaced), nil
	}
	return nil, nil
}

func (m *memStore) putHold(k holdKey, h *storagev1.HoldPlaced) error {
	m.holds[k] = proto.Clone(h).(*storagev1.HoldPlaced)
	return nil
}

func (m *memStore) deleteHold(k holdKey) error {
	delete(m.holds, k)
	return nil
}

func (m *memStore) addEntry(a *storagev1.AccountState, seq uint64) error {
	m.entries[a.Number] = append(m.entries[a.Number], seq)
	a.LastEntrySeq = seq
	return nil
}
