package gatewayd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// requireNothingFor checks that a refused payment left nothing behind: no
// payment at the gateway, no record under its ID in the gateway's log
// (read once the gateway has stopped), no hold at any bank.
func requireNothingFor(t *testing.T, e *env, s *session, id ulid.ULID) {
	t.Helper()
	_, err := s.GetPayment(s.ctx, &strifev1.GetPaymentRequest{TransactionId: id.String()})
	requireCode(t, codes.NotFound, err, "no payment stored")
	_, held := e.total(t)
	require.Zero(t, held, "nothing held at any bank")
	t.Cleanup(func() {
		require.NoError(t, e.gw.Stop())
		log := openWAL(t, e.walPath())
		defer log.Close()
		require.NoError(t, log.View(func(tx *wal.Tx) error {
			return tx.Scan(1, func(r wal.Record) error {
				require.NotEqual(t, id, r.TxID, "record %d (%v) of a refused payment", r.Seq, r.Type)
				return nil
			})
		}))
	})
}

// A payment to a well-formed bank name the gateway has never known, from
// the payee's side or the payer's, is refused at once with NOT_FOUND,
// before anything is written or held; a name that differs from a known
// bank's only in case gets a hint. On the old code these were
// INVALID_ARGUMENT ("which this gateway does not serve").
func TestPayToABankNeverKnownIsRefusedAtOnce(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)

	id := ulid.Make()
	_, err := alice.Pay(alice.ctx, toAccount(id, "BankZ/1", 100))
	requireCode(t, codes.NotFound, err)
	require.Equal(t, "rpc error: code = NotFound desc = no bank named BankZ is known to this gateway", err.Error())
	requireNothingFor(t, e, alice, id)

	_, err = alice.Pay(alice.ctx, toAccount(ulid.Make(), "banka/1002", 100))
	requireCode(t, codes.NotFound, err)
	require.ErrorContains(t, err, "no bank named banka is known to this gateway (bank names are case-sensitive: did you mean BankA?)")

	from := toAccount(ulid.Make(), "BankB/2001", 100)
	from.FromAccount = "BankZ/1001"
	_, err = alice.Pay(alice.ctx, from)
	requireCode(t, codes.NotFound, err, "the payer's bank counts too")

	require.Equal(t, committed, alice.pay(t, toAccount(ulid.Make(), "BankB/2001", 100)).GetStatus(), "a known bank pays")
	e.settled(t)
	require.Equal(t, int64(100000-100), e.posted(t, "BankA/1001"))
}

// With etcd: a bank never known is NOT_FOUND at once (on the old code it
// was held PENDING until it expired), a known bank that went away still
// holds the payment PENDING, and a bank that registers while the gateway
// runs becomes payable.
func TestABankNeverKnownIsNotDownButAKnownOneIs(t *testing.T) {
	e := newEtcdEnv(t)
	e.startBank(t, "BankA")
	e.startBank(t, "BankB")
	e.start(t)
	alice := e.login(t, "alice", alicePassword)

	id := ulid.Make()
	start := time.Now()
	_, err := alice.Pay(alice.ctx, toAccount(id, "BankZ/1", 100))
	requireCode(t, codes.NotFound, err)
	require.Less(t, time.Since(start), time.Second, "at once")
	require.ErrorContains(t, err, "no bank named BankZ is known to this gateway")
	requireNothingFor(t, e.env, alice, id)

	_, err = alice.Pay(alice.ctx, toAccount(ulid.Make(), "BankC/3001", 100))
	requireCode(t, codes.NotFound, err, "BankC has not registered yet")
	e.startBank(t, "BankC")
	_, err = e.bankClients["BankC"].OpenAccount(t.Context(), &strifev1.OpenAccountRequest{Number: "3001", Owner: "dora"})
	require.NoError(t, err)
	e.logged(t, "bank available", "BankC", 5*time.Second)
	require.Equal(t, committed, alice.pay(t, toAccount(ulid.Make(), "BankC/3001", 200)).GetStatus(), "BankC learned from etcd")

	require.NoError(t, e.banks["BankB"].Stop())
	e.logged(t, "bank went away", "BankB", 5*time.Second)
	held := alice.pay(t, toAccount(ulid.Make(), "BankB/2001", 300))
	require.Equal(t, pending, held.GetStatus(), "a known bank that is away holds the payment")
}

