package gatewayd

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// The answers of check, by what the gateway knows: a brand-new gateway
// whose etcd has not answered knows no bank at all and says so
// (UNAVAILABLE); once its view is complete, a bank never known is
// NOT_FOUND; a learned bank is known, and still is after the log is
// reopened.
func TestKnownBanksCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway-1.db")
	log, err := wal.Open(path, wal.Options{})
	require.NoError(t, err)
	k, err := loadKnownBanks(log, zerolog.Nop(), time.Now)
	require.NoError(t, err)
	etcdRead := make(chan struct{})
	k.complete = etcdRead

	err = k.check("BankA")
	require.ErrorIs(t, err, ErrBanksNotRead)
	require.EqualError(t, err, "this gateway knows no bank yet: etcd has not answered since it started; try again later")

	k.learn("BankA")
	require.NoError(t, k.check("BankA"))
	err = k.check("BankZ")
	require.ErrorIs(t, err, ErrBanksNotRead)
	require.EqualError(t, err, "bank BankZ is not known to this gateway yet: etcd has not answered since it started; try again later")

	close(etcdRead)
	err = k.check("BankZ")
	require.ErrorIs(t, err, ErrUnknownBank)
	require.False(t, errors.Is(err, ErrBanksNotRead))
	require.EqualError(t, err, "no bank named BankZ is known to this gateway")
	require.EqualError(t, k.check("BANKA"), "no bank named BANKA is known to this gateway (bank names are case-sensitive: did you mean BankA?)")

	require.NoError(t, log.Close()) // commits the learned bank
	log, err = wal.Open(path, wal.Options{})
	require.NoError(t, err)
	defer log.Close()
	k, err = loadKnownBanks(log, zerolog.Nop(), time.Now)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"BankA": true}, k.names)
	require.NoError(t, users.New(log).Verify(), "known_banks matches its records")
}
