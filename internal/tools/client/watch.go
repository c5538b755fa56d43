package client

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/internal/plumbing/backoff"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// WatchEvent is one line of `watch --json`.
type WatchEvent struct {
	// Event is "outcome" (a payment of the local queue reached a final
	// status) or "payment" (the gateway reported a status change of a
	// payment you made or receive).
	Event string `json:"event"`
	PaymentJSON
}

func watchCommand() *cobra.Command {
	var cfg Config
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Resend queued payments and print every payment outcome as it happens",
		Long: `Resend the local queue in the background (at once when the gateway comes
back, else with backoff up to 30s) and print each final outcome, and every
status change the gateway reports for your payments, until interrupted
(or for --for). Whenever the stream is opened again (the gateway restarted,
the watch fell behind), the changes made meanwhile are caught up from the
payment history, so none is missed. If the login token expires or is
revoked while watching (logout, password or role change, lock), watch says
so on standard error and waits for a new login (` + "`strife login`" + `
in another terminal), then resumes the same way. A token refused from the
start ends watch with "log in again".

--json prints one object per line: {"event": "outcome" or "payment", and the
payment fields: "transaction_id", "status", "reason", "message",
"from_account", "to", "amount", "amount_text", "memo", "attempts",
"created_at"}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(cfg, true)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			return c.watch(ctx, newPrinter(cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg.JSON))
		},
	}
	addFlags(cmd, &cfg)
	cmd.Flags().DurationVar(&duration, "for", 0, "stop after this long (default: until interrupted)")
	return cmd
}

// printer writes watch events from two goroutines, a line at a time, and
// notices for the user to errw.
type printer struct {
	mu      sync.Mutex
	w, errw io.Writer
	json    bool
}

func newPrinter(w, errw io.Writer, json bool) *printer { return &printer{w: w, errw: errw, json: json} }

func (p *printer) notice(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.errw, msg)
}

func (p *printer) print(ev WatchEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		_ = writeJSON(p.w, ev)
		return
	}
	fmt.Fprintf(p.w, "%s %s %s %s to %s %s\n", ev.Event, ev.TransactionID, ev.Status, ev.AmountText, ev.To, ev.Reason)
}

// watch resends the queue and follows the gateway's payment events until
// ctx ends. It returns ErrLoginAgain when the token is refused.
func (c *Client) watch(ctx context.Context, p *printer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- c.Sender().Run(ctx, func(r *Result) { p.print(WatchEvent{Event: "outcome", PaymentJSON: resultJSON(r)}) })
		cancel()
	}()
	err := c.follow(ctx, p)
	cancel()
	return cmp.Or(err, <-errc)
}

// follow prints WatchPayments events, reopening the stream after failures,
// until ctx ends. Each time the stream is open again (headers received: the
// watch is registered), it catches up with ListPayments, so that no change
// made between two streams is missed. A token refused once the stream had
// run (expired or revoked) makes it wait for a new login; a token refused
// from the start ends it (ErrLoginAgain).
func (c *Client) follow(ctx context.Context, p *printer) error {
	delay := MinBackoff
	seen := map[string]string{} // transaction ID -> watchState of the last change known
	opened := false
	for ctx.Err() == nil {
		sctx, cancel := context.WithCancel(ctx) // ends the stream if the catch-up fails
		stream, err := c.openWatch(sctx)
		if err == nil {
			err = c.catchUp(ctx, p, seen, opened)
		}
		if err == nil {
			opened, delay = true, MinBackoff
		}
		for err == nil {
			var ev *strifev1.PaymentEvent
			if ev, err = stream.Recv(); err == nil {
				seen[ev.GetPayment().GetTransactionId()] = watchState(ev.GetPayment())
				p.print(WatchEvent{Event: "payment", PaymentJSON: paymentJSON(ev.GetPayment())})
			}
		}
		cancel()
		if status.Code(err) == codes.Unauthenticated {
			if !opened {
				return ErrLoginAgain
			}
			p.notice("the login token expired or was revoked: log in again with `strife login`; watch resumes when you do")
			if err := c.awaitLogin(ctx); err != nil {
				return nil // ctx ended
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff.Jitter(delay)):
		}
		delay = min(2*delay, MaxBackoff)
	}
	return nil
}

// openWatch opens WatchPayments and waits for its headers: from then on,
// every change reaches the stream.
func (c *Client) openWatch(ctx context.Context) (grpc.ServerStreamingClient[strifev1.PaymentEvent], error) {
	stream, err := c.API.WatchPayments(c.Auth(ctx), &strifev1.WatchPaymentsRequest{})
	if err == nil {
		_, err = stream.Header()
	}
	return stream, err
}

// catchUp lists the user's payments and records the state of each in
// seen; with print, it prints those whose state differs from seen's (the
// changes made while no stream was open). The first catch-up of a watch
// prints nothing: a watch reports changes from when it starts. It lists
// the whole history, a page of 1000 at a time.
func (c *Client) catchUp(ctx context.Context, p *printer, seen map[string]string, print bool) error {
	req := &strifev1.ListPaymentsRequest{PageSize: 1000}
	for {
		resp, err := c.API.ListPayments(c.Auth(ctx), req)
		if err != nil {
			return err
		}
		for _, pay := range resp.GetPayments() {
			id, state := pay.GetTransactionId(), watchState(pay)
			if print && seen[id] != state {
				p.print(WatchEvent{Event: "payment", PaymentJSON: paymentJSON(pay)})
			}
			seen[id] = state
		}
		if resp.GetNextPageToken() == "" || len(resp.GetPayments()) == 0 {
			return nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// watchState is what a change of a payment changes: its status, reason and
// whether it settled.
func watchState(p *strifev1.Payment) string {
	return fmt.Sprintf("%v %v %t", p.GetStatus(), p.GetReason(), p.GetSettledAt() != nil)
}

// LoginPoll is how often a watch whose token was refused looks for a new
// login.
const LoginPoll = 500 * time.Millisecond

// awaitLogin waits until the state directory holds a session with another
// token (a new `strife login`) and makes it the client's, or until ctx
// ends (its error).
func (c *Client) awaitLogin(ctx context.Context) error {
	c.sessionMu.Lock()
	old := c.Session
	c.sessionMu.Unlock()
	for {
		if s, err := LoadSession(c.Config.StateDir); err == nil && (old == nil || s.Token != old.Token) {
			c.sessionMu.Lock()
			c.Session = s
			c.sessionMu.Unlock()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(LoginPoll):
		}
	}
}