// The known banks survive a restart while etcd is down: a bank learned
// from etcd is still payable (held PENDING until etcd and the bank are
// back), while a bank never known cannot be told from one that registered
// while the gateway was away, and is UNAVAILABLE until etcd answers; then
// it is NOT_FOUND. On the old code BankZ was accepted and held PENDING.
func TestKnownBanksSurviveARestartWhileEtcdIsDown(t *testing.T) {
	e := newEtcdEnv(t)
	e.startBank(t, "BankA")
	e.startBank(t, "BankB")
	e.startBank(t, "BankC")
	_, err := e.bankClients["BankC"].OpenAccount(t.Context(), &strifev1.OpenAccountRequest{Number: "3001", Owner: "dora"})
	require.NoError(t, err)
	e.start(t)
	e.logged(t, "bank available", "BankC", 5*time.Second)
	require.NoError(t, e.gw.Stop())
	e.etcd.Stop()

	e.cfg.Etcd.DialTimeout = time.Second
	e.start(t)
	alice := e.login(t, "alice", alicePassword)
	toC := ulid.Make()
	p := alice.pay(t, toAccount(toC, "BankC/3001", 100))
	require.Equal(t, pending, p.GetStatus(), "BankC is remembered from the log: held, not refused")
	id := ulid.Make()
	_, err = alice.Pay(alice.ctx, toAccount(id, "BankZ/1", 100))
	requireCode(t, codes.Unavailable, err, "etcd has not answered: BankZ may exist")
	require.ErrorContains(t, err, "bank BankZ is not known to this gateway yet")
	requireNothingFor(t, e.env, alice, id)

	e.etcd.Start()
	require.Eventually(t, func() bool {
		_, err := alice.Pay(alice.ctx, toAccount(id, "BankZ/1", 100))
		return status.Code(err) == codes.NotFound
	}, 15*time.Second, 20*time.Millisecond, "NOT_FOUND once etcd has answered")
	require.Eventually(t, func() bool {
		got, err := alice.GetPayment(alice.ctx, &strifev1.GetPaymentRequest{TransactionId: toC.String()})
		return err == nil && got.GetPayment().GetStatus() == committed
	}, 15*time.Second, 20*time.Millisecond, "the held payment to BankC commits")
}

// A data directory written before known banks (testdata/before-known-banks)
// opens; its known banks are seeded from what its log proves: BankA and
// BankB (users' accounts) and BankC (a committed payment; not configured
// now, so a payment to it is held), but not BankZ, to which an old payment
// expired. A retry of that payment still gets it. On the old code BankC
// was INVALID_ARGUMENT (not served) and so was BankZ.
func TestAnOldDataDirectoryKnowsTheBanksItsLogProves(t *testing.T) {
	e := newEnvFrom(t, "testdata/before-known-banks")
	alice := e.login(t, "alice", alicePassword)
	require.Equal(t, committed, alice.pay(t, toAccount(ulid.Make(), "BankB/2001", 50)).GetStatus())
	require.Equal(t, pending, alice.pay(t, toAccount(ulid.Make(), "BankC/3001", 50)).GetStatus(), "BankC is known, and away")
	_, err := alice.Pay(alice.ctx, toAccount(ulid.Make(), "BankZ/1", 50))
	requireCode(t, codes.NotFound, err, "an expired payment proves nothing")

	old := ulid.MustParseStrict("01KBJ0A0BANKZ0000000000000")
	again := alice.pay(t, toAccount(old, "BankZ/1", 300))
	require.Equal(t, strifev1.PaymentStatus_PAYMENT_STATUS_FAILED, again.GetStatus(), "the stored payment, not a refusal")
	require.Equal(t, strifev1.Reason_REASON_EXPIRED, again.GetReason())

	e.restart(t)
	alice = e.login(t, "alice", alicePassword)
	require.Equal(t, pending, alice.pay(t, toAccount(ulid.Make(), "BankC/3001", 50)).GetStatus(), "still known after a restart")
	require.Equal(t, 1, strings.Count(e.logs.String(), "known banks seeded from the log"), "seeded once")
}
