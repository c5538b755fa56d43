package gatewayd_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/internal/daemons/gatewayd"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

const (
	committed = strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED
	failed    = strifev1.PaymentStatus_PAYMENT_STATUS_FAILED
)

func TestPayBetweenTwoBanksCommitsOnBoth(t *testing.T) {
	e := newEnv(t)
	before, _ := e.total(t)
	alice := e.login(t, "alice", alicePassword)

	id := ulid.Make()
	p := alice.pay(t, toAccount(id, "BankB/2001", 2500))
	require.Equal(t, committed, p.GetStatus())
	require.Equal(t, [6]any{id.String(), "alice", "BankA/1001", "bob", "BankB/2001", int64(2500)},
		[6]any{p.GetTransactionId(), p.GetPayer(), p.GetFromAccount(), p.GetPayee(), p.GetToAccount(), p.GetAmount()})
	require.Equal(t, uint32(1), p.GetAttempts())
	require.NotNil(t, p.GetCreatedAt())

	e.settled(t)
	require.Equal(t, int64(97500), e.posted(t, "BankA/1001"))
	require.Equal(t, int64(52500), e.posted(t, "BankB/2001"))
	after, _ := e.total(t)
	require.Equal(t, before, after, "money is conserved")

	// Settled: once both banks applied it, the payment says when.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got, err := alice.GetPayment(alice.ctx, &strifev1.GetPaymentRequest{TransactionId: id.String()})
		require.NoError(c, err)
		assert.NotNil(c, got.GetPayment().GetSettledAt(), "settled_at")
	}, 5*time.Second, 10*time.Millisecond)
	list, err := alice.ListPayments(alice.ctx, &strifev1.ListPaymentsRequest{})
	require.NoError(t, err)
	require.Equal(t, id.String(), list.GetPayments()[0].GetTransactionId())
	settled := list.GetPayments()[0].GetSettledAt().AsTime()
	require.False(t, settled.Before(p.GetUpdatedAt().AsTime()), "settled after it committed")
}

func TestPayToUserPaysTheirDefaultAccount(t *testing.T) {
	e := newEnv(t)
	carol := e.login(t, "carol", carolPassword)
	p := carol.pay(t, toUser(ulid.Make(), "bob", 100))
	require.Equal(t, committed, p.GetStatus())
	require.Equal(t, [3]any{"bob", "BankB/2001", "BankA/1002"}, [3]any{p.GetPayee(), p.GetToAccount(), p.GetFromAccount()})
	e.settled(t)
	require.Equal(t, int64(50100), e.posted(t, "BankB/2001"))

	_, err := carol.Pay(carol.ctx, toUser(ulid.Make(), "nobody", 100))
	requireCode(t, codes.NotFound, err)
	_, err = carol.Pay(carol.ctx, toUser(ulid.Make(), "admin", 100))
	requireCode(t, codes.NotFound, err, "admin has no account to pay into")
}

func TestPaymentInsideOneBank(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	p := alice.pay(t, toUser(ulid.Make(), "carol", 1000))
	require.Equal(t, committed, p.GetStatus())
	e.settled(t)
	require.Equal(t, int64(99000), e.posted(t, "BankA/1001"))
	require.Equal(t, int64(21000), e.posted(t, "BankA/1002"))
}

func TestRefusedPaymentIsAFailedStatusNotAnError(t *testing.T) {
	e := newEnv(t)
	carol := e.login(t, "carol", carolPassword)
	p := carol.pay(t, toUser(ulid.Make(), "bob", 20001))
	require.Equal(t, [2]any{failed, strifev1.Reason_REASON_INSUFFICIENT_FUNDS}, [2]any{p.GetStatus(), p.GetReason()})
	p = carol.pay(t, toAccount(ulid.Make(), "BankB/9999", 1))
	require.Equal(t, [2]any{failed, strifev1.Reason_REASON_ACCOUNT_NOT_FOUND}, [2]any{p.GetStatus(), p.GetReason()})
	require.Empty(t, p.GetPayee(), "no user owns the account")
	e.settled(t)
	require.Equal(t, int64(20000), e.posted(t, "BankA/1002"))
}

