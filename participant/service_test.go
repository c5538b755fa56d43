package participant_test

// Black-box tests of BankService: a bank daemon started in-process, called
// over real gRPC and mutual TLS with a gateway certificate. State is
// checked through the API and, where a call must change nothing, by counting
// the records of the bank's log with the bank stopped.

import (
	"context"
	"crypto/tls"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/testkit/logtest"
	"github.com/strife-pay/strife/ledger"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

func TestPrepareDebitWithFundsHolds(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)

	require.Equal(t, yes, b.prepare(t, prepareRequest(ulid.Make(), 1, debit("1001", 200))))

	require.Equal(t, balances{Posted: 500, Held: 200, Available: 300}, b.balances(t, "1001"))
}

func TestPrepareDebitWithoutFundsVotesNo(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)

	require.Equal(t, no(strifev1.Reason_REASON_INSUFFICIENT_FUNDS), b.prepare(t, prepareRequest(ulid.Make(), 1, debit("1001", 501))))
	require.Equal(t, balances{Posted: 500, Available: 500}, b.balances(t, "1001"))

	// Holds count: with 400 held, 101 is more than is available.
	require.Equal(t, yes, b.prepare(t, prepareRequest(ulid.Make(), 1, debit("1001", 400))))
	require.Equal(t, no(strifev1.Reason_REASON_INSUFFICIENT_FUNDS), b.prepare(t, prepareRequest(ulid.Make(), 1, debit("1001", 101))))
	require.Equal(t, balances{Posted: 500, Held: 400, Available: 100}, b.balances(t, "1001"))
}

func TestPrepareUnknownOrClosedAccountVotesNo(t *testing.T) {
	b := startBank(t)
	b.open(t, "1002", 100)
	_, err := b.client.UpdateAccount(t.Context(), &strifev1.UpdateAccountRequest{Number: "1002", Status: strifev1.AccountStatus_ACCOUNT_STATUS_CLOSED})
	require.NoError(t, err)

	tests := []struct {
		name string
		leg  *strifev1.Leg
		want vote
	}{
		{"credit to unknown account", credit("9999", 10), no(strifev1.Reason_REASON_ACCOUNT_NOT_FOUND)},
		{"credit to closed account", credit("1002", 10), no(strifev1.Reason_REASON_ACCOUNT_CLOSED)},
		{"debit from closed account", debit("1002", 10), no(strifev1.Reason_REASON_ACCOUNT_CLOSED)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, b.prepare(t, prepareRequest(ulid.Make(), 1, tt.leg)))
		})
	}
	require.Equal(t, balances{Posted: 100, Available: 100}, b.balances(t, "1002"))
}

func TestPrepareIsIdempotent(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	yesID, noID := ulid.Make(), ulid.Make()
	yesReq := prepareRequest(yesID, 1, debit("1001", 300))
	noReq := prepareRequest(noID, 1, debit("1001", 1000))
	require.Equal(t, yes, b.prepare(t, yesReq))
	require.Equal(t, no(strifev1.Reason_REASON_INSUFFICIENT_FUNDS), b.prepare(t, noReq))

	b.requireNoRecords(t, func() {
		for range 3 {
			require.Equal(t, yes, b.prepare(t, yesReq))
			require.Equal(t, no(strifev1.Reason_REASON_INSUFFICIENT_FUNDS), b.prepare(t, noReq))
		}
		for _, id := range []ulid.ULID{yesID, noID} {
			_, err := b.client.Prepare(t.Context(), prepareRequest(id, 1, debit("1001", 10)))
			requireCode(t, codes.AlreadyExists, err)
			other := prepareRequest(id, 1, debit("1001", 300))
			other.Memo = "another memo"
			_, err = b.client.Prepare(t.Context(), other)
			requireCode(t, codes.AlreadyExists, err)
		}
	})

	require.Equal(t, balances{Posted: 500, Held: 300, Available: 200}, b.balances(t, "1001"))
}

