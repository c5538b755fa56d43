package ledger_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// TestOldTextStillReplays: the free-text rule (package freetext) is checked
// on input, never on replay. A log written before it, with an owner and a
// memo the rule now refuses, opens, replays and verifies (newLedger's
// cleanup), and shows them as they were stored; an account under such an
// owner still takes payments and updates of its status.
func TestOldTextStillReplays(t *testing.T) {
	const oldOwner, oldMemo = "mallory\u202Eyrollam", "\x1b[31mrent\nfor March\x00"
	tl := newLedger(t)
	tl.open(t, "1001", "alice", 500)
	id := newID()
	require.NoError(t, tl.Update(func(tx *ledger.Tx) error {
		// What an older bank wrote: the event of OpenAccount without today's check.
		return tx.Emit(ledger.TypeAccountOpened, ulid.ULID{}, 0, &storagev1.AccountOpened{Number: "1002", Owner: oldOwner})
	}))
	require.NoError(t, tl.prepare(debit(id, "1001", 300), credit(id, "1002", 300)))
	require.NoError(t, tl.Update(func(tx *ledger.Tx) error {
		for _, h := range []ledger.Hold{debit(id, "1001", 300), credit(id, "1002", 300)} {
			if err := tx.SettleHold(h, oldMemo, "BankB/\u202E2001"); err != nil {
				return err
			}
		}
		return nil
	}))

	tl.reopen(t)
	require.NoError(t, tl.Verify())
	require.Equal(t, oldOwner, tl.account(t, "1002").Owner)
	require.NoError(t, tl.View(func(tx *ledger.Tx) error {
		entries, err := tx.Entries("1002", 0, 10)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, oldMemo, entries[0].Memo)
		return nil
	}))
	require.NoError(t, tl.Update(func(tx *ledger.Tx) error {
		_, err := tx.UpdateAccount("1002", "", strifev1.AccountStatus_ACCOUNT_STATUS_CLOSED)
		return err
	}), "an update that gives no new owner keeps the old one")
	require.Equal(t, oldOwner, tl.account(t, "1002").Owner)
}

// FuzzValidOwner holds ValidOwner to the owner rule stated on its own: 1 to
// MaxOwnerLen bytes of valid UTF-8 with no control character, format
// character other than the zero-width joiners, or line separator; what it
// refuses is ErrInvalid.
func FuzzValidOwner(f *testing.F) {
	for _, s := range []string{"alice", "Zoë Ω", "家賃", "👨\u200D👩", "", "bo\nb", "\x1b[31m", "x\u202E", "x\u0085", "\xff", "x\u2028", strings.Repeat("o", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, owner string) {
		want := len(owner) >= 1 && len(owner) <= ledger.MaxOwnerLen && utf8.ValidString(owner)
		for _, r := range owner {
			format := unicode.In(r, unicode.Cf) && r != 0x200C && r != 0x200D
			if unicode.IsControl(r) || format || r == 0x2028 || r == 0x2029 {
				want = false
			}
		}
		err := ledger.ValidOwner(owner)
		if want != (err == nil) {
			t.Fatalf("ValidOwner(%q) = %v, want ok=%v", owner, err, want)
		}
		if err != nil && !errors.Is(err, ledger.ErrInvalid) {
			t.Fatalf("ValidOwner(%q) = %v, not ErrInvalid", owner, err)
		}
	})
}