func TestSamePaySentTwiceRunsOnce(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	id := ulid.Make()
	req := toAccount(id, "BankB/2001", 300)
	req.Memo = "rent"

	first := alice.pay(t, req)
	second := alice.pay(t, req)
	require.True(t, sameButSettled(first, second), "identical responses:\n%v\n%v", first, second)
	require.Equal(t, committed, second.GetStatus())

	e.settled(t)
	require.Equal(t, int64(99700), e.posted(t, "BankA/1001"))
	require.Len(t, e.entries(t, "BankA/1001", id), 1, "one debit")
	require.Len(t, e.entries(t, "BankB/2001", id), 1, "one credit")
	calls := e.logs.calls(t, "Pay")
	require.Len(t, calls, 2)
	require.Nil(t, calls[0]["retry"])
	require.Equal(t, true, calls[1]["retry"], "the log marks the second call as a retry")
	require.Equal(t, id.String(), calls[1]["transaction_id"])
}

func TestFiftyConcurrentIdenticalPaysRunOnce(t *testing.T) {
	e := newEnv(t)
	before, _ := e.total(t)
	alice := e.login(t, "alice", alicePassword)
	id := ulid.Make()
	req := toUser(id, "bob", 1234)

	const n = 50
	resps := make([]*strifev1.Payment, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := alice.Pay(alice.ctx, req)
			resps[i], errs[i] = resp.GetPayment(), err
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.True(t, proto.Equal(resps[0], resps[i]), "response %d differs:\n%v\n%v", i, resps[0], resps[i])
	}
	require.Equal(t, committed, resps[0].GetStatus())

	e.settled(t)
	require.Len(t, e.entries(t, "BankA/1001", id), 1, "exactly one debit")
	require.Len(t, e.entries(t, "BankB/2001", id), 1, "exactly one credit")
	require.Equal(t, int64(100000-1234), e.posted(t, "BankA/1001"))
	after, _ := e.total(t)
	require.Equal(t, before, after)

	retries := 0
	calls := e.logs.calls(t, "Pay")
	require.Len(t, calls, n)
	for _, c := range calls {
		require.Equal(t, "OK", c["code"])
		if c["retry"] == true {
			retries++
		}
	}
	require.Equal(t, n-1, retries, "every call but the first is logged as a retry")
}

func TestSameIDWithOtherParametersIsAlreadyExists(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	id := ulid.Make()
	first := alice.pay(t, toAccount(id, "BankB/2001", 500))
	e.settled(t)
	posted, _ := e.total(t)

	memo := toAccount(id, "BankB/2001", 500)
	memo.Memo = "other"
	from := toAccount(id, "BankB/2001", 500)
	from.FromAccount = "BankA/1004"
	for name, req := range map[string]*strifev1.PayRequest{
		"amount": toAccount(id, "BankB/2001", 501),
		"payee":  toAccount(id, "BankA/1002", 500),
		"user":   toUser(id, "carol", 500),
		"memo":   memo,
		"from":   from,
	} {
		_, err := alice.Pay(alice.ctx, req)
		requireCode(t, codes.AlreadyExists, err, name)
	}
	carol := e.login(t, "carol", carolPassword)
	_, err := carol.Pay(carol.ctx, toAccount(id, "BankB/2001", 500))
	requireCode(t, codes.AlreadyExists, err, "another payer")

	again, _ := e.total(t)
	require.Equal(t, posted, again, "nothing changes")
	require.Equal(t, int64(99500), e.posted(t, "BankA/1001"))
	got, err := alice.GetPayment(alice.ctx, &strifev1.GetPaymentRequest{TransactionId: id.String()})
	require.NoError(t, err)
	require.NotNil(t, got.GetPayment().GetSettledAt(), "settled since the first answer")
	require.True(t, sameButSettled(first, got.GetPayment()))
}

// A retry means the payment it repeats, even if the payer's default
// account changed in between: it is not a conflict.
func TestRetryAfterTheDefaultAccountChanged(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	id := ulid.Make()
	first := alice.pay(t, toUser(id, "bob", 100))
	_, err := alice.UpdateClientDetails(alice.ctx, &strifev1.UpdateClientDetailsRequest{LinkAccount: "BankA/1004", DefaultAccount: "BankA/1004"})
	require.NoError(t, err)

	again := alice.pay(t, toUser(id, "bob", 100))
	require.True(t, sameButSettled(first, again))
	require.Equal(t, "BankA/1001", again.GetFromAccount())
	e.settled(t)
	require.Equal(t, int64(700), e.posted(t, "BankA/1004"))
}

