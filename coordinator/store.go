package coordinator

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// Projection buckets in the gateway's log file (see wal.Tx.Bucket):
//
//	payments        txid (16)                                    -> PaymentState
//	user_payments   user | 0x00 | created (int64 BE) | txid (16) -> empty
//	coordinator     "epoch"                                      -> uint32 BE
//	open            txid (16)                                    -> empty
//
// A payment is indexed under its payer and its payee, so a user's history
// is one key range, oldest first. The epoch is that of the last
// EPOCH_BEGUN record.
//
// open names exactly the payments a restart must resume (see isOpen): those
// not final, and those final whose last attempt's ATTEMPT_ENDED is not
// written yet, that is whose decision may not have reached every bank (an
// undelivered decision is open by the same rule, so one bucket covers
// both). putPayment keeps it in step with payments, in the same
// transaction, so recover reads the open payments only, however many
// finished ones the file holds. Its existence is also a marker: the first
// payment stored creates it, so a file with payments and no open bucket
// was written before it existed, and New builds it once from the payments
// (migrateOpen). An empty open bucket is never rebuilt, and a file without
// any payment needs no index.
const (
	PaymentsBucket     = "payments"
	UserPaymentsBucket = "user_payments"
	CoordinatorBucket  = "coordinator"
	OpenBucket         = "open"
)

var epochKey = []byte("epoch")

// paymentsFill is how full bbolt fills payments' pages when it splits
// them, instead of half. Payment IDs are ULIDs, which begin with their time,
// so a new payment's key lands at or near the end of the bucket, and the
// later writes of a payment rewrite its value near the end too: pages left
// behind are rarely written again, so half of each would stay empty
// (measured with strife-inspect stats: 54% full by default, 87% with 0.9).
// bbolt does not keep the setting: putPayment sets it in every transaction.
const paymentsFill = 0.9

// userPaymentsFill is the fill percent of user_payments' pages. Each user's
// keys grow (they begin with the user and the time), so each user's range
// is appended to at its end, and a page split there is rarely written
// again, but the ranges of many users share pages: 0.9 leaves room for a
// neighbour's next key (measured with strife-inspect stats: 51% full by
// default, 76% with 0.9).
const userPaymentsFill = 0.9

// beginEpoch appends EPOCH_BEGUN for the epoch after the last one recorded,
// and returns it. A log with no epoch yet takes 0 if it holds no payment,
// and 1 if it does: its attempts were numbered 1, 2, … as epoch 0 numbers
// them.
func beginEpoch(tx *wal.Tx, now time.Time) (uint32, error) {
	var epoch uint32
	if last, ok := Epoch(tx); ok {
		epoch = last + 1
	} else if payments, err := tx.Bucket(PaymentsBucket); err != nil {
		return 0, err
	} else if k, _ := payments.Cursor().First(); k != nil {
		epoch = 1
	}
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(&storagev1.EpochBegun{Epoch: epoch, TimeUnixNano: now.UnixNano()})
	if err != nil {
		return 0, err
	}
	if _, err := tx.Append(wal.Record{Type: TypeEpochBegun, Payload: payload}); err != nil {
		return 0, err
	}
	return epoch, putEpoch(tx, epoch)
}

func putEpoch(tx *wal.Tx, epoch uint32) error {
	b, err := tx.Bucket(CoordinatorBucket)
	if err != nil {
		return err
	}
	return b.Put(epochKey, binary.BigEndian.AppendUint32(nil, epoch))
}

