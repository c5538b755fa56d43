package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"

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
	addEntry(number string, seq uint64) error
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
//	entries   number | 0x00 | seq (8)          -> empty
const (
	accountsBucket = "accounts"
	holdsBucket    = "holds"
	entriesBucket  = "entries"
)

var projectionBuckets = []string{accountsBucket, holdsBucket, entriesBucket}

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

// boltStore keeps the projection in the buckets of a transaction.
type boltStore struct {
	accounts, holds, entries *bolt.Bucket
}

// openStore finds the projection's buckets, creating them in a write
// transaction. New creates them, so a read transaction always finds them.
func openStore(wtx *wal.Tx) (*boltStore, error) {
	var bkts [3]*bolt.Bucket
	for i, name := range projectionBuckets {
		b, err := wtx.Bucket(name)
		if err != nil {
			return nil, err
		}
		if b == nil {
			return nil, fmt.Errorf("%w: bucket %q is missing", ErrInconsistent, name)
		}
		bkts[i] = b
	}
	return &boltStore{accounts: bkts[0], holds: bkts[1], entries: bkts[2]}, nil
}

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

func (s *boltStore) addEntry(number string, seq uint64) error {
	return s.entries.Put(entryKey(number, seq), nil)
}

// load copies the whole projection into memory, for Verify.
func (s *boltStore) load() (*memStore, error) {
	m := newMemStore()
	err := s.accounts.ForEach(func(k, v []byte) error {
		a := &storagev1.AccountState{}
		m.accounts[string(k)] = a
		return proto.Unmarshal(v, a)
	})
	if err != nil {
		return nil, err
	}
	err = s.holds.ForEach(func(k, v []byte) error {
		h := &storagev1.HoldPlaced{}
		m.holds[parseHoldKey(k)] = h
		return proto.Unmarshal(v, h)
	})
	if err != nil {
		return nil, err
	}
	return m, s.entries.ForEach(func(k, _ []byte) error {
		i := bytes.IndexByte(k, 0)
		m.entries[string(k[:i])] = append(m.entries[string(k[:i])], binary.BigEndian.Uint64(k[i+1:]))
		return nil
	})
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

func (m *memStore) addEntry(number string, seq uint64) error {
	m.entries[number] = append(m.entries[number], seq)
	return nil
}
