package ledger

import (
	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	"github.com/strife-pay/strife/wal"
)

// SettleHoldAsBefore settles a hold as ledgers did before SETTLED existed:
// HOLD_RELEASED, then POSTED. Tests use it to write the logs of old data
// directories, which must still replay and verify.
func (tx *Tx) SettleHoldAsBefore(h Hold, memo, counterparty string) error {
	if err := tx.ReleaseHold(h); err != nil {
		return err
	}
	a, err := tx.Account(h.Number)
	if err != nil {
		return err
	}
	amount := settledAmount(&storagev1.Settled{Direction: h.Direction, Amount: h.Amount})
	return tx.emit(TypePosted, h.TxID, h.Attempt, &storagev1.Posted{
		Number: h.Number, Amount: amount, BalanceAfter: a.Balance + amount,
		Memo: memo, Counterparty: counterparty, TimeUnixNano: tx.now,
	})
}

// Emit appends an event as the ledger's operations do, without their
// checks, so that tests can offer apply events the operations never emit.
func (tx *Tx) Emit(typ wal.Type, id ulid.ULID, attempt uint32, event proto.Message) error {
	return tx.emit(typ, id, attempt, event)
}