func TestPayRejectsMalformedRequests(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	cases := map[string]func(*strifev1.PayRequest){
		"transaction_id not a ULID": func(r *strifev1.PayRequest) { r.TransactionId = "not-a-ulid" },
		"transaction_id empty":      func(r *strifev1.PayRequest) { r.TransactionId = "" },
		"transaction_id too long":   func(r *strifev1.PayRequest) { r.TransactionId += "0" },
		"zero amount":               func(r *strifev1.PayRequest) { r.Amount = 0 },
		"negative amount":           func(r *strifev1.PayRequest) { r.Amount = -5 },
		"memo too long":             func(r *strifev1.PayRequest) { r.Memo = strings.Repeat("m", 257) },
		"no payee":                  func(r *strifev1.PayRequest) { r.Payee = nil },
		"payee not an address":      func(r *strifev1.PayRequest) { r.Payee = &strifev1.PayRequest_ToAccount{ToAccount: "bob"} },
		"payer is payee":            func(r *strifev1.PayRequest) { r.Payee = &strifev1.PayRequest_ToAccount{ToAccount: "BankA/1001"} },
		"paying oneself by name":    func(r *strifev1.PayRequest) { r.Payee = &strifev1.PayRequest_ToUser{ToUser: "alice"} },
		"from not an address":       func(r *strifev1.PayRequest) { r.FromAccount = "1001" },
		"bad payee username":        func(r *strifev1.PayRequest) { r.Payee = &strifev1.PayRequest_ToUser{ToUser: "Bob!"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			req := toAccount(ulid.Make(), "BankB/2001", 10)
			mutate(req)
			_, err := alice.Pay(alice.ctx, req)
			requireCode(t, codes.InvalidArgument, err)
		})
	}
	require.Equal(t, int64(100000), e.posted(t, "BankA/1001"))
	req := toAccount(ulid.Make(), "BankB/2001", 10)
	req.Memo = strings.Repeat("m", 256)
	require.Equal(t, committed, alice.pay(t, req).GetStatus(), "a memo of 256 bytes is fine")
}

func TestOwnershipIsEnforced(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.login(t, "alice", alicePassword), e.login(t, "bob", bobPassword), e.login(t, "carol", carolPassword)
	admin := e.login(t, "admin", adminPassword)
	id := ulid.Make()
	alice.pay(t, toUser(id, "bob", 100))
	e.settled(t)
	posted, _ := e.total(t)

	fromBob := toUser(ulid.Make(), "carol", 100)
	fromBob.FromAccount = "BankB/2001"
	_, err := alice.Pay(alice.ctx, fromBob)
	requireCode(t, codes.PermissionDenied, err, "a customer pays only from her own account")
	fromAlice := toUser(ulid.Make(), "carol", 100)
	fromAlice.FromAccount = "BankA/1001"
	_, err = admin.Pay(admin.ctx, fromAlice)
	requireCode(t, codes.PermissionDenied, err, "an admin is not a superuser over other people's money")
	fromUnlinked := toUser(ulid.Make(), "carol", 100)
	fromUnlinked.FromAccount = "BankA/1004"
	_, err = alice.Pay(alice.ctx, fromUnlinked)
	requireCode(t, codes.PermissionDenied, err, "alice's at the bank, but not linked")

	get := &strifev1.GetPaymentRequest{TransactionId: id.String()}
	_, err = carol.GetPayment(carol.ctx, get)
	requireCode(t, codes.PermissionDenied, err, "carol is neither payer nor payee")
	for _, s := range []*session{alice, bob, admin} {
		_, err := s.GetPayment(s.ctx, get)
		require.NoError(t, err, s.user.GetUsername())
	}
	_, err = carol.GetPayment(carol.ctx, &strifev1.GetPaymentRequest{TransactionId: ulid.Make().String()})
	requireCode(t, codes.NotFound, err)

	_, err = carol.ListPayments(carol.ctx, &strifev1.ListPaymentsRequest{Username: "alice"})
	requireCode(t, codes.PermissionDenied, err)
	list, err := admin.ListPayments(admin.ctx, &strifev1.ListPaymentsRequest{Username: "alice"})
	require.NoError(t, err)
	require.Len(t, list.GetPayments(), 1)
	_, err = admin.ListPayments(admin.ctx, &strifev1.ListPaymentsRequest{Username: "nobody"})
	requireCode(t, codes.NotFound, err)

	after, _ := e.total(t)
	require.Equal(t, posted, after, "no refused call moved money")
}

