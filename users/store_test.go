package users_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

func newUsers(t *testing.T) (*users.Store, *wal.Log) {
	log := openWAL(t, filepath.Join(t.TempDir(), "gateway.db"))
	t.Cleanup(func() { log.Close() })
	store := users.New(log)
	t.Cleanup(func() { require.NoError(t, store.Verify()) })
	return store, log
}

func user(name string, accounts ...string) *storagev1.UserState {
	u := &storagev1.UserState{Username: name, Role: strifev1.UserRole_USER_ROLE_CUSTOMER, PasswordHash: []byte("$2a$04$hash"), Accounts: accounts}
	if len(accounts) > 0 {
		u.DefaultAccount = accounts[0]
	}
	return u
}

func TestUsersRegisterRefusesTakenNamesAndAccounts(t *testing.T) {
	store, _ := newUsers(t)
	empty, err := store.Empty()
	require.NoError(t, err)
	require.True(t, empty)

	require.NoError(t, store.Register(user("alice", "BankA/1001")))
	require.ErrorIs(t, store.Register(user("alice", "BankA/1009")), users.ErrUserExists)
	require.ErrorIs(t, store.Register(user("bob", "BankA/1001")), users.ErrAccountTaken)
	require.ErrorIs(t, store.Register(user("carol"), user("carol")), users.ErrUserExists, "one transaction sees its own writes")
	_, err = store.Get("carol")
	require.ErrorIs(t, err, users.ErrNoUser, "a failed Register stores nothing")

	owner, err := store.Owner("BankA/1001")
	require.NoError(t, err)
	require.Equal(t, "alice", owner)
	owner, err = store.Owner("BankA/1009")
	require.NoError(t, err)
	require.Empty(t, owner)
}

func TestUsersRejectBrokenInvariants(t *testing.T) {
	store, _ := newUsers(t)
	cases := map[string]*storagev1.UserState{
		"bad name":            user("Alice", "BankA/1001"),
		"no role":             {Username: "x", PasswordHash: []byte("h")},
		"no password hash":    {Username: "x", Role: strifev1.UserRole_USER_ROLE_ADMIN},
		"malformed account":   user("x", "BankA-1001"),
		"account twice":       user("x", "BankA/1001", "BankA/1001"),
		"default not owned":   func() *storagev1.UserState { u := user("x", "BankA/1001"); u.DefaultAccount = "BankB/2001"; return u }(),
		"accounts no default": func() *storagev1.UserState { u := user("x", "BankA/1001"); u.DefaultAccount = ""; return u }(),
	}
	for name, u := range cases {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, store.Register(u), users.ErrInvalid)
		})
	}
}

func TestUsersUpdate(t *testing.T) {
	store, _ := newUsers(t)
	require.NoError(t, store.Register(user("alice", "BankA/1001"), user("bob", "BankB/2001")))

	u, err := store.Update("alice", func(u *storagev1.UserState) error {
		u.Accounts = append(u.Accounts, "BankA/1004")
		u.DefaultAccount = "BankA/1004"
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{"BankA/1001", "BankA/1004"}, u.GetAccounts())
	stored, err := store.Get("alice")
	require.NoError(t, err)
	require.True(t, proto.Equal(u, stored))

	_, err = store.Update("alice", func(u *storagev1.UserState) error { u.Accounts = append(u.Accounts, "BankB/2001"); return nil })
	require.ErrorIs(t, err, users.ErrAccountTaken)
	_, err = store.Update("alice", func(u *storagev1.UserState) error { u.Username = "alicia"; return nil })
	require.ErrorIs(t, err, users.ErrInvalid)
	_, err = store.Update("nobody", func(*storagev1.UserState) error { return nil })
	require.ErrorIs(t, err, users.ErrNoUser)
}

func TestUsersVerifyCatchesARecordWithoutItsProjection(t *testing.T) {
	store, log := newUsers(t)
	require.NoError(t, store.Register(user("alice", "BankA/1001")))
	require.NoError(t, store.Verify())

	payload, err := proto.Marshal(user("mallory", "BankA/1003"))
	require.NoError(t, err)
	require.NoError(t, log.Append(func(tx *wal.Tx) error {
		_, err := tx.Append(wal.Record{Type: users.TypeUserRegistered, Payload: payload})
		return err
	}))
	require.ErrorIs(t, store.Verify(), users.ErrInconsistent)

	// Replay puts the projection right (the cleanup checks it again).
	require.NoError(t, store.Replay())
	require.NoError(t, store.Verify())
	owner, err := store.Owner("BankA/1003")
	require.NoError(t, err)
	require.Equal(t, "mallory", owner)
}

// A record that cannot be replayed stops Replay, and the old buckets stay.
func TestUsersReplayRefusesABadRecordAndKeepsTheProjection(t *testing.T) {
	log := openWAL(t, filepath.Join(t.TempDir(), "gateway.db"))
	t.Cleanup(func() { log.Close() })
	store := users.New(log)
	require.NoError(t, store.Register(user("alice", "BankA/1001")))
	payload, err := proto.Marshal(user("nobody", "BankA/1003"))
	require.NoError(t, err)
	require.NoError(t, log.Append(func(tx *wal.Tx) error {
		_, err := tx.Append(wal.Record{Type: users.TypeUserUpdated, Payload: payload}) // of a user never registered
		return err
	}))

	require.ErrorIs(t, store.Replay(), users.ErrInconsistent)
	u, err := store.Get("alice")
	require.NoError(t, err)
	require.Equal(t, []string{"BankA/1001"}, u.GetAccounts())
	owner, err := store.Owner("BankA/1001")
	require.NoError(t, err)
	require.Equal(t, "alice", owner)
}

func TestValidUsername(t *testing.T) {
	for _, ok := range []string{"a", "alice", "0day", "a.b-c_d", strings.Repeat("x", 32)} {
		require.NoError(t, users.ValidUsername(ok), ok)
	}
	for _, bad := range []string{"", "Alice", ".alice", "-a", "_a", "al ice", "al/ice", "älice", strings.Repeat("x", 33)} {
		require.ErrorIs(t, users.ValidUsername(bad), users.ErrInvalid, bad)
	}
}

// FuzzValidUsername: whatever is accepted is 1-32 bytes of [a-z0-9._-],
// starting with a letter or digit.
func FuzzValidUsername(f *testing.F) {
	for _, s := range []string{"alice", "", "A", "a\x00", ".x", strings.Repeat("z", 33)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if users.ValidUsername(s) != nil {
			return
		}
		require.True(t, len(s) >= 1 && len(s) <= users.MaxUsernameLen)
		require.Empty(t, strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789._-"))
		require.NotContains(t, "._-", s[:1])
	})
}

func openWAL(t *testing.T, path string) *wal.Log {
	log, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	return log
}
