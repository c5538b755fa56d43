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
//
// A payment is indexed under its payer and its payee, so a user's history
// is one key range, oldest first.
const (
	paymentsBucket     = "payments"
	userPaymentsBucket = "user_payments"
)

// recordPayloads makes the payload of each record type, for decoding.
var recordPayloads = map[wal.Type]func() proto.Message{
	wal.TypePaymentAccepted: func() proto.Message { return &storagev1.PaymentAccepted{} },
	wal.TypeAttemptBegun:    func() proto.Message { return &storagev1.AttemptBegun{} },
	wal.TypeDecisionCommit:  func() proto.Message { return &storagev1.Decided{} },
	wal.TypeDecisionAbort:   func() proto.Message { return &storagev1.Decided{} },
	wal.TypeAttemptEnded:    func() proto.Message { return &storagev1.AttemptEnded{} },
	wal.TypePaymentFinal:    func() proto.Message { return &storagev1.PaymentFinal{} },
}

// persistIn appends a step's records for p in tx and stores the payment
// they make. It returns that payment.
func persistIn(tx *wal.Tx, p Payment, recs []Record, now time.Time) (Payment, error) {
	next, err := p.Apply(recs, now)
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

func putPayment(tx *wal.Tx, p Payment) error {
	b, err := tx.Bucket(paymentsBucket)
	if err != nil {
		return err
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(p.state())
	if err != nil {
		return err
	}
	return b.Put(p.ID[:], v)
}

// getPayment returns the stored payment, or false.
func getPayment(tx *wal.Tx, id ulid.ULID) (Payment, bool, error) {
	b, err := tx.Bucket(paymentsBucket)
	if err != nil || b == nil {
		return Payment{}, false, err
	}
	v := b.Get(id[:])
	if v == nil {
		return Payment{}, false, nil
	}
	s := &storagev1.PaymentState{}
	if err := proto.Unmarshal(v, s); err != nil {
		return Payment{}, false, fmt.Errorf("coordinator: payment %s: %w", id, err)
	}
	return paymentFrom(id, s), true, nil
}

func indexPayment(tx *wal.Tx, p Payment) error {
	b, err := tx.Bucket(userPaymentsBucket)
	if err != nil {
		return err
	}
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

// RebuildIndex rewrites the user_payments index from the payments bucket,
// for an operator repairing a gateway's file (see strife-recover).
func RebuildIndex(tx *wal.Tx) error {
	if err := tx.DeleteBucket(userPaymentsBucket); err != nil {
		return err
	}
	b, err := tx.Bucket(paymentsBucket)
	if err != nil || b == nil {
		return err
	}
	return b.ForEach(func(k, _ []byte) error {
		var id ulid.ULID
		copy(id[:], k)
		p, _, err := getPayment(tx, id)
		if err != nil {
			return err
		}
		return indexPayment(tx, p)
	})
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
	b, err := tx.Bucket(userPaymentsBucket)
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
