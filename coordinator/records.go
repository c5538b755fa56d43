package coordinator

import "github.com/strife-pay/strife/wal"

// The gateway's payment records, this package's part of the gateway's
// file (the users' part is package users). The numbers are part of the
// on-disk format. None is Indexed: the gateway finds a payment by its
// key in the payments bucket, never by looking its records up in the log,
// so its records cost no wal.index keys (files written before that choice
// have them, and they stay valid).
const (
	TypePaymentAccepted wal.Type = 32
	TypeAttemptBegun    wal.Type = 33
	TypeDecisionCommit  wal.Type = 34
	TypeDecisionAbort   wal.Type = 35
	TypeAttemptEnded    wal.Type = 36
	TypePaymentFinal    wal.Type = 37
	TypeAttemptStaged   wal.Type = 38
	// TypeEpochBegun numbers the attempts of a run (see Epoch); it belongs
	// to no payment.
	TypeEpochBegun wal.Type = 39
)

func init() {
	wal.RegisterTypes(map[wal.Type]wal.TypeInfo{
		TypePaymentAccepted: {Name: "PAYMENT_ACCEPTED", Transactional: true},
		TypeAttemptBegun:    {Name: "ATTEMPT_BEGUN", Transactional: true},
		TypeDecisionCommit:  {Name: "DECISION_COMMIT", Transactional: true},
		TypeDecisionAbort:   {Name: "DECISION_ABORT", Transactional: true},
		TypeAttemptEnded:    {Name: "ATTEMPT_ENDED", Transactional: true},
		TypePaymentFinal:    {Name: "PAYMENT_FINAL", Transactional: true},
		TypeAttemptStaged:   {Name: "ATTEMPT_STAGED", Transactional: true},
		TypeEpochBegun:      {Name: "EPOCH_BEGUN"},
	})
}
