package users

import (
	"fmt"
	"maps"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/internal/plumbing/auth"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// Track loads every user's credential version and lock and the deny list
// into r, prunes the deny list at now (Prune), and keeps r up to date from
// then on: each change of the store updates r once it is durable. Call it
// once, before serving.
func (s *Store) Track(r *auth.Revocations, now time.Time) error {
	err := s.log.View(func(tx *wal.Tx) error {
		if err := forEach(tx, UsersBucket, &storagev1.UserState{}, func(u *storagev1.UserState) {
			r.SetUser(u.GetUsername(), u.GetCredentialVersion(), u.GetLocked())
		}); err != nil {
			return err
		}
		return forEach(tx, RevokedBucket, &storagev1.TokenRevoked{}, func(t *storagev1.TokenRevoked) {
			r.Deny(t.GetTokenId(), time.Unix(0, t.GetExpiresUnixNano()))
		})
	})
	if err != nil {
		return err
	}
	s.creds = r
	return s.Prune(now)
}

// tracked passes the credentials of users, as stored, to the tracked
// Revocations.
func (s *Store) tracked(users ...*storagev1.UserState) {
	if s.creds == nil {
		return
	}
	for _, u := range users {
		s.creds.SetUser(u.GetUsername(), u.GetCredentialVersion(), u.GetLocked())
	}
}

// Revoke puts a token on the deny list until it expires: a TOKEN_REVOKED
// record and its revoked_tokens entry, with the entries expired at now
// pruned in the same transaction. Revoking a token twice changes nothing.
func (s *Store) Revoke(t auth.Token, now time.Time) error {
	entry := &storagev1.TokenRevoked{TokenId: t.ID, Username: t.User, ExpiresUnixNano: t.Expires.UnixNano(), TimeUnixNano: now.UnixNano()}
	err := s.log.Append(func(tx *wal.Tx) error {
		b, err := tx.Bucket(RevokedBucket)
		if err != nil || b.Get([]byte(t.ID)) != nil {
			return err
		}
		if err := putRecord(tx, TypeTokenRevoked, entry, func(v []byte) error { return b.Put([]byte(t.ID), v) }); err != nil {
			return err
		}
		return prune(tx, now)
	})
	if err == nil && s.creds != nil {
		s.creds.Deny(t.ID, t.Expires)
		s.creds.Prune(now)
	}
	return err
}

// Prune drops the deny list's entries of tokens expired at now, which
// their expiry refuses anyway: a TOKENS_PRUNED record, written only if
// there is something to drop.
func (s *Store) Prune(now time.Time) error {
	err := s.log.Append(func(tx *wal.Tx) error { return prune(tx, now) })
	if err == nil && s.creds != nil {
		s.creds.Prune(now)
	}
	return err
}

func prune(tx *wal.Tx, now time.Time) error {
	b := tx.ExistingBucket(RevokedBucket)
	if b == nil {
		return nil
	}
	entries := map[string][]byte{}
	if err := b.ForEach(func(k, v []byte) error { entries[string(k)] = v; return nil }); err != nil {
		return err
	}
	kept := maps.Clone(entries)
	if err := dropExpired(kept, now.UnixNano()); err != nil || len(kept) == len(entries) {
		return err
	}
	pruned := &storagev1.TokensPruned{ExpiredUnixNano: now.UnixNano(), TimeUnixNano: now.UnixNano()}
	return putRecord(tx, TypeTokensPruned, pruned, func([]byte) error {
		for id := range entries {
			if _, ok := kept[id]; !ok {
				if err := b.Delete([]byte(id)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// dropExpired deletes from a revoked_tokens map the entries whose token
// expires at or before expired (unix nanoseconds).
func dropExpired(revoked map[string][]byte, expired int64) error {
	for id, v := range revoked {
		t := &storagev1.TokenRevoked{}
		if err := proto.Unmarshal(v, t); err != nil {
			return fmt.Errorf("%w: revoked token %q: %w", ErrInconsistent, id, err)
		}
		if t.GetExpiresUnixNano() <= expired {
			delete(revoked, id)
		}
	}
	return nil
}

// Revoked returns the deny list as stored.
func (s *Store) Revoked() ([]*storagev1.TokenRevoked, error) {
	var out []*storagev1.TokenRevoked
	err := s.log.View(func(tx *wal.Tx) error {
		return forEach(tx, RevokedBucket, &storagev1.TokenRevoked{}, func(t *storagev1.TokenRevoked) { out = append(out, t) })
	})
	return out, err
}

// replayRevocation folds a TOKEN_REVOKED or TOKENS_PRUNED record into a
// rebuilt revoked_tokens bucket.
func replayRevocation(revoked map[string][]byte, r wal.Record) error {
	switch r.Type {
	case TypeTokenRevoked:
		t := &storagev1.TokenRevoked{}
		if err := proto.Unmarshal(r.Payload, t); err != nil {
			return fmt.Errorf("%w: record %d: %w", ErrInconsistent, r.Seq, err)
		}
		revoked[t.GetTokenId()] = r.Payload
	case TypeTokensPruned:
		p := &storagev1.TokensPruned{}
		if err := proto.Unmarshal(r.Payload, p); err != nil {
			return fmt.Errorf("%w: record %d: %w", ErrInconsistent, r.Seq, err)
		}
		return dropExpired(revoked, p.GetExpiredUnixNano())
	}
	return nil
}
