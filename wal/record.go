package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"sync/atomic"

	"github.com/oklog/ulid/v2"
)

// Errors returned when a stored record cannot be trusted. Both wrap nothing:
// callers classify them with errors.Is.
var (
	ErrCorrupt     = errors.New("wal: corrupt record")
	ErrUnknownType = errors.New("wal: unknown record type")
)

// ErrZeroTxID is the error for the zero ULID used as a transaction ID. The
// log does not index records whose ID is zero (it marks records that belong
// to no transaction, such as ACCOUNT_OPENED), so a transaction with that ID
// could be written but never looked up again: a bank could hold its money
// and never find the prepared attempt to commit.
var ErrZeroTxID = errors.New("wal: the zero ULID is not a transaction ID")

// CheckTxID is the one rule for transaction IDs that every process shares:
// an ID is valid if the log can index it, which is every ULID but the zero
// one. The gateway and the banks refuse any other ID at their edge, and
// Tx.Append refuses to write it.
func CheckTxID(id ulid.ULID) error {
	if id == (ulid.ULID{}) {
		return ErrZeroTxID
	}
	return nil
}

// ParseTxID parses a transaction ID in its 26-character text form
// (ulid.ParseStrict: Crockford base32, at most 7ZZZZZZZZZZZZZZZZZZZZZZZZZ)
// and checks it with CheckTxID. The error says what is wrong, for the
// caller to wrap in its own "invalid request" error.
func ParseTxID(s string) (ulid.ULID, error) {
	id, err := ulid.ParseStrict(s)
	if err != nil {
		return ulid.ULID{}, fmt.Errorf("transaction ID %q is not a ULID (26 characters of Crockford base32): %w", s, err)
	}
	if err := CheckTxID(id); err != nil {
		return ulid.ULID{}, fmt.Errorf("transaction ID %q: %w", s, err)
	}
	return id, nil
}

// Type says what a record means. The numbers are part of the on-disk format.
// The log frames and indexes records without knowing what they mean: the
// packages that write records declare their types with RegisterType (the
// bank's ledger and 2PC records in ledger, the payments in coordinator, the
// users in users).
type Type uint8

// TypeInfo is what the log needs to know of a record type.
type TypeInfo struct {
	// Name is the type's name in errors and in the tools ("PREPARED").
	Name string
	// Transactional types are those whose records belong to one
	// transaction (the tools group a log by payment with it): their
	// records must carry a valid ID (CheckTxID), which Tx.Append enforces.
	// The other types (accounts, deposits, users, epochs, known banks)
	// carry the zero ID.
	Transactional bool
	// Indexed types are the Transactional types whose records someone
	// finds again by transaction and attempt, with Tx.Lookup: each such
	// record gets a key in wal.index. Only a bank's 2PC records are: the
	// participant answers a repeated message from them. The other
	// records of a transaction are never looked up that way (a bank's
	// holds and postings have their own projections, the gateway keeps
	// each payment's state in its payments bucket), and an index key
	// costs about as much disk as a small record. Logs written before
	// this field existed index every Transactional record; those keys
	// stay valid.
	Indexed bool
}

// types is the registry of RegisterType: a map replaced whole on each
// registration, so that readers need no lock.
var types atomic.Pointer[map[Type]TypeInfo]

// RegisterType declares a record type. Call it from the init function of
// the package that writes the type, so that every program that links the
// writer can read its records: a record of a type not registered is
// ErrUnknownType, as one written by a newer version would be. It panics if
// the number is 0 or taken, or the name empty: two owners claiming one
// number is a programming error, caught when the program starts.
func RegisterType(t Type, info TypeInfo) {
	for {
		old := types.Load()
		next := map[Type]TypeInfo{}
		if old != nil {
			if have, ok := (*old)[t]; ok {
				panic(fmt.Sprintf("wal: record type %d registered twice (%s and %s)", t, have.Name, info.Name))
			}
			maps.Copy(next, *old)
		}
		if t == 0 || info.Name == "" {
			panic(fmt.Sprintf("wal: record type %d needs a number and a name (%q)", t, info.Name))
		}
		next[t] = info
		if types.CompareAndSwap(old, &next) {
			return
		}
	}
}

// RegisterTypes registers each of types, as RegisterType does: an owner
// declares its record types in one call from its init function.
func RegisterTypes(types map[Type]TypeInfo) {
	for t, info := range types {
		RegisterType(t, info)
	}
}

func (t Type) info() (TypeInfo, bool) {
	m := types.Load()
	if m == nil {
		return TypeInfo{}, false
	}
	info, ok := (*m)[t]
	return info, ok
}

// Transactional reports whether records of type t belong to a transaction
// and so must carry a transaction ID that the log can index.
func (t Type) Transactional() bool {
	info, _ := t.info()
	return info.Transactional
}

// Indexed reports whether records of type t get a wal.index key, so that
// Tx.Lookup finds them.
func (t Type) Indexed() bool {
	info, _ := t.info()
	return info.indexed()
}

// indexed: only a Transactional type can be Indexed (the index is by
// transaction).
func (i TypeInfo) indexed() bool { return i.Transactional && i.Indexed }

// Known reports whether t is a record type registered in this program.
func (t Type) Known() bool {
	_, ok := t.info()
	return ok
}

