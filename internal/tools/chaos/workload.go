package chaos

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/internal/tools/client"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// Final answers of a payment, as the client tells them (client.Outcome),
// and what a payment without one is called at the end.
const (
	Committed = string(client.OutcomeCommitted)
	Failed    = string(client.OutcomeFailed)
	Rejected  = string(client.OutcomeRejected)
	Pending   = "PENDING"
)

// payment is one payment as the workload sent it and was answered.
type payment struct {
	id       ulid.ULID
	payer    string
	from, to string // "<bank>/<number>"
	amount   int64
	sends    int
	// final is Committed, Failed or Rejected once answered so, else "".
	final  string
	reason string // the FAILED reason, or the REJECTED status
}

// record keeps every payment in memory and every request and answer in a
// line log, payments.log in the run directory, for a post-mortem:
//
//	<time RFC3339Nano> send   <id> <payer> <from> <to> <amount> <n-th send>
//	<time RFC3339Nano> answer <id> <PENDING|COMMITTED|FAILED|REJECTED|error> <detail>
//
// Lines are written in the order they happen; the file is flushed every
// second and at the end.
type record struct {
	mu       sync.Mutex
	payments map[ulid.ULID]*payment
	order    []*payment
	w        *bufio.Writer
	f        *os.File
}

func newRecord(path string) (*record, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &record{payments: map[ulid.ULID]*payment{}, f: f, w: bufio.NewWriter(f)}, nil
}

func (r *record) line(format string, args ...any) {
	fmt.Fprintf(r.w, "%s ", time.Now().UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(r.w, format, args...)
	r.w.WriteByte('\n')
}

func (r *record) send(p *payment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.payments[p.id]; !ok {
		r.payments[p.id] = p
		r.order = append(r.order, p)
	}
	p.sends++
	r.line("send   %s %s %s %s %d %d", p.id, p.payer, p.from, p.to, p.amount, p.sends)
}

func (r *record) answer(p *payment, outcome, detail string, final bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if final {
		p.final, p.reason = outcome, detail
	}
	r.line("answer %s %s %s", p.id, outcome, detail)
}

func (r *record) flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.w.Flush()
}

func (r *record) close() error {
	err := r.flush()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// snapshot returns the payments in the order they were first sent.
func (r *record) snapshot() []payment {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]payment, len(r.order))
	for i, p := range r.order {
		out[i] = *p
	}
	return out
}

// payer is one customer paying, one payment at a time.
type payer struct {
	user, password string
	account        string // "<bank>/<number>"
	opening        int64
	api            strifev1.GatewayServiceClient
	token          string
}

// callTimeout bounds every call a payer makes: a stopped gateway must cost
// a payer a retry, not the run.
const callTimeout = 3 * time.Second

// login logs the payer in, retrying until ctx ends.
func (p *payer) login(ctx context.Context) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		resp, err := p.api.Login(cctx, &strifev1.LoginRequest{Username: p.user, Password: p.password})
		cancel()
		if err == nil {
			p.token = resp.GetToken()
			return nil
		}
		if !sleep(ctx, 200*time.Millisecond) {
			return fmt.Errorf("chaos: login %s: %w", p.user, err)
		}
	}
}

// run pays until paying ends, then finishes the payment in flight until
// answering ends: each payment gets a fresh ULID and is sent again under
// the same ID, as a client's queue does, until its answer is final.
func (p *payer) run(paying, answering context.Context, rng *rand.Rand, payees []string, rec *record) {
	for paying.Err() == nil {
		to := payees[rng.IntN(len(payees))]
		for to == p.account {
			to = payees[rng.IntN(len(payees))]
		}
		pay := &payment{id: ulid.Make(), payer: p.user, from: p.account, to: to, amount: 1 + rng.Int64N(maxAmount)}
		p.untilFinal(answering, pay, rec)
	}
}

// maxAmount bounds a payment's amount: a payer who starts with funds can
// make about 20 payments before it runs short, so that FAILED for
// insufficient funds is common without the poor payers.
const maxAmount = 10_000

// untilFinal sends pay until its answer is final or ctx ends, with a
// backoff between sends.
func (p *payer) untilFinal(ctx context.Context, pay *payment, rec *record) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		rec.send(pay)
		outcome, detail := p.send(ctx, pay)
		final := outcome == Committed || outcome == Failed || outcome == Rejected
		rec.answer(pay, outcome, detail, final)
		if final {
			return
		}
		if outcome == codes.Unauthenticated.String() && p.login(ctx) != nil {
			return
		}
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, time.Second)
	}
}

// send sends pay once and classifies the answer as the client does
// (client.Sender): COMMITTED and FAILED are final, PENDING is not; an
// error that means the gateway could not be reached, or a refused login,
// is retried; any other error is a final refusal, REJECTED.
func (p *payer) send(ctx context.Context, pay *payment) (outcome, detail string) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+p.token)
	resp, err := p.api.Pay(ctx, &strifev1.PayRequest{TransactionId: pay.id.String(), FromAccount: pay.from,
		Payee: &strifev1.PayRequest_ToAccount{ToAccount: pay.to}, Amount: pay.amount, Memo: "chaos"}, grpc.WaitForReady(false))
	switch code := status.Code(err); {
	case err == nil:
	case client.Unreachable(err), code == codes.Unauthenticated:
		return code.String(), status.Convert(err).Message()
	default:
		return Rejected, code.String() + ": " + status.Convert(err).Message()
	}
	switch pm := resp.GetPayment(); pm.GetStatus() {
	case strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED:
		return Committed, ""
	case strifev1.PaymentStatus_PAYMENT_STATUS_FAILED:
		return Failed, client.ReasonText(pm.GetReason())
	default:
		return Pending, client.ReasonText(pm.GetReason())
	}
}

// sleep waits for d or until ctx ends, and reports whether ctx is still
// going.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
