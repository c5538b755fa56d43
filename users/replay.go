package users

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// Verify rebuilds the projection from the log's user, token and known-bank
// records and compares it with the stored one: every user, owner entry,
// revoked token and known bank must match, with nothing missing and
// nothing extra. An error wraps
// ErrInconsistent (or the log's read error).
func (s *Store) Verify() error {
	return s.log.View(func(tx *wal.Tx) error {
		p, err := replayUsers(tx)
		if err != nil {
			return err
		}
		for _, name := range projectionBuckets {
			if err := compareBucket(tx, name, p[name]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Replay rebuilds the user store's buckets from its records alone, in one
// durable transaction; the records are not touched. A record that cannot
// be replayed stops it (ErrInconsistent) and the old buckets stay. The
// known banks of a log written before BANK_KNOWN records come out empty,
// and the gateway seeds them from the log at its next start.
func (s *Store) Replay() error {
	return s.log.Append(func(tx *wal.Tx) error {
		p, err := replayUsers(tx)
		if err != nil {
			return err
		}
		for _, name := range projectionBuckets {
			if err := rewriteBucket(tx, name, p[name]); err != nil {
				return err
			}
		}
		return nil
	})
}

// replayUsers rebuilds the contents of the user store's buckets, by
// bucket name, from the log's records.
func replayUsers(tx *wal.Tx) (map[string]map[string][]byte, error) {
	p := map[string]map[string][]byte{}
	for _, name := range projectionBuckets {
		p[name] = map[string][]byte{}
	}
	err := tx.Scan(1, func(r wal.Record) error {
		if err := replayUser(p[UsersBucket], p[OwnersBucket], r); err != nil {
			return err
		}
		if err := replayKnownBank(p[KnownBanksBucket], r); err != nil {
			return err
		}
		return replayRevocation(p[RevokedBucket], r)
	})
	return p, err
}

func rewriteBucket(tx *wal.Tx, name string, contents map[string][]byte) error {
	if err := tx.DeleteBucket(name); err != nil {
		return err
	}
	b, err := tx.Bucket(name)
	if err != nil {
		return err
	}
	for k, v := range contents {
		if err := b.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// replayUser folds one record into a rebuilt projection; records of other
// types are not the user store's.
func replayUser(users, owners map[string][]byte, r wal.Record) error {
	if r.Type != TypeUserRegistered && r.Type != TypeUserUpdated {
		return nil
	}
	u := &storagev1.UserState{}
	if err := proto.Unmarshal(r.Payload, u); err != nil {
		return fmt.Errorf("%w: record %d: %w", ErrInconsistent, r.Seq, err)
	}
	if _, exists := users[u.GetUsername()]; exists == (r.Type == TypeUserRegistered) {
		return fmt.Errorf("%w: record %d is %v for user %q", ErrInconsistent, r.Seq, r.Type, u.GetUsername())
	}
	users[u.GetUsername()] = r.Payload
	for _, a := range u.GetAccounts() {
		owners[a] = []byte(u.GetUsername())
	}
	return nil
}

func compareBucket(tx *wal.Tx, name string, want map[string][]byte) error {
	b, err := tx.Bucket(name)
	if err != nil {
		return err
	}
	n := 0
	if b != nil {
		n = b.Stats().KeyN
		for k, v := range want {
			if got := b.Get([]byte(k)); !bytes.Equal(got, v) {
				return fmt.Errorf("%w: %s[%q] is %q, the log says %q", ErrInconsistent, name, k, got, v)
			}
		}
	}
	if n != len(want) {
		return fmt.Errorf("%w: %s has %d keys, the log says %d", ErrInconsistent, name, n, len(want))
	}
	return nil
}
