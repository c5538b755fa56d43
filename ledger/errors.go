package ledger

import "errors"

// Business errors: the request was well formed but the ledger's state does
// not allow it. The participant turns the first three into NO votes.
var (
	ErrAccountNotFound   = errors.New("ledger: account not found")
	ErrAccountClosed     = errors.New("ledger: account closed")
	ErrInsufficientFunds = errors.New("ledger: insufficient funds")
	// ErrBalanceOverflow: the credit would take the balance past MaxInt64.
	ErrBalanceOverflow = errors.New("ledger: balance would overflow")
	// ErrAccountExists: an account with that number has another owner.
	ErrAccountExists = errors.New("ledger: account exists with another owner")
	// ErrAccountBusy: the account has holds, so it cannot be closed.
	ErrAccountBusy = errors.New("ledger: account has undecided payments")
)

// ErrInvalid marks a malformed argument: a bad account number or owner, an
// amount that is not positive.
var ErrInvalid = errors.New("ledger: invalid argument")

// ErrInconsistent means the log and the projection disagree, or a record in
// the log cannot have been written by a correct ledger. It is never a
// caller's fault.
var ErrInconsistent = errors.New("ledger: inconsistent")