func TestCommit(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	b.open(t, "1002", 0)

	id := ulid.Make()
	require.Equal(t, yes, b.prepare(t, prepareRequest(id, 1, credit("1002", 100))))
	require.Equal(t, balances{Pending: 100}, b.balances(t, "1002"))
	require.NoError(t, b.commit(t, id, 1))
	require.Equal(t, balances{Posted: 100, Available: 100}, b.balances(t, "1002"))

	aborted := ulid.Make()
	require.Equal(t, yes, b.prepare(t, prepareRequest(aborted, 1, debit("1001", 50))))
	require.NoError(t, b.abort(t, aborted, 1))
	refused := ulid.Make()
	require.Equal(t, no(strifev1.Reason_REASON_INSUFFICIENT_FUNDS), b.prepare(t, prepareRequest(refused, 1, debit("1001", 5000))))

	b.requireNoRecords(t, func() {
		require.NoError(t, b.commit(t, id, 1), "a repeated Commit is acknowledged")
		requireCode(t, codes.FailedPrecondition, b.commit(t, ulid.Make(), 1)) // never prepared
		requireCode(t, codes.FailedPrecondition, b.commit(t, refused, 1))     // voted NO
		requireCode(t, codes.FailedPrecondition, b.commit(t, aborted, 1))     // aborted after YES
		requireCode(t, codes.FailedPrecondition, b.abort(t, id, 1))           // committed
		requireCode(t, codes.FailedPrecondition, b.commit(t, id, 2))          // another attempt
	})

	require.Equal(t, balances{Posted: 100, Available: 100}, b.balances(t, "1002"))
	require.Equal(t, balances{Posted: 500, Available: 500}, b.balances(t, "1001"))
	entries := b.entries(t, "1002")
	require.Len(t, entries, 1, "one posting")
	require.Equal(t, strifev1.EntryKind_ENTRY_KIND_CREDIT, entries[0].GetKind())
	require.Equal(t, int64(100), entries[0].GetAmount())
	require.Equal(t, int64(100), entries[0].GetBalanceAfter())
	require.Equal(t, id.String(), entries[0].GetTransactionId())
	require.Equal(t, uint32(1), entries[0].GetAttempt())
}

// ResolveAttempt, the unary form of a resolve batch item: YES for a
// prepared attempt, whose vote and hold are kept for the decision that
// follows; NO for an attempt never seen, which is aborted first, so that
// its late Prepare votes NO.
func TestResolveAttempt(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	prepared, lost := ulid.Make(), ulid.Make()
	require.Equal(t, yes, b.prepare(t, prepareRequest(prepared, 1, debit("1001", 100))))

	require.Equal(t, yes, b.resolve(t, prepared, 1))
	require.Equal(t, balances{Posted: 500, Held: 100, Available: 400}, b.balances(t, "1001"))
	require.Equal(t, no(strifev1.Reason_REASON_ABORTED), b.resolve(t, lost, 1))
	require.Equal(t, no(strifev1.Reason_REASON_ABORTED), b.prepare(t, prepareRequest(lost, 1, debit("1001", 100))))
	b.requireNoRecords(t, func() {
		require.Equal(t, yes, b.resolve(t, prepared, 1), "resolving again answers the same")
		require.Equal(t, no(strifev1.Reason_REASON_ABORTED), b.resolve(t, lost, 1))
	})

	require.NoError(t, b.commit(t, prepared, 1))
	require.Equal(t, balances{Posted: 400, Available: 400}, b.balances(t, "1001"))
}

func TestCommitAfterTombstoneFails(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	id := ulid.Make()
	require.NoError(t, b.abort(t, id, 1))

	b.requireNoRecords(t, func() {
		requireCode(t, codes.FailedPrecondition, b.commit(t, id, 1))
	})
}

func TestAbortBeforePrepareLeavesTombstone(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	id := ulid.Make()

	require.NoError(t, b.abort(t, id, 1))
	require.Equal(t, no(strifev1.Reason_REASON_ABORTED), b.prepare(t, prepareRequest(id, 1, debit("1001", 100))))

	b.requireNoRecords(t, func() {
		require.NoError(t, b.abort(t, id, 1))
		require.Equal(t, no(strifev1.Reason_REASON_ABORTED), b.prepare(t, prepareRequest(id, 1, debit("1001", 100))))
	})
	require.Equal(t, balances{Posted: 500, Available: 500}, b.balances(t, "1001"))
}

