package users

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// The user store's records in the gateway's file (the payments' records are
// package coordinator's). The numbers are part of the on-disk format.
const (
	TypeUserRegistered wal.Type = 48
	TypeUserUpdated    wal.Type = 49
	TypeTokenRevoked   wal.Type = 50
	TypeTokensPruned   wal.Type = 51
	TypeBankKnown      wal.Type = 52
)

func init() {
	// None belongs to a transaction.
	wal.RegisterTypes(map[wal.Type]wal.TypeInfo{
		TypeUserRegistered: {Name: "USER_REGISTERED"},
		TypeUserUpdated:    {Name: "USER_UPDATED"},
		TypeTokenRevoked:   {Name: "TOKEN_REVOKED"},
		TypeTokensPruned:   {Name: "TOKENS_PRUNED"},
		TypeBankKnown:      {Name: "BANK_KNOWN"},
	})
}

// Projection buckets in the gateway's log file (see wal.Tx.Bucket):
//
//	users           username            -> UserState
//	account_owners  "<bank>/<number>"   -> username
//	revoked_tokens  token ID (jti)      -> TokenRevoked
//	known_banks     bank name           -> BankKnown (the first record that named it)
//
// Replay rebuilds all four from the records, and Verify compares them.
const (
	UsersBucket      = "users"
	OwnersBucket     = "account_owners"
	RevokedBucket    = "revoked_tokens"
	KnownBanksBucket = "known_banks"
)

// projectionBuckets are the user store's buckets, rebuilt from its records.
var projectionBuckets = []string{UsersBucket, OwnersBucket, RevokedBucket, KnownBanksBucket}

// Errors of the user store. The first four reach the gateway's callers,
// who read their text with the detail wrapped around it (the gateway maps
// them to gRPC codes), so they are written for people, without a package
// prefix.
var (
	// ErrInvalid: a user, account address or seed entry breaks the rules.
	ErrInvalid = errors.New("invalid request")
	// ErrUserExists: the username is taken.
	ErrUserExists = errors.New("user already exists")
	// ErrAccountTaken: the account belongs to another user.
	ErrAccountTaken = errors.New("account belongs to another user")
	// ErrNoUser: no user by that name, worded "no user named mallory".
	ErrNoUser = errors.New("no user")
	// ErrInconsistent: the projection disagrees with the log's records
	// (Verify), or a record cannot be replayed. Operators only.
	ErrInconsistent = errors.New("gatewayd: user store inconsistent with its log")
)

// noUser is ErrNoUser for name: "no user named mallory".
func noUser(name string) error {
	return fmt.Errorf("%w named %s", ErrNoUser, name)
}

// putRecord appends a record of type typ with payload m and then updates
// the projection with project, given the encoded payload.
func putRecord(tx *wal.Tx, typ wal.Type, m proto.Message, project func(v []byte) error) error {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := tx.Append(wal.Record{Type: typ, Payload: v}); err != nil {
		return err
	}
	return project(v)
}

// forEach decodes every value of a bucket into a fresh clone of m and
// passes it to fn.
func forEach[M proto.Message](tx *wal.Tx, bucket string, m M, fn func(M)) error {
	b := tx.ExistingBucket(bucket)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		out := proto.CloneOf(m)
		if err := proto.Unmarshal(v, out); err != nil {
			return fmt.Errorf("users: %s[%q]: %w", bucket, k, err)
		}
		fn(out)
		return nil
	})
}

// NewPayload returns an empty payload message for a record of type t of
// the user store, to decode it into; nil for a type not this package's.
func NewPayload(t wal.Type) proto.Message {
	switch t {
	case TypeUserRegistered, TypeUserUpdated:
		return &storagev1.UserState{}
	case TypeTokenRevoked:
		return &storagev1.TokenRevoked{}
	case TypeTokensPruned:
		return &storagev1.TokensPruned{}
	case TypeBankKnown:
		return &storagev1.BankKnown{}
	}
	return nil
}
