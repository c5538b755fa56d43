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
//	open            txid (16)                                    -> PaymentState
//	payments        txid (16)                                    -> PaymentState
//	user_payments   user | 0x00 | created (int64 BE) | txid (16) -> empty
//	coordinator     "epoch"                                      -> uint32 BE
//
// A payment's state is in open while a restart must resume it (see
// isOpen): it is not final, or it is final but its last attempt's
// ATTEMPT_ENDED is not written yet, that is its decision may not have
// reached every bank (an undelivered decision is open by the same rule).
// Once it is finished its state moves to payments, in the same
// transaction, and never changes again. So recover reads open only,
// however many finished payments the file holds; and payments takes each
// payment once, in roughly the order of its ID (a ULID begins with its
// time), into pages that are filled and never written again, where a
// state rewritten at every step of the payment (as before issue 17) split
// its pages again and again and left them a quarter to a half empty.
//
// A payment is indexed under its payer and its payee, so a user's history
// is one key range, oldest first. The epoch is that of the last
// EPOCH_BEGUN record.
//
// Files written before issue 17 keep every payment's state in payments
// and have no open bucket. The bucket's existence tells them apart: the
// first payment stored creates it, so a file with payments and no open
// bucket predates it, and New moves its open payments there once
// (migrateOpen). An empty open bucket is never rebuilt, and a file without
// any payment needs nothing.
const (
	PaymentsBucket     = "payments"
	UserPaymentsBucket = "user_payments"
	CoordinatorBucket  = "coordinator"
	OpenBucket         = "open"
)

var epochKey = []byte("epoch")

// paymentsFill is how full bbolt fills payments' pages when it splits
// them. A payment's state is put there once, when it is finished, and never
// rewritten; its key, a ULID, begins with its time, so it lands at or near
// the end of the bucket, and pages left behind are rarely written again.
// Payments finish a little out of order (dozens are in flight), so a split
// leaves a tenth of the page for those that finish late, rather than
// filling it and splitting it again for the first one (measured with
// strife-inspect stats: 83-85% full with 0.9 or 1.0 alike, against 71-96%
// when every step of a payment rewrote its state here). bbolt does not
// keep the setting: putPayment sets it in every transaction.
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
	} else if anyPayment(tx) {
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

// putPayment stores p's state: in open while it is open, in payments once
// it is finished (and out of open). Every write of a payment's projection
// goes through here.
func putPayment(tx *wal.Tx, p Payment) error {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(p.State())
	if err != nil {
		return err
	}
	open, err := tx.Bucket(OpenBucket)
	if err != nil {
		return err
	}
	if isOpen(p) {
		return open.Put(p.ID[:], v)
	}
	if err := open.Delete(p.ID[:]); err != nil { // nothing to write if it was not there
		return err
	}
	b, err := tx.Bucket(PaymentsBucket)
	if err != nil {
		return err
	}
	b.FillPercent = paymentsFill
	return b.Put(p.ID[:], v)
}

// isOpen reports whether a restart must resume p: it is not final, or its
// last attempt is not ended (a decision not acknowledged by every bank, or
// an attempt not decided yet). A final payment that never had an attempt
// (it failed before one) has nothing left to do.
func isOpen(p Payment) bool {
	return !p.Final() || (p.Attempt != 0 && !p.Ended)
}

// anyPayment reports whether tx's file holds a payment.
func anyPayment(tx *wal.Tx) bool {
	for _, name := range []string{OpenBucket, PaymentsBucket} {
		if b := tx.ExistingBucket(name); b != nil {
			if k, _ := b.Cursor().First(); k != nil {
				return true
			}
		}
	}
	return false
}

// lacksOpenBucket reports whether tx's file holds payments but no open
// bucket: it was written before the bucket existed, with every payment's
// state in payments.
func lacksOpenBucket(tx *wal.Tx) bool {
	return tx.ExistingBucket(OpenBucket) == nil && anyPayment(tx)
}

// migrateOpen moves the open payments' states from payments to open, in
// tx, if the file lacks the open bucket (lacksOpenBucket), and returns how
// many it moved.
func migrateOpen(tx *wal.Tx) (open int, err error) {
	if !lacksOpenBucket(tx) {
		return 0, nil
	}
	openB, err := tx.Bucket(OpenBucket)
	if err != nil {
		return 0, err
	}
	payments := tx.ExistingBucket(PaymentsBucket)
	var moved [][]byte
	err = payments.ForEach(func(k, v []byte) error {
		var id ulid.ULID
		copy(id[:], k)
		p, err := decodePayment(id, v)
		if err != nil || !isOpen(p) {
			return err
		}
		moved = append(moved, k)
		return openB.Put(k, v)
	})
	for _, k := range moved {
		if err == nil {
			err = payments.Delete(k)
		}
	}
	return len(moved), err
}

// openPayments reads the open payments, in ID order. A key that is not a
// transaction ID, or a payment that is not open, is passed to stray and
// skipped: recover resumes what it can, and Verify reports it. A state
// that does not decode is an error.
func openPayments(tx *wal.Tx, stray func(key []byte, why string)) ([]Payment, error) {
	openB := tx.ExistingBucket(OpenBucket)
	if openB == nil {
		return nil, nil
	}
	var open []Payment
	err := openB.ForEach(func(k, v []byte) error {
		var id ulid.ULID
		if len(k) != len(id) {
			stray(k, "not a transaction ID")
			return nil
		}
		copy(id[:], k)
		p, err := decodePayment(id, v)
		switch {
		case err != nil:
			return err // damaged: strife-recover check --repair rebuilds it
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
	for _, name := range []string{OpenBucket, PaymentsBucket} {
		b := tx.ExistingBucket(name)
		if b == nil {
			continue
		}
		if v := b.Get(id[:]); v != nil {
			p, err := decodePayment(id, v)
			return p, err == nil, err
		}
	}
	return Payment{}, false, nil
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