func TestAbortReleasesHold(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	id := ulid.Make()
	require.Equal(t, yes, b.prepare(t, prepareRequest(id, 1, debit("1001", 100))))
	require.Equal(t, balances{Posted: 500, Held: 100, Available: 400}, b.balances(t, "1001"))

	require.NoError(t, b.abort(t, id, 1))
	require.Equal(t, balances{Posted: 500, Available: 500}, b.balances(t, "1001"))
	b.requireNoRecords(t, func() {
		require.NoError(t, b.abort(t, id, 1), "aborting again is acknowledged")
	})

	// Banks key by (transaction ID, attempt): the payment's next attempt is
	// a new one.
	require.Equal(t, yes, b.prepare(t, prepareRequest(id, 2, debit("1001", 100))))
	require.Equal(t, balances{Posted: 500, Held: 100, Available: 400}, b.balances(t, "1001"))
	require.NoError(t, b.commit(t, id, 2))
	require.Equal(t, balances{Posted: 400, Available: 400}, b.balances(t, "1001"))
}

func TestConcurrentPreparesNeverOverspend(t *testing.T) {
	const n, amount, funds = 100, 10, 500
	b := startBank(t)
	b.open(t, "1001", funds)

	ids := make([]ulid.ULID, n)
	votes := make([]*strifev1.PrepareResponse, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ids[i] = ulid.Make()
		wg.Go(func() {
			votes[i], errs[i] = b.client.Prepare(t.Context(), prepareRequest(ids[i], 1, debit("1001", amount)))
		})
	}
	wg.Wait()

	var yesIDs, noIDs []ulid.ULID
	for i := range n {
		require.NoError(t, errs[i])
		switch v := (vote{votes[i].GetVote(), votes[i].GetReason()}); v {
		case yes:
			yesIDs = append(yesIDs, ids[i])
		case no(strifev1.Reason_REASON_INSUFFICIENT_FUNDS):
			noIDs = append(noIDs, ids[i])
		default:
			t.Fatalf("Prepare %d: unexpected vote %v", i, v)
		}
	}
	require.Len(t, yesIDs, funds/amount)
	require.Len(t, noIDs, n-funds/amount)
	require.Equal(t, balances{Posted: funds, Held: funds, Available: 0}, b.balances(t, "1001"))

	errs = make([]error, n)
	for i, id := range yesIDs {
		wg.Go(func() {
			_, errs[i] = b.client.Commit(t.Context(), &strifev1.CommitRequest{TransactionId: id.String(), Attempt: 1})
		})
	}
	for i, id := range noIDs {
		wg.Go(func() {
			_, errs[len(yesIDs)+i] = b.client.Abort(t.Context(), &strifev1.AbortRequest{TransactionId: id.String(), Attempt: 1})
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, balances{}, b.balances(t, "1001"))
	require.Len(t, b.entries(t, "1001"), 1+funds/amount, "the deposit and one debit per YES")
}

func TestSameBankPayment(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	b.open(t, "1002", 100)
	id := ulid.Make()
	req := prepareRequest(id, 1,
		&strifev1.Leg{Account: "1001", Direction: strifev1.Direction_DIRECTION_DEBIT, Amount: 300, Counterparty: "BankA/1002"},
		&strifev1.Leg{Account: "1002", Direction: strifev1.Direction_DIRECTION_CREDIT, Amount: 300, Counterparty: "BankA/1001"},
	)
	req.Memo = "rent for March"

	require.Equal(t, yes, b.prepare(t, req))
	require.Equal(t, balances{Posted: 500, Held: 300, Available: 200}, b.balances(t, "1001"))
	require.Equal(t, balances{Posted: 100, Available: 100, Pending: 300}, b.balances(t, "1002"))
	require.NoError(t, b.commit(t, id, 1))

	payer, payee := b.balances(t, "1001"), b.balances(t, "1002")
	require.Equal(t, balances{Posted: 200, Available: 200}, payer)
	require.Equal(t, balances{Posted: 400, Available: 400}, payee)
	require.Equal(t, int64(600), payer.Posted+payee.Posted, "money is conserved")

	tests := []struct {
		account      string
		kind         strifev1.EntryKind
		amount       int64
		balanceAfter int64
		counterparty string
	}{
		{"1001", strifev1.EntryKind_ENTRY_KIND_DEBIT, -300, 200, "BankA/1002"},
		{"1002", strifev1.EntryKind_ENTRY_KIND_CREDIT, 300, 400, "BankA/1001"},
	}
	for _, tt := range tests {
		t.Run(tt.account, func(t *testing.T) {
			entries := b.entries(t, tt.account)
			require.Len(t, entries, 2, "the payment and the opening deposit")
			e := entries[0]
			require.Equal(t, tt.account, e.GetAccount())
			require.Equal(t, tt.kind, e.GetKind())
			require.Equal(t, tt.amount, e.GetAmount())
			require.Equal(t, tt.balanceAfter, e.GetBalanceAfter())
			require.Equal(t, tt.counterparty, e.GetCounterparty())
			require.Equal(t, "rent for March", e.GetMemo())
			require.Equal(t, id.String(), e.GetTransactionId())
			require.Equal(t, strifev1.EntryKind_ENTRY_KIND_DEPOSIT, entries[1].GetKind())
		})
	}
}

func TestInvalidArgumentChangesNothing(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	b.open(t, "1002", 0)
	prepared := ulid.Make()
	require.Equal(t, yes, b.prepare(t, prepareRequest(prepared, 1, debit("1001", 100))))

	// Each Prepare is a valid one that would vote YES, with one thing wrong.
	badPrepare := func(edit func(r *strifev1.PrepareRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := prepareRequest(ulid.Make(), 1, debit("1001", 10))
			edit(r)
			_, err := b.client.Prepare(ctx, r)
			return err
		}
	}
	withLegs := func(legs ...*strifev1.Leg) func(context.Context) error {
		return badPrepare(func(r *strifev1.PrepareRequest) { r.Legs = legs })
	}
	commit := func(id string, attempt uint32) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := b.client.Commit(ctx, &strifev1.CommitRequest{TransactionId: id, Attempt: attempt})
			return err
		}
	}
	abort := func(id string, attempt uint32) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := b.client.Abort(ctx, &strifev1.AbortRequest{TransactionId: id, Attempt: attempt})
			return err
		}
	}
	resolve := func(id string, attempt uint32) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := b.client.ResolveAttempt(ctx, &strifev1.ResolveAttemptRequest{TransactionId: id, Attempt: attempt})
			return err
		}
	}
	open := func(owner string, opening int64) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := b.client.OpenAccount(ctx, &strifev1.OpenAccountRequest{Number: "3001", Owner: owner, OpeningBalance: opening})
			return err
		}
	}
	list := func(size int32, token string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := b.client.ListEntries(ctx, &strifev1.ListEntriesRequest{Number: "1001", PageSize: size, PageToken: token})
			return err
		}
	}
	withDirection := func(d strifev1.Direction) *strifev1.Leg {
		l := debit("1001", 10)
		l.Direction = d
		return l
	}
	withAccount := func(number string) *strifev1.Leg { return debit(number, 10) }
	withCounterparty := func(c string) *strifev1.Leg {
		l := debit("1001", 10)
		l.Counterparty = c
		return l
	}

	tests := []struct {
		name string
		call func(context.Context) error
	}{
		{"prepare/transaction_id not a ULID", badPrepare(func(r *strifev1.PrepareRequest) { r.TransactionId = "nope" })},
		{"prepare/transaction_id empty", badPrepare(func(r *strifev1.PrepareRequest) { r.TransactionId = "" })},
		{"prepare/transaction_id of 27 chars", badPrepare(func(r *strifev1.PrepareRequest) { r.TransactionId += "0" })},
		{"prepare/attempt 0", badPrepare(func(r *strifev1.PrepareRequest) { r.Attempt = 0 })},
		{"prepare/no legs", withLegs()},
		{"prepare/3 legs", withLegs(debit("1001", 10), credit("1002", 10), credit("1002", 10))},
		{"prepare/amount 0", withLegs(debit("1001", 0))},
		{"prepare/amount -5", withLegs(debit("1001", -5))},
		{"prepare/direction unspecified", withLegs(withDirection(strifev1.Direction_DIRECTION_UNSPECIFIED))},
		{"prepare/account with slash", withLegs(withAccount("BankA/1001"))},
		{"prepare/account of 35 chars", withLegs(withAccount(strings.Repeat("1", 35)))},
		{"prepare/account empty", withLegs(withAccount(""))},
		{"prepare/memo of 257 bytes", badPrepare(func(r *strifev1.PrepareRequest) { r.Memo = strings.Repeat("m", 257) })},
		{"prepare/counterparty of 101 bytes", withLegs(withCounterparty(strings.Repeat("c", 101)))},
		// Free text (package freetext): what a gateway with another rule
		// could send.
		{"prepare/memo with NUL", badPrepare(func(r *strifev1.PrepareRequest) { r.Memo = "rent\x00" })},
		{"prepare/memo with newline", badPrepare(func(r *strifev1.PrepareRequest) { r.Memo = "rent\nforged" })},
		{"prepare/memo with ESC[31m", badPrepare(func(r *strifev1.PrepareRequest) { r.Memo = "\x1b[31mrent" })},
		{"prepare/memo with U+202E", badPrepare(func(r *strifev1.PrepareRequest) { r.Memo = "rent\u202Etxt.exe" })},
		{"prepare/memo with U+009B", badPrepare(func(r *strifev1.PrepareRequest) { r.Memo = "\u009b2J" })},
		{"prepare/counterparty with U+202E", withLegs(withCounterparty("BankB/\u202E2001"))},
		{"prepare/counterparty with a tab", withLegs(withCounterparty("BankB/\t2001"))},
		{"prepare/two debits", withLegs(debit("1001", 10), debit("1002", 10))},
		{"prepare/two amounts", withLegs(debit("1001", 10), credit("1002", 11))},
		{"prepare/two legs on one account", withLegs(debit("1001", 10), credit("1001", 10))},
		{"prepare/credit overflows", withLegs(credit("1001", math.MaxInt64))},
		{"commit/bad ULID", commit("nope", 1)},
		{"commit/attempt 0", commit(prepared.String(), 0)},
		{"abort/bad ULID", abort("nope", 1)},
		{"abort/attempt 0", abort(prepared.String(), 0)},
		{"resolve/bad ULID", resolve("nope", 1)},
		{"resolve/attempt 0", resolve(ulid.Make().String(), 0)},
		{"open/negative opening balance", open("carol", -1)},
		{"open/empty owner", open("", 10)},
		{"open/owner of 65 bytes", open(strings.Repeat("o", 65), 10)},
		{"open/owner with NUL", open("carol\x00", 10)},
		{"open/owner with ESC[31m", open("\x1b[31mcarol", 10)},
		{"open/owner with U+202E", open("carol\u202E", 10)},
		{"open/owner with U+0085", open("carol\u0085", 10)},
		{"list/page_size -1", list(-1, "")},
		{"list/page_size 1001", list(1001, "")},
		{"list/garbage page_token", list(10, "garbage")},
	}

	accounts := map[string]*strifev1.Account{"1001": b.account(t, "1001"), "1002": b.account(t, "1002")}
	b.requireNoRecords(t, func() {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				requireCode(t, codes.InvalidArgument, tt.call(t.Context()))
			})
		}
	})

	for number, before := range accounts {
		after := b.account(t, number)
		require.True(t, proto.Equal(before, after), "account %s was %v, is %v", number, before, after)
	}
	_, err := b.client.GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: "3001"})
	requireCode(t, codes.NotFound, err)
	require.Equal(t, yes, b.prepare(t, prepareRequest(prepared, 1, debit("1001", 100))), "the prepared attempt is intact")
}

