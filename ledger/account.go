package ledger

import (
	"fmt"
	"regexp"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/strife-pay/strife/internal/plumbing/freetext"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// Direction is the way a hold or a leg moves money.
type Direction = strifev1.Direction

// Directions of a hold or a leg.
const (
	Debit  = strifev1.Direction_DIRECTION_DEBIT
	Credit = strifev1.Direction_DIRECTION_CREDIT
)

// Account statuses.
const (
	Open   = strifev1.AccountStatus_ACCOUNT_STATUS_OPEN
	Closed = strifev1.AccountStatus_ACCOUNT_STATUS_CLOSED
)

// Limits on what callers may store.
const (
	MaxNumberLen = 34 // the length of the longest IBAN
	MaxOwnerLen  = 64
)

var numberPattern = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// ValidNumber checks an account number: 1 to MaxNumberLen letters, digits
// and dashes.
func ValidNumber(number string) error {
	if len(number) == 0 || len(number) > MaxNumberLen || !numberPattern.MatchString(number) {
		return fmt.Errorf("%w: account number %q must be 1-%d letters, digits or dashes", ErrInvalid, number, MaxNumberLen)
	}
	return nil
}

// ValidOwner checks an owner name: 1 to MaxOwnerLen bytes of free text
// (package freetext: valid UTF-8, no control, format or separator
// characters). It is checked when an owner is given, never on replay: an
// owner stored under an older rule stays as it is.
func ValidOwner(owner string) error {
	if owner == "" {
		return fmt.Errorf("%w: owner must be 1-%d bytes", ErrInvalid, MaxOwnerLen)
	}
	if err := freetext.Check("owner", owner, MaxOwnerLen); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// Account is an account as the projection holds it.
type Account struct {
	Number   string
	Owner    string
	Status   strifev1.AccountStatus
	Balance  int64 // posted balance
	Held     int64 // debit holds
	Pending  int64 // credit holds: incoming, not yet spendable
	OpenedAt time.Time
}

// Available is what the account can spend now.
func (a Account) Available() int64 { return a.Balance - a.Held }

func accountFrom(s *storagev1.AccountState) Account {
	return Account{
		Number:   s.Number,
		Owner:    s.Owner,
		Status:   s.Status,
		Balance:  s.Balance,
		Held:     s.Held,
		Pending:  s.PendingCredits,
		OpenedAt: unixNano(s.OpenedUnixNano),
	}
}

// Hold is money reserved for one leg of a prepared attempt.
type Hold struct {
	TxID      ulid.ULID
	Attempt   uint32
	Number    string
	Direction strifev1.Direction
	Amount    int64
}

// Entry is one posted change of a balance: a deposit or a committed leg.
type Entry struct {
	Seq          uint64
	Number       string
	Kind         strifev1.EntryKind
	Amount       int64 // signed
	BalanceAfter int64
	TxID         ulid.ULID // zero for deposits
	Attempt      uint32
	Memo         string
	Counterparty string
	Time         time.Time
}