// Epoch returns the epoch recorded in tx, and false if there is none.
func Epoch(tx *wal.Tx) (uint32, bool) {
	b, err := tx.Bucket(CoordinatorBucket)
	if err != nil || b == nil {
		return 0, false
	}
	v := b.Get(epochKey)
	if len(v) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// payloads makes the payload message of each payment record type.
var payloads = map[wal.Type]func() proto.Message{
	TypePaymentAccepted: func() proto.Message { return &storagev1.PaymentAccepted{} },
	TypeAttemptBegun:    func() proto.Message { return &storagev1.AttemptBegun{} },
	TypeAttemptStaged:   func() proto.Message { return &storagev1.AttemptStaged{} },
	TypeDecisionCommit:  func() proto.Message { return &storagev1.Decided{} },
	TypeDecisionAbort:   func() proto.Message { return &storagev1.Decided{} },
	TypeAttemptEnded:    func() proto.Message { return &storagev1.AttemptEnded{} },
	TypePaymentFinal:    func() proto.Message { return &storagev1.PaymentFinal{} },
}

// NewPayload returns an empty payload message for a record of type t of
// the gateway's payments (EPOCH_BEGUN included), to decode it into; nil for
// a type not this package's.
func NewPayload(t wal.Type) proto.Message {
	if t == TypeEpochBegun {
		return &storagev1.EpochBegun{}
	}
	if mk, ok := payloads[t]; ok {
		return mk()
	}
	return nil
}

// DecodeRecord turns a log record into the Record of a payment, for folding
// with Payment.Apply. ok is false for records that are not a payment's (the
// users', for example).
func DecodeRecord(r wal.Record) (rec Record, ok bool, err error) {
	mk, ok := payloads[r.Type]
	if !ok {
		return Record{}, false, nil
	}
	m := mk()
	if err := proto.Unmarshal(r.Payload, m); err != nil {
		return Record{}, true, fmt.Errorf("%w: record %d: %w", wal.ErrCorrupt, r.Seq, err)
	}
	return Record{Type: r.Type, Attempt: r.Attempt, Payload: m}, true, nil
}

// Replay rebuilds the projection (the payments, user_payments, open and
// coordinator buckets) from the log alone, in one durable transaction, as
// ledger.Replay does for a bank. A record that cannot be folded stops it,
// and the old projection stays.
func Replay(log *wal.Log) error {
	return log.Append(func(tx *wal.Tx) error {
		for _, name := range []string{PaymentsBucket, UserPaymentsBucket, CoordinatorBucket, OpenBucket} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		payments := map[ulid.ULID]Payment{}
		err := ScanLog(tx, func(e uint32) error { return putEpoch(tx, e) }, func(r wal.Record, rec Record) error {
			p, seen := payments[r.TxID]
			if !seen {
				p.ID = r.TxID
			}
			var err error
			payments[r.TxID], err = p.Apply([]Record{rec})
			return err
		})
		if err != nil {
			return err
		}
		for _, p := range payments {
			if err := putPayment(tx, p); err != nil {
				return err
			}
			if err := indexPayment(tx, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// ScanLog reads the gateway's log in tx from its first record, in order,
// and calls epoch with the epoch of each EPOCH_BEGUN and payment with each
// payment record, decoded; other records are skipped. An error of either
// stops it and is returned.
func ScanLog(tx *wal.Tx, epoch func(uint32) error, payment func(wal.Record, Record) error) error {
	return tx.Scan(1, func(r wal.Record) error {
		if r.Type == TypeEpochBegun {
			e, err := DecodeEpoch(r)
			if err != nil {
				return err
			}
			return epoch(e)
		}
		rec, ok, err := DecodeRecord(r)
		if err != nil || !ok {
			return err
		}
		return payment(r, rec)
	})
}

// DecodeEpoch returns the epoch an EPOCH_BEGUN record begins.
func DecodeEpoch(r wal.Record) (uint32, error) {
	e := &storagev1.EpochBegun{}
	if err := proto.Unmarshal(r.Payload, e); err != nil {
		return 0, fmt.Errorf("%w: record %d: %w", wal.ErrCorrupt, r.Seq, err)
	}
	return e.Epoch, nil
}

// persistIn appends a step's records for p in tx and stores the payment
// they make. It returns that payment.
func persistIn(tx *wal.Tx, p Payment, recs []Record) (Payment, error) {
	next, err := p.Apply(recs)
	if err != nil {
		return p, err
	}
	for _, r := range recs {
		payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(r.Payload)
		if err != nil {
			return p, err
		}
		if _, err := tx.Append(wal.Record{Type: r.Type, TxID: p.ID, Attempt: r.Attempt, Payload: payload}); err != nil {
			return p, err
		}
	}
	if err := putPayment(tx, next); err != nil {
		return p, err
	}
	if p.Created.IsZero() { // just accepted
		return next, indexPayment(tx, next)
	}
	return next, nil
}

// putPayment stores p, and keeps the open index in step with it: every
// write of a payment's projection goes through here.
func putPayment(tx *wal.Tx, p Payment) error {
	b, err := tx.Bucket(PaymentsBucket)
	if err != nil {
		return err
	}
	b.FillPercent = paymentsFill
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(p.State())
	if err != nil {
		return err
	}
	if err := b.Put(p.ID[:], v); err != nil {
		return err
	}
	open, err := tx.Bucket(OpenBucket)
	if err != nil {
		return err
	}
	switch {
	case !isOpen(p):
		return open.Delete(p.ID[:]) // nothing to write if it was not there
	case open.Get(p.ID[:]) == nil: // a Put would rewrite the page even if it was
		return open.Put(p.ID[:], nil)
	}
	return nil
}

// isOpen reports whether a restart must resume p: it is not final, or its
// last attempt is not ended (a decision not acknowledged by every bank, or
// an attempt not decided yet). A final payment that never had an attempt
// (it failed before one) has nothing left to do.
func isOpen(p Payment) bool {
	return !p.Final() || (p.Attempt != 0 && !p.Ended)
}

// lacksOpenIndex reports whether tx's file holds payments but no open
// index: it was written before the index existed.
func lacksOpenIndex(tx *wal.Tx) bool {
	if tx.ExistingBucket(OpenBucket) != nil {
		return false
	}
	payments := tx.ExistingBucket(PaymentsBucket)
	if payments == nil {
		return false
	}
	k, _ := payments.Cursor().First()
	return k != nil
}

// migrateOpen builds the open index from the payments bucket, in tx, if
// the file lacks it (lacksOpenIndex), and returns how many payments it
// found open.
func migrateOpen(tx *wal.Tx) (open int, err error) {
	if !lacksOpenIndex(tx) {
		return 0, nil
	}
	idx, err := tx.Bucket(OpenBucket)
	if err != nil {
		return 0, err
	}
	err = tx.ExistingBucket(PaymentsBucket).ForEach(func(k, v []byte) error {
		var id ulid.ULID
		copy(id[:], k)
		p, err := decodePayment(id, v)
		if err != nil || !isOpen(p) {
			return err
		}
		open++
		return idx.Put(k, nil)
	})
	return open, err
}

// openPayments reads the payments the open index names, in ID order. A key
// that names no stored payment, or one that is not open, is passed to
// stray and skipped: recover resumes what it can, and Verify reports it.
func openPayments(tx *wal.Tx, stray func(key []byte, why string)) ([]Payment, error) {
	idx := tx.ExistingBucket(OpenBucket)
	if idx == nil {
		return nil, nil
	}
	var open []Payment
	err := idx.ForEach(func(k, _ []byte) error {
		var id ulid.ULID
		if len(k) != len(id) {
			stray(k, "not a transaction ID")
			return nil
		}
		copy(id[:], k)
		p, ok, err := getPayment(tx, id)
		switch {
		case err != nil:
			return err
		case !ok:
			stray(k, "no such payment")
		case !isOpen(p):
			stray(k, "the payment is finished")
		default:
			open = append(open, p)
		}
		return nil
	})
	return open, err
}

// getPayment returns the stored payment, or false.
func getPayment(tx *wal.Tx, id ulid.ULID) (Payment, bool, error) {
	b, err := tx.Bucket(PaymentsBucket)
	if err != nil || b == nil {
		return Payment{}, false, err
	}
	v := b.Get(id[:])
	if v == nil {
		return Payment{}, false, nil
	}
	p, err := decodePayment(id, v)
	return p, err == nil, err
}

// decodePayment decodes a value of the payments bucket.
func decodePayment(id ulid.ULID, v []byte) (Payment, error) {
	s := &storagev1.PaymentState{}
	if err := proto.Unmarshal(v, s); err != nil {
		return Payment{}, fmt.Errorf("coordinator: payment %s: %w", id, err)
	}
	return paymentFrom(id, s), nil
}

func indexPayment(tx *wal.Tx, p Payment) error {
	b, err := tx.Bucket(UserPaymentsBucket)
	if err != nil {
		return err
	}
	b.FillPercent = userPaymentsFill
	for _, user := range []string{p.Params.Payer, p.Params.Payee} {
		if user == "" {
			continue
		}
		if err := b.Put(userPaymentKey(user, p.Created, p.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

func userPaymentKey(user string, created time.Time, id ulid.ULID) []byte {
	k := append([]byte(user), 0)
	k = binary.BigEndian.AppendUint64(k, uint64(created.UnixNano()))
	return append(k, id[:]...)
}

// listPayments returns up to limit of a user's payments, newest first,
// starting below the index key after (empty: from the newest), and the key
// to pass as after for the next page: that of the last payment returned, or
// empty on the last page.
func listPayments(tx *wal.Tx, user string, after []byte, limit int) ([]Payment, []byte, error) {
	b, err := tx.Bucket(UserPaymentsBucket)
	if err != nil || b == nil {
		return nil, nil, err
	}
	prefix := append([]byte(user), 0)
	c := b.Cursor()
	var k []byte
	if len(after) == 0 {
		k = seekLast(c, prefix)
	} else {
		c.Seek(after)
		k, _ = c.Prev()
	}
	var out []Payment
	var last []byte
	for ; bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Prev() {
		var id ulid.ULID
		copy(id[:], k[len(k)-16:])
		p, ok, err := getPayment(tx, id)
		if err != nil || !ok {
			return nil, nil, fmt.Errorf("coordinator: index names payment %s that is not stored (%v)", id, err)
		}
		out, last = append(out, p), bytes.Clone(k)
	}
	if !bytes.HasPrefix(k, prefix) {
		return out, nil, nil
	}
	return out, last, nil
}

// seekLast positions c on the last key with prefix (or wherever the range
// would be, if it is empty) and returns it.
func seekLast(c *bolt.Cursor, prefix []byte) []byte {
	end := append(bytes.Clone(prefix[:len(prefix)-1]), 1) // the first key after the range
	if k, _ := c.Seek(end); k != nil {
		k, _ = c.Prev()
		return k
	}
	k, _ := c.Last()
	return k
}