func TestOpenAccount(t *testing.T) {
	b := startBank(t)
	req := &strifev1.OpenAccountRequest{Number: "1001", Owner: "alice", OpeningBalance: 500}
	resp, err := b.client.OpenAccount(t.Context(), req)
	require.NoError(t, err)
	require.True(t, resp.GetCreated())
	opened := resp.GetAccount()
	require.Equal(t, bankName, opened.GetBank())
	require.Equal(t, "alice", opened.GetOwner())
	require.Equal(t, strifev1.AccountStatus_ACCOUNT_STATUS_OPEN, opened.GetStatus())
	require.Equal(t, balances{Posted: 500, Available: 500}, b.balances(t, "1001"))

	b.requireNoRecords(t, func() {
		resp, err := b.client.OpenAccount(t.Context(), req)
		require.NoError(t, err)
		require.False(t, resp.GetCreated())
		require.True(t, proto.Equal(opened, resp.GetAccount()), "repeat returned %v, want %v", resp.GetAccount(), opened)

		_, err = b.client.OpenAccount(t.Context(), &strifev1.OpenAccountRequest{Number: "1001", Owner: "mallory"})
		requireCode(t, codes.AlreadyExists, err)

		_, err = b.client.GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: "9999"})
		requireCode(t, codes.NotFound, err)
	})
	require.True(t, proto.Equal(opened, b.account(t, "1001")))
}

