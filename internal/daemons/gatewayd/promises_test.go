package gatewayd_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// A watcher that falls 64 notifications behind is dropped rather than slow
// payments down (DESIGN.md, coordinator's broker): the client sees its
// stream end with UNAVAILABLE "watcher fell behind; watch again".
//
// To fall behind, the client stops reading. gRPC flow control then stops
// the gateway's handler in Send once the client's stream window (64 KiB
// here: a fixed window, so the BDP estimator cannot grow it) and the
// server's write quota (64 KiB) are full, and the broker's buffer of 64
// fills behind it. With events of about 400 bytes, 423 notifications reach
// the client before the end (measured); the payments below make 2 each
// (PENDING, COMMITTED), 900 in all.
func TestWatcherThatFallsBehindIsDropped(t *testing.T) {
	const payments = 450
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)

	// The watch has a connection of its own with a small fixed window.
	tlsConfig, err := certs.ClientConfig(e.pki.Files(t, certs.RoleClient, "alice-laptop"), "")
	require.NoError(t, err)
	conn, err := rpc.Dial(e.gw.Addr(), tlsConfig, grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(alice.ctx, time.Minute) // bounds every Pay and Recv below
	defer cancel()
	stream, err := strifev1.NewGatewayServiceClient(conn).WatchPayments(ctx, &strifev1.WatchPaymentsRequest{})
	require.NoError(t, err)
	_, err = stream.Header() // the watch is registered
	require.NoError(t, err)

	memo := strings.Repeat("m", 256) // the longest: fewer payments fill the windows
	ids := make(chan ulid.ULID, payments)
	for range payments {
		ids <- ulid.Make()
	}
	close(ids)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for id := range ids {
				req := toUser(id, "carol", 1)
				req.Memo = memo
				resp, err := alice.Pay(ctx, req)
				if err == nil && resp.GetPayment().GetStatus() != committed {
					err = fmt.Errorf("payment %s is %v", id, resp.GetPayment().GetStatus())
				}
				if err != nil {
					t.Error(err) // not require: this is not the test's goroutine
					return
				}
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())

	// Now read: what the windows and the broker's buffer held, then the end.
	received := 0
	for {
		_, err = stream.Recv()
		if err != nil {
			break
		}
		received++
	}
	requireCode(t, codes.Unavailable, err, "after %d events", received)
	require.Equal(t, "watcher fell behind; watch again", status.Convert(err).Message())
	require.Less(t, received, 2*payments, "notifications were dropped")

	// Watching again works, and ListPayments has every payment to catch up.
	again, err := alice.WatchPayments(alice.ctx, &strifev1.WatchPaymentsRequest{})
	require.NoError(t, err)
	_, err = again.Header()
	require.NoError(t, err)
	list, err := alice.ListPayments(alice.ctx, &strifev1.ListPaymentsRequest{PageSize: 1000})
	require.NoError(t, err)
	require.Len(t, list.GetPayments(), payments)
}

// GetBalance is all or nothing (DESIGN.md): with one of the user's banks
// stopped it fails UNAVAILABLE, rather than answer with the accounts of the
// banks that are up, which would look like the complete list.
func TestGetBalanceFailsWhenOneOfTheBanksIsDown(t *testing.T) {
	e := newEnv(t)
	_, err := e.bankClients["BankB"].OpenAccount(t.Context(), &strifev1.OpenAccountRequest{Number: "2002", Owner: "alice", OpeningBalance: 500})
	require.NoError(t, err)
	alice := e.login(t, "alice", alicePassword)
	_, err = alice.UpdateClientDetails(alice.ctx, &strifev1.UpdateClientDetailsRequest{LinkAccount: "BankB/2002"})
	require.NoError(t, err)

	balance, err := alice.GetBalance(alice.ctx, &strifev1.GetBalanceRequest{})
	require.NoError(t, err)
	require.Len(t, balance.GetAccounts(), 2, "one account at each bank")

	require.NoError(t, e.banks["BankB"].Stop())
	ctx, cancel := context.WithTimeout(alice.ctx, 10*time.Second)
	defer cancel()
	balance, err = alice.GetBalance(ctx, &strifev1.GetBalanceRequest{})
	requireCode(t, codes.Unavailable, err)
	require.Empty(t, balance.GetAccounts(), "no partial answer")
}

// A bank refusing the gateway must not look like the client being refused
// (bankError, DESIGN.md): the bank's PERMISSION_DENIED reaches the client
// as INTERNAL "internal error", and the gateway logs what the bank said.
//
// The bank refuses because the gateway presents a certificate of another
// role than gateway, as a misconfigured deployment would: the policy lets
// only gateway certificates call BankService.
func TestABankRefusingTheGatewayIsNotTheClientBeingRefused(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.gw.Stop())
	e.cfg.TLS = e.pki.Files(t, certs.RoleAdmin, "misissued-gateway")
	e.start(t) // same data dir: the users are there, no seeding
	e.logs.Reset()
	e.bankLogs["BankA"].Reset()

	alice := e.login(t, "alice", alicePassword)
	_, err := alice.GetBalance(alice.ctx, &strifev1.GetBalanceRequest{})
	requireCode(t, codes.Internal, err, "not PERMISSION_DENIED: alice may read her balance")
	require.Equal(t, "internal error", status.Convert(err).Message(), "the bank's wording is not the gateway's API")

	// The bank did refuse the gateway...
	refused := e.bankLogs["BankA"].lines(t, "grpc call", "/strife.v1.BankService/GetAccount")
	require.NotEmpty(t, refused, "the bank logged no GetAccount call")
	for _, entry := range refused {
		require.Equal(t, "PermissionDenied", entry["code"], entry)
		require.Equal(t, "misissued-gateway", entry["program"], entry)
	}

	// ...and the gateway's log says so, for the operator.
	logged := e.logs.lines(t, "internal error", "GetBalance")
	require.NotEmpty(t, logged, "the gateway logged no internal error for GetBalance")
	for _, entry := range logged {
		require.Contains(t, entry["error"], "the bank of BankA/1001 answered PermissionDenied", entry)
	}
}