func (t Type) String() string {
	if info, ok := t.info(); ok {
		return info.Name
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Record is one entry of the log. Seq is assigned by Tx.Append; the other
// fields are the caller's.
type Record struct {
	Seq     uint64
	Type    Type
	TxID    ulid.ULID
	Attempt uint32
	Payload []byte
}

const (
	// formatVersion is the version of the records this version writes; a
	// reader reads formatV1 too.
	formatVersion = formatV2
	// formatV1 is the first layout: a fixed 30-byte header, headerSize.
	formatV1 = 1
	// formatV2 keeps v1's first 22 bytes, then the attempt as a uvarint
	// and the payload to the end of the value: no length field, since the
	// value's own length is the record's (bbolt keeps it, and the
	// checksum covers every byte).
	formatV2 = 2
	// headerSize is v1's: crc(4) version(1) type(1) txid(16) attempt(4)
	// length(4).
	headerSize = 4 + 1 + 1 + 16 + 4 + 4
	// fixedSize is the part common to both layouts: crc, version, type,
	// txid.
	fixedSize = 4 + 1 + 1 + 16
	// MaxPayload bounds a record's payload, so that a corrupt length can never
	// make a reader allocate without limit.
	MaxPayload = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeKey returns the records-bucket key of seq: big-endian, so that
// bbolt's byte order is sequence order.
func encodeKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}

// encode returns the records-bucket value of r, in the current layout. The
// checksum covers the key as well, so a record stored under the wrong
// sequence number is caught.
func encode(r Record) []byte {
	buf := make([]byte, fixedSize, fixedSize+binary.MaxVarintLen32+len(r.Payload))
	buf[4] = formatVersion
	buf[5] = byte(r.Type)
	copy(buf[6:22], r.TxID[:])
	buf = binary.AppendUvarint(buf, uint64(r.Attempt))
	buf = append(buf, r.Payload...)
	binary.BigEndian.PutUint32(buf[0:4], checksum(r.Seq, buf[4:]))
	return buf
}

func checksum(seq uint64, body []byte) uint32 {
	crc := crc32.Update(0, castagnoli, encodeKey(seq))
	return crc32.Update(crc, castagnoli, body)
}

// Decode parses a record stored under key, in either layout. It returns an
// error wrapping ErrCorrupt if the bytes are damaged in any way, and
// ErrUnknownType if they are intact but name a type this version does not
// know. The returned payload is a copy: it stays valid after the
// transaction ends.
func Decode(key, value []byte) (Record, error) {
	if len(key) != 8 {
		return Record{}, fmt.Errorf("%w: key is %d bytes, want 8", ErrCorrupt, len(key))
	}
	seq := binary.BigEndian.Uint64(key)
	f, err := parseFrame(seq, value)
	if err != nil {
		return Record{}, err
	}
	r := Record{Seq: seq, Type: f.typ, TxID: f.txID, Attempt: f.attempt, Payload: append([]byte(nil), f.payload...)}
	if !r.Type.Known() {
		return Record{}, fmt.Errorf("%w: seq %d: %v", ErrUnknownType, seq, r.Type)
	}
	return r, nil
}

// frame is a record's value taken apart, its payload still in the value.
type frame struct {
	typ     Type
	txID    ulid.ULID
	attempt uint32
	payload []byte
}

// parseFrame checks everything of a value but its type (size, checksum,
// version, length or attempt) and takes it apart.
func parseFrame(seq uint64, value []byte) (frame, error) {
	if len(value) < fixedSize+1 {
		return frame{}, fmt.Errorf("%w: seq %d: %d bytes is shorter than the header", ErrCorrupt, seq, len(value))
	}
	var f frame
	switch value[4] {
	case formatV1:
		if len(value) < headerSize {
			return frame{}, fmt.Errorf("%w: seq %d: %d bytes is shorter than the header", ErrCorrupt, seq, len(value))
		}
		n := binary.BigEndian.Uint32(value[26:30])
		if n > MaxPayload || int(n) != len(value)-headerSize {
			return frame{}, fmt.Errorf("%w: seq %d: payload length %d, have %d bytes", ErrCorrupt, seq, n, len(value)-headerSize)
		}
		f.attempt, f.payload = binary.BigEndian.Uint32(value[22:26]), value[headerSize:]
	case formatV2:
		a, n := binary.Uvarint(value[fixedSize:])
		if n <= 0 || a > math.MaxUint32 {
			return frame{}, fmt.Errorf("%w: seq %d: attempt is not a 32-bit varint", ErrCorrupt, seq)
		}
		f.attempt, f.payload = uint32(a), value[fixedSize+n:]
		if len(f.payload) > MaxPayload {
			return frame{}, fmt.Errorf("%w: seq %d: payload length %d exceeds %d", ErrCorrupt, seq, len(f.payload), MaxPayload)
		}
	}
	if want, got := binary.BigEndian.Uint32(value[0:4]), checksum(seq, value[4:]); want != got {
		return frame{}, fmt.Errorf("%w: seq %d: checksum %08x, want %08x", ErrCorrupt, seq, got, want)
	}
	if value[4] != formatV1 && value[4] != formatV2 {
		return frame{}, fmt.Errorf("%w: seq %d: format version %d", ErrCorrupt, seq, value[4])
	}
	f.typ = Type(value[5])
	copy(f.txID[:], value[6:22])
	return f, nil
}