func TestListEntriesPages(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 1000)
	b.open(t, "1002", 0)
	for i := range 5 {
		id := ulid.Make()
		require.Equal(t, yes, b.prepare(t, prepareRequest(id, 1, debit("1001", int64(10*(i+1))), credit("1002", int64(10*(i+1))))))
		require.NoError(t, b.commit(t, id, 1))
	}

	var pages [][]*strifev1.Entry
	token := ""
	for range 10 { // bounded: 3 pages are expected
		resp, err := b.client.ListEntries(t.Context(), &strifev1.ListEntriesRequest{Number: "1001", PageSize: 2, PageToken: token})
		require.NoError(t, err)
		pages = append(pages, resp.GetEntries())
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}

	require.Len(t, pages, 3)
	var amounts []int64
	var last uint64 = math.MaxUint64
	for _, page := range pages {
		require.Len(t, page, 2)
		for _, e := range page {
			require.Less(t, e.GetSeq(), last, "newest first")
			last = e.GetSeq()
			amounts = append(amounts, e.GetAmount())
		}
	}
	require.Equal(t, []int64{-50, -40, -30, -20, -10, 1000}, amounts)
}

func TestHealthAndReflection(t *testing.T) {
	b := startBank(t)
	conn := b.pki.Dial(t, b.daemon.Addr(), certs.RoleGateway, gatewayName)

	health, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, health.GetStatus())

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	require.NoError(t, err)
	require.NoError(t, stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	}))
	resp, err := stream.Recv()
	require.NoError(t, err)
	require.NoError(t, stream.CloseSend())
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	require.Contains(t, names, "strife.v1.BankService")
	require.Contains(t, names, "grpc.health.v1.Health")
}

