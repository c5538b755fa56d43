package coordinator_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/coordinator"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// batchFault fails the Batch calls of one bank connection with a code,
// while it is set, before they reach the bank: the bank answering a whole
// batch with an error.
type batchFault struct {
	mu      sync.Mutex
	code    codes.Code                     // OK: calls pass
	matches func(*strifev1.BatchItem) bool // which batches fail: those with such an item
}

func (f *batchFault) set(code codes.Code, matches func(*strifev1.BatchItem) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.code, f.matches = code, matches
}

func (f *batchFault) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	f.mu.Lock()
	code, matches := f.code, f.matches
	f.mu.Unlock()
	if b, ok := req.(*strifev1.BatchRequest); ok && code != codes.OK {
		for _, item := range b.GetItems() {
			if matches(item) {
				return status.Error(code, "fault injected into the batch")
			}
		}
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// faultyBankB puts a batchFault on the coordinator's connection to BankB.
func (w *world) faultyBankB(t *testing.T) *batchFault {
	f := &batchFault{}
	conn := w.pki.Dial(t, w.banks["BankB"].Addr(), certs.RoleGateway, "gateway-1", grpc.WithChainUnaryInterceptor(f.intercept))
	w.dir.wrap("BankB", func(coordinator.Participant) coordinator.Participant { return coordinator.NewGRPCParticipant(conn) })
	return f
}

// slowMachine is a PrepareTimeout for tests in which no call is meant to
// time out (the faults answer at once, DEADLINE_EXCEEDED included): a real
// Prepare on a loaded machine, under the race detector, can take longer
// than a few hundred milliseconds, and would fail the payment with
// PREPARE_TIMEOUT.
const slowMachine = 10 * time.Second

func isPrepare(item *strifev1.BatchItem) bool { return item.GetPrepare() != nil }
func isCommit(item *strifev1.BatchItem) bool  { return item.GetCommit() != nil }

// A bank that fails a whole batch fails each message in it as the single
// call would have failed: the coordinator treats every payment of the batch
// as it treats that call's error today.
func TestABatchFailedAsAWholeIsEachMessageFailing(t *testing.T) {
	for _, tc := range []struct {
		code   codes.Code
		status strifev1.PaymentStatus
		reason strifev1.Reason
	}{
		{codes.Unavailable, coordinator.Pending, strifev1.Reason_REASON_UNSPECIFIED}, // held, tried again
		{codes.DeadlineExceeded, coordinator.Failed, strifev1.Reason_REASON_PREPARE_TIMEOUT},
		{codes.InvalidArgument, coordinator.Failed, strifev1.Reason_REASON_REJECTED},
	} {
		t.Run(tc.code.String(), func(t *testing.T) {
			w := newWorld(t, coordinator.Config{PrepareTimeout: slowMachine, RetryMin: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond})
			fault := w.faultyBankB(t)
			fault.set(tc.code, isPrepare)
			id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
			p, _ := w.payID(t, id, params)
			require.Equal(t, tc.status, p.Status)
			require.Equal(t, tc.reason, p.Reason)
			fault.set(codes.OK, nil)
			p = w.requireAllOrNothing(t, id, params)
			if tc.status == coordinator.Pending {
				require.Equal(t, coordinator.Committed, p.Status, "committed once the bank answers again")
				require.Greater(t, p.Attempt, uint32(1))
			}
		})
	}
	t.Run("commits", func(t *testing.T) {
		w := newWorld(t, coordinator.Config{PrepareTimeout: slowMachine, RetryMin: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond})
		fault := w.faultyBankB(t)
		fault.set(codes.Unavailable, isCommit)
		id, params := ulid.Make(), pay("BankA/1001", "BankB/2001", 100)
		p, _ := w.payID(t, id, params)
		require.Equal(t, coordinator.Committed, p.Status, "the decision stands; its delivery is retried")
		require.Empty(t, w.entries(t, "BankB/2001", id), "not delivered while the bank fails it")
		fault.set(codes.OK, nil)
		w.requireAllOrNothing(t, id, params)
	})
}
