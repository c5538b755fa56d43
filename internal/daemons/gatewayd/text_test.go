package gatewayd_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/strife-pay/strife/certs"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// TestBearerSchemeInAnyCase: the scheme of the authorization metadata is
// case-insensitive (RFC 7235 section 2.1, RFC 6750 section 2.1); a real
// gateway over mutual TLS takes "bearer" and "BEARER" as it takes "Bearer".
func TestBearerSchemeInAnyCase(t *testing.T) {
	e := newEnv(t)
	token := bearerOf(t, e.login(t, "alice", alicePassword))
	c := e.client(t, certs.RoleClient, "alice-laptop")
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", scheme+" "+token)
		_, err := c.GetBalance(ctx, &strifev1.GetBalanceRequest{})
		require.NoError(t, err, scheme)
	}
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Basic "+token)
	_, err := c.GetBalance(ctx, &strifev1.GetBalanceRequest{})
	requireCode(t, codes.Unauthenticated, err, "another scheme")
}

// rawCodec sends a request's bytes as they are, so that a test can send
// what a protobuf library would refuse to marshal.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { return nil }
func (rawCodec) Name() string                       { return "proto" }

// TestInvalidUTF8IsRefusedByTheCodec: a string field of invalid UTF-8 sent
// over the wire, to the gateway's Pay or a bank's Prepare, is refused by
// the gRPC server's protobuf codec before any interceptor or handler runs
// (INTERNAL, naming the invalid UTF-8; grpc-go gives every decoding error
// that code). Nothing is stored, and the servers keep serving.
func TestInvalidUTF8IsRefusedByTheCodec(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice", alicePassword)
	invalid := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		return bytes.Replace(b, []byte("MEMO"), []byte("\xff\xfe\x1b\x00"), 1)
	}
	call := func(ctx context.Context, conn grpc.ClientConnInterface, method string, req []byte) error {
		return conn.Invoke(ctx, method, req, new([]byte), grpc.ForceCodec(rawCodec{}))
	}

	pay := toUser(ulid.Make(), "bob", 100)
	pay.Memo = "MEMO"
	gw := e.pki.Dial(t, e.gw.Addr(), certs.RoleClient, "alice-laptop")
	err := call(alice.ctx, gw, "/strife.v1.GatewayService/Pay", invalid(pay))
	requireCode(t, codes.Internal, err)
	require.Contains(t, status.Convert(err).Message(), "invalid UTF-8")
	_, err = alice.GetPayment(alice.ctx, &strifev1.GetPaymentRequest{TransactionId: pay.TransactionId})
	requireCode(t, codes.NotFound, err, "the payment was stored")

	prepare := &strifev1.PrepareRequest{TransactionId: ulid.Make().String(), Attempt: 1, Memo: "MEMO",
		Legs: []*strifev1.Leg{{Account: "1001", Direction: strifev1.Direction_DIRECTION_DEBIT, Amount: 100, Counterparty: "BankB/2001"}}}
	bank := e.pki.Dial(t, e.banks["BankA"].Addr(), certs.RoleGateway, "gateway-1")
	err = call(t.Context(), bank, "/strife.v1.BankService/Prepare", invalid(prepare))
	requireCode(t, codes.Internal, err)
	require.Contains(t, status.Convert(err).Message(), "invalid UTF-8")
	require.Zero(t, e.account(t, "BankA/1001").GetHeld(), "the bank placed a hold")

	_, err = alice.GetBalance(alice.ctx, &strifev1.GetBalanceRequest{})
	require.NoError(t, err, "the gateway stopped serving")
}

// The payment and the owner of testdata/old-text, written before the rule.
const (
	oldTextID    = "01KBJ0A0TEXT00000000000000"
	oldTextMemo  = "\x1b[31mrent\nfor March\u202Etxt.exe"
	oldTextOwner = "mallory\u202Eyrollam"
)

// TestOldLogsWithRefusedTextStillServe: logs written before the free-text
// rule, with a memo and an owner it now refuses (testdata/old-text), open
// and serve. The old payment lists and reads as it was stored, and a retry
// of it gets the payment, not INVALID_ARGUMENT, which would tell its
// client the money did not move; the same memo on a new payment, and the
// same owner on a new account, are refused.
func TestOldLogsWithRefusedTextStillServe(t *testing.T) {
	e := newEnvFrom(t, "../../../testdata/old-text")
	alice := e.login(t, "alice", alicePassword)

	got, err := alice.GetPayment(alice.ctx, &strifev1.GetPaymentRequest{TransactionId: oldTextID})
	require.NoError(t, err)
	require.Equal(t, oldTextMemo, got.GetPayment().GetMemo())
	require.Equal(t, committed, got.GetPayment().GetStatus())

	retry := toUser(ulid.MustParse(oldTextID), "bob", 250)
	retry.Memo = oldTextMemo
	again := alice.pay(t, retry)
	require.Equal(t, committed, again.GetStatus(), "a retry of the old payment")
	require.Equal(t, oldTextID, again.GetTransactionId())

	fresh := toUser(ulid.Make(), "bob", 250)
	fresh.Memo = oldTextMemo
	_, err = alice.Pay(alice.ctx, fresh)
	requireCode(t, codes.InvalidArgument, err, "the old memo on a new payment")

	require.Equal(t, oldTextOwner, e.account(t, "BankA/1005").GetOwner())
	_, err = e.bankClients["BankA"].OpenAccount(t.Context(), &strifev1.OpenAccountRequest{Number: "1006", Owner: oldTextOwner})
	requireCode(t, codes.InvalidArgument, err, "the old owner on a new account")
	entries := e.entries(t, "BankB/2001", ulid.MustParse(oldTextID))
	require.Len(t, entries, 1)
	require.Equal(t, oldTextMemo, entries[0].GetMemo())
}