func TestServiceRequiresMutualTLSWithItsCA(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	stranger := banktest.NewPKI(t) // another CA

	tests := []struct {
		name string
		conn func(t *testing.T) grpc.ClientConnInterface
	}{
		{"certificate of another CA", func(t *testing.T) grpc.ClientConnInterface {
			return stranger.Dial(t, b.daemon.Addr(), certs.RoleGateway, gatewayName)
		}},
		{"certificate of another CA, trusting the bank's CA", func(t *testing.T) grpc.ClientConnInterface {
			id, err := stranger.CA.Issue(certs.Request{Role: certs.RoleGateway, Name: gatewayName})
			require.NoError(t, err)
			return dial(t, b.daemon.Addr(), credentials.NewTLS(certs.ClientConfigFrom(id, b.pki.CA.Pool(), "")))
		}},
		{"no client certificate", func(t *testing.T) grpc.ClientConnInterface {
			return dial(t, b.daemon.Addr(), credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: b.pki.CA.Pool()}))
		}},
		{"plaintext", func(t *testing.T) grpc.ClientConnInterface {
			return dial(t, b.daemon.Addr(), insecure.NewCredentials())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			_, err := strifev1.NewBankServiceClient(tt.conn(t)).GetAccount(ctx, &strifev1.GetAccountRequest{Number: "1001"})
			requireCode(t, codes.Unavailable, err)
		})
	}
}

