package users

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// The known banks are the gateway's directory of the banks its users'
// accounts may be at: every bank it has ever known to exist. Each is a
// BANK_KNOWN record and an entry of the known_banks bucket, written once,
// the first time the gateway learns of the bank; the gateway keeps the set
// in memory and decides what a bank never known means.

// KnownBanks returns the names in the known_banks bucket, in name order.
func (s *Store) KnownBanks() ([]string, error) {
	var names []string
	err := s.log.View(func(tx *wal.Tx) error {
		b := tx.ExistingBucket(KnownBanksBucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(name, _ []byte) error {
			names = append(names, string(name))
			return nil
		})
	})
	return names, err
}

// RecordKnownBanks returns the append that writes a BANK_KNOWN record,
// with time at, for each of names not in the known_banks bucket yet, for
// wal.Log.Append or AppendLater.
func RecordKnownBanks(names []string, at time.Time) func(*wal.Tx) error {
	return func(tx *wal.Tx) error {
		b, err := tx.Bucket(KnownBanksBucket)
		if err != nil {
			return err
		}
		for _, name := range names {
			if b.Get([]byte(name)) != nil {
				continue
			}
			err := putRecord(tx, TypeBankKnown, &storagev1.BankKnown{Name: name, TimeUnixNano: at.UnixNano()}, func(v []byte) error {
				return b.Put([]byte(name), v)
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// ForEachUser passes every stored user to fn, in name order.
func ForEachUser(tx *wal.Tx, fn func(*storagev1.UserState)) error {
	return forEach(tx, UsersBucket, &storagev1.UserState{}, fn)
}

// replayKnownBank folds a BANK_KNOWN record into a rebuilt known_banks
// bucket; the first record of a bank is the one kept, as RecordKnownBanks
// does.
func replayKnownBank(known map[string][]byte, r wal.Record) error {
	if r.Type != TypeBankKnown {
		return nil
	}
	b := &storagev1.BankKnown{}
	if err := proto.Unmarshal(r.Payload, b); err != nil {
		return fmt.Errorf("%w: record %d: %w", ErrInconsistent, r.Seq, err)
	}
	if _, ok := known[b.GetName()]; !ok {
		known[b.GetName()] = r.Payload
	}
	return nil
}
