package client

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/internal/backoff"
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
(or for --for).

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
			return c.watch(ctx, newPrinter(cmd.OutOrStdout(), cfg.JSON))
		},
	}
	addFlags(cmd, &cfg)
	cmd.Flags().DurationVar(&duration, "for", 0, "stop after this long (default: until interrupted)")
	return cmd
}

// printer writes watch events from two goroutines, a line at a time.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

func newPrinter(w io.Writer, json bool) *printer { return &printer{w: w, json: json} }

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
// until ctx ends or the token is refused (ErrLoginAgain).
func (c *Client) follow(ctx context.Context, p *printer) error {
	delay := MinBackoff
	for ctx.Err() == nil {
		stream, err := c.API.WatchPayments(c.Auth(ctx), &strifev1.WatchPaymentsRequest{})
		for err == nil {
			var ev *strifev1.PaymentEvent
			if ev, err = stream.Recv(); err == nil {
				delay = MinBackoff
				p.print(WatchEvent{Event: "payment", PaymentJSON: paymentJSON(ev.GetPayment())})
			}
		}
		if status.Code(err) == codes.Unauthenticated {
			return ErrLoginAgain
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff.Jitter(delay)):
		}
		delay = min(2*delay, MaxBackoff)
	}
	return nil
}