// The brief: only gateway certificates may call BankService.
func TestServiceRejectsCallersThatAreNotTheGateway(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)

	b.requireNoRecords(t, func() {
		for _, role := range []certs.Role{certs.RoleBank, certs.RoleClient, certs.RoleAdmin} {
			t.Run(string(role), func(t *testing.T) {
				conn := b.pki.Dial(t, b.daemon.Addr(), role, "not-the-gateway-"+string(role))
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				defer cancel()
				client := strifev1.NewBankServiceClient(conn)
				_, err := client.Prepare(ctx, prepareRequest(ulid.Make(), 1, debit("1001", 100)))
				requireCode(t, codes.PermissionDenied, err)
				// Allowed, it would write a tombstone.
				_, err = client.ResolveAttempt(ctx, &strifev1.ResolveAttemptRequest{TransactionId: ulid.Make().String(), Attempt: 1})
				requireCode(t, codes.PermissionDenied, err)
			})
		}
	})
	require.Equal(t, balances{Posted: 500, Available: 500}, b.balances(t, "1001"))
}

func TestPreparedRecordNamesTheCoordinator(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	id := ulid.Make()
	require.Equal(t, yes, b.prepare(t, prepareRequest(id, 1, debit("1001", 100))))
	b.stop(t)

	log := openWAL(t, b.walPath())
	defer log.Close()
	var prepared []*storagev1.Prepared
	require.NoError(t, log.View(func(tx *wal.Tx) error {
		recs, err := logtest.Records(tx, id, 1)
		for _, r := range recs {
			if r.Type == ledger.TypePrepared {
				p := &storagev1.Prepared{}
				require.NoError(t, proto.Unmarshal(r.Payload, p))
				prepared = append(prepared, p)
			}
		}
		return err
	}))
	require.Len(t, prepared, 1)
	require.Equal(t, gatewayName, prepared[0].GetCoordinator())
	require.Len(t, prepared[0].GetLegs(), 1)
	require.Equal(t, "1001", prepared[0].GetLegs()[0].GetNumber())
}

// A Commit writes COMMITTED and one SETTLED per leg: each hold released and
// posted in one event.
func TestCommitWritesCommittedAndOneSettledPerLeg(t *testing.T) {
	b := startBank(t)
	b.open(t, "1001", 500)
	b.open(t, "1002", 100)
	id := ulid.Make()
	req := prepareRequest(id, 1, debit("1001", 300), credit("1002", 300))
	req.Memo = "rent"
	require.Equal(t, yes, b.prepare(t, req))
	require.NoError(t, b.commit(t, id, 1))
	b.stop(t)

	log := openWAL(t, b.walPath())
	defer log.Close()
	var recs []wal.Record
	require.NoError(t, log.View(func(tx *wal.Tx) (err error) {
		recs, err = logtest.Records(tx, id, 1)
		return err
	}))
	var types []wal.Type
	for _, r := range recs {
		types = append(types, r.Type)
	}
	require.Equal(t, []wal.Type{ledger.TypePrepared, ledger.TypeCommitted, ledger.TypeSettled, ledger.TypeSettled}, types, "PREPARED places the holds")
	prepared := &storagev1.Prepared{}
	require.NoError(t, proto.Unmarshal(recs[0].Payload, prepared))
	require.True(t, prepared.HoldsPlaced)
	for i, want := range []*storagev1.Settled{
		{Number: "1001", Direction: strifev1.Direction_DIRECTION_DEBIT, Amount: 300, BalanceAfter: 200, Memo: "rent", Counterparty: "BankB/2001"},
		{Number: "1002", Direction: strifev1.Direction_DIRECTION_CREDIT, Amount: 300, BalanceAfter: 400, Memo: "rent", Counterparty: "BankB/2001"},
	} {
		got := &storagev1.Settled{}
		require.NoError(t, proto.Unmarshal(recs[2+i].Payload, got))
		require.NotZero(t, got.TimeUnixNano)
		got.TimeUnixNano = 0
		require.True(t, proto.Equal(want, got), "want {%v}, got {%v}", want, got)
	}
}
