package ledger

import (
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// A bank's file holds two kinds of records, and this package owns both:
// its ledger events, and the two-phase commit records the participant
// writes beside them (the ledger's holds are only valid while their
// attempt's last 2PC record is PREPARED, so Verify reads them). The numbers
// are part of the on-disk format.
const (
	// Two-phase commit records, written by participant.
	TypePrepared  wal.Type = 1
	TypeCommitted wal.Type = 2
	TypeAborted   wal.Type = 3

	// Ledger events, written together with the 2PC record they derive
	// from (if any). Only the 2PC records are Indexed: the participant
	// looks an attempt up by them; holds and postings have projections.
	TypeAccountOpened  wal.Type = 16
	TypeAccountUpdated wal.Type = 17
	TypeDeposited      wal.Type = 18
	TypeHoldPlaced     wal.Type = 19
	TypeHoldReleased   wal.Type = 20
	TypePosted         wal.Type = 21
	TypeSettled        wal.Type = 22
)

func init() {
	wal.RegisterTypes(map[wal.Type]wal.TypeInfo{
		TypePrepared:       {Name: "PREPARED", Transactional: true, Indexed: true},
		TypeCommitted:      {Name: "COMMITTED", Transactional: true, Indexed: true},
		TypeAborted:        {Name: "ABORTED", Transactional: true, Indexed: true},
		TypeAccountOpened:  {Name: "ACCOUNT_OPENED"},
		TypeAccountUpdated: {Name: "ACCOUNT_UPDATED"},
		TypeDeposited:      {Name: "DEPOSITED"},
		TypeHoldPlaced:     {Name: "HOLD_PLACED", Transactional: true},
		TypeHoldReleased:   {Name: "HOLD_RELEASED", Transactional: true},
		TypePosted:         {Name: "POSTED", Transactional: true},
		TypeSettled:        {Name: "SETTLED", Transactional: true},
	})
}

// NewPayload returns an empty payload message for a record of type t of a
// bank's file, to decode it into; nil for a type not this package's.
func NewPayload(t wal.Type) proto.Message {
	switch t {
	case TypePrepared:
		return &storagev1.Prepared{}
	case TypeCommitted:
		return &storagev1.Committed{}
	case TypeAborted:
		return &storagev1.Aborted{}
	case TypeAccountOpened:
		return &storagev1.AccountOpened{}
	case TypeAccountUpdated:
		return &storagev1.AccountUpdated{}
	case TypeDeposited:
		return &storagev1.Deposited{}
	case TypeHoldPlaced:
		return &storagev1.HoldPlaced{}
	case TypeHoldReleased:
		return &storagev1.HoldReleased{}
	case TypePosted:
		return &storagev1.Posted{}
	case TypeSettled:
		return &storagev1.Settled{}
	}
	return nil
}