func TestListPaymentsNewestFirstInPages(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.login(t, "alice", alicePassword), e.login(t, "bob", bobPassword), e.login(t, "carol", carolPassword)
	var ids []string
	for amount := int64(1); amount <= 5; amount++ {
		ids = append(ids, alice.pay(t, toUser(ulid.Make(), "bob", amount)).GetTransactionId())
	}
	newestFirst := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}

	var pages [][]string
	token := ""
	for {
		resp, err := alice.ListPayments(alice.ctx, &strifev1.ListPaymentsRequest{PageSize: 2, PageToken: token})
		require.NoError(t, err)
		pages = append(pages, txIDs(resp.GetPayments()))
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	require.Equal(t, [][]string{newestFirst[:2], newestFirst[2:4], newestFirst[4:]}, pages)

	resp, err := bob.ListPayments(bob.ctx, &strifev1.ListPaymentsRequest{})
	require.NoError(t, err)
	require.Equal(t, newestFirst, txIDs(resp.GetPayments()), "the payee sees them too")
	require.Empty(t, resp.GetNextPageToken())
	resp, err = carol.ListPayments(carol.ctx, &strifev1.ListPaymentsRequest{})
	require.NoError(t, err)
	require.Empty(t, resp.GetPayments())

	for name, req := range map[string]*strifev1.ListPaymentsRequest{
		"page too large": {PageSize: 1001},
		"negative page":  {PageSize: -1},
		"bad token":      {PageToken: "not base64!"},
	} {
		_, err := alice.ListPayments(alice.ctx, req)
		requireCode(t, codes.InvalidArgument, err, name)
	}
}

func txIDs(payments []*strifev1.Payment) []string {
	var out []string
	for _, p := range payments {
		out = append(out, p.GetTransactionId())
	}
	return out
}

func TestWatchPaymentsNotifiesThePayee(t *testing.T) {
	e := newEnv(t)
	alice, carol := e.login(t, "alice", alicePassword), e.login(t, "carol", carolPassword)
	watch := func(s *session) func() *strifev1.Payment {
		stream, err := s.WatchPayments(s.ctx, &strifev1.WatchPaymentsRequest{})
		require.NoError(t, err)
		_, err = stream.Header() // the watch is registered
		require.NoError(t, err)
		return func() *strifev1.Payment {
			ev, err := stream.Recv()
			require.NoError(t, err)
			return ev.GetPayment()
		}
	}
	bobEvents := watch(e.login(t, "bob", bobPassword))
	carolEvents := watch(carol)

	toBob := alice.pay(t, toUser(ulid.Make(), "bob", 100))
	toCarol := alice.pay(t, toUser(ulid.Make(), "carol", 200))

	var p *strifev1.Payment
	for p = bobEvents(); p.GetStatus() != committed; p = bobEvents() {
		require.Equal(t, toBob.GetTransactionId(), p.GetTransactionId())
	}
	require.Equal(t, toBob.GetTransactionId(), p.GetTransactionId())
	require.Equal(t, int64(100), p.GetAmount())

	p = carolEvents()
	require.Equal(t, toCarol.GetTransactionId(), p.GetTransactionId(), "carol hears nothing of bob's payment")
}

// A page_size of 0 is gatewayd.DefaultPageSize payments: what strife
// history, which sends 0 unless told a --limit, shows.
func TestListPaymentsDefaultPage(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	for range gatewayd.DefaultPageSize + 1 {
		alice.pay(t, toUser(ulid.Make(), "bob", 1))
	}
	resp, err := alice.ListPayments(alice.ctx, &strifev1.ListPaymentsRequest{})
	require.NoError(t, err)
	require.Len(t, resp.GetPayments(), gatewayd.DefaultPageSize)
	require.NotEmpty(t, resp.GetNextPageToken())
}
