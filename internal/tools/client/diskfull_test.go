package client_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/internal/tools/client"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// failingPay is a gateway whose Pay fails with code, without reaching the
// real one, while failing is set.
type failingPay struct {
	strifev1.GatewayServiceClient
	code    codes.Code
	failing atomic.Bool
}

func (f *failingPay) Pay(ctx context.Context, req *strifev1.PayRequest, opts ...grpc.CallOption) (*strifev1.PayResponse, error) {
	if f.failing.Load() {
		return nil, status.Error(f.code, "cannot write to disk")
	}
	return f.GatewayServiceClient.Pay(ctx, req, opts...)
}

// A gateway that answers UNAVAILABLE (its disk is full) or INTERNAL (it
// failed) has not refused the payment: it stays queued, and is sent again,
// once, under its ID, when the gateway works again.
func TestPayTheGatewayCouldNotDecideStaysQueuedAndGoesOutLater(t *testing.T) {
	for _, code := range []codes.Code{codes.Unavailable, codes.Internal} {
		t.Run(code.String(), func(t *testing.T) {
			w := newWorld(t)
			c := w.open(t, w.login(t, "alice"))
			defer c.Close()
			s := c.Sender()
			gw := &failingPay{GatewayServiceClient: s.API, code: code}
			gw.failing.Store(true)
			s.API = gw

			r, err := s.Pay(t.Context(), payTo("bob", 700))
			require.NoError(t, err)
			require.Equal(t, client.OutcomeQueued, r.Outcome)
			pending, err := c.Queue.Pending()
			require.NoError(t, err)
			require.Equal(t, []string{r.Entry.ID()}, ids(pending))
			done, err := c.Queue.Done()
			require.NoError(t, err)
			require.Empty(t, done, "not refused")

			gw.failing.Store(false)
			results, err := s.Flush(t.Context())
			require.NoError(t, err)
			require.Len(t, results, 1)
			require.Equal(t, client.OutcomeCommitted, results[0].Outcome)
			require.Equal(t, r.Entry.ID(), results[0].Entry.ID())
			require.Equal(t, 1, w.debits(t, "BankA", "1001", r.Entry.ID()))
		})
	}
}
