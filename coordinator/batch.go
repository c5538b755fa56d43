package coordinator

import (
	"context"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// BatchConfig bounds how a GRPCParticipant batches. Zero values take the
// defaults.
type BatchConfig struct {
	// MaxItems is the most messages one Batch call carries; more queued
	// go in the calls after it. Default 512 (a bank takes up to 1024).
	MaxItems int
	// MaxQueued is the most messages queued or in flight to the bank:
	// past it, callers wait for room (back-pressure), until their context
	// ends. Default 8192.
	MaxQueued int
	// Timeout bounds a Batch call whose messages have no deadline of their
	// own. Default 10s.
	Timeout time.Duration
	// Linger is how long a rider (a Commit or an Abort: a decision already
	// durable, delivered off any client's wait) that finds no call in flight
	// waits for a message that starts one, to ride with it, before it
	// starts one itself. Default 5ms; riders never wait while a call is in
	// flight: they go in the next.
	Linger time.Duration
}

func (c BatchConfig) withDefaults() BatchConfig {
	if c.MaxItems <= 0 {
		c.MaxItems = 512
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = 8192
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Linger <= 0 {
		c.Linger = 5 * time.Millisecond
	}
	return c
}

// sendFunc makes one Batch call.
type sendFunc func(ctx context.Context, items []*strifev1.BatchItem) ([]*strifev1.BatchResult, error)

// batcher turns the messages that concurrent callers send to one bank into
// Batch calls, adaptively and with no timer: while a call is in flight,
// new messages queue; when it returns, everything queued (up to MaxItems)
// goes in the next call. At most one call is in flight, so messages reach
// the bank in the order they were queued. A caller that finds no call in
// flight sends its message at once, on its own goroutine: a lone payer
// sends batches of one and waits for nothing else. When a call returns, its
// sender hands the next one to the first caller still queued, as the
// write-ahead log hands on its commits (wal.Log.Append).
//
// A rider is a message no client waits for (see BatchConfig.Linger): one
// that finds no call in flight does not start one at once, but waits
// Linger for a message that does, so that a bank applies the Commit of one
// payment with the Prepare of the next in one commit instead of two.
type batcher struct {
	send  sendFunc
	cfg   BatchConfig
	slots chan struct{} // one per message queued or in flight: back-pressure

	mu        sync.Mutex
	queue     []*pending
	sending   bool // a call is in flight, or about to be
	lingering bool // a timer will start a call for the riders queued
}

func newBatcher(send sendFunc, cfg BatchConfig) *batcher {
	cfg = cfg.withDefaults()
	return &batcher{send: send, cfg: cfg, slots: make(chan struct{}, cfg.MaxQueued)}
}

// state is where a pending message stands; mu guards it.
type state int

const (
	queued   state = iota
	chosen         // at the head of the queue, told to send the next call
	sent           // in a call
	answered       // res and err are set
)

// pending is one message waiting for its answer.
type pending struct {
	ctx   context.Context
	item  *strifev1.BatchItem
	rider bool
	state state
	wake  chan struct{} // a value when chosen, and another when answered
	res   *strifev1.BatchResult
	err   error
}

// do sends item in the next Batch call and returns its result, or the
// error of the whole call, or ctx's error if ctx ends first (the message
// may still have been applied, as with any call that times out). A rider
// waits up to Linger for a call to ride with.
func (b *batcher) do(ctx context.Context, item *strifev1.BatchItem, rider bool) (*strifev1.BatchResult, error) {
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p := &pending{ctx: ctx, item: item, rider: rider, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	lead := !b.sending && !rider
	switch {
	case lead:
		b.sending, p.state = true, chosen
	case !b.sending:
		b.lingerLocked()
	}
	b.mu.Unlock()
	if !lead {
		select {
		case <-p.wake:
		case <-ctx.Done():
			if !b.abandon(p) {
				return nil, ctx.Err()
			}
		}
	}
	if b.isChosen(p) {
		b.sendNext()
		<-p.wake // the call it just made answered it, or dropped it
	}
	return p.res, p.err
}

// lingerLocked makes sure a timer will start a call for the riders queued,
// if no other message starts one first. mu must be held.
func (b *batcher) lingerLocked() {
	if !b.lingering {
		b.lingering = true
		time.AfterFunc(b.cfg.Linger, b.lingered)
	}
}

// lingered starts a call for the riders still queued, unless a call is in
// flight (they go in the next) or the queue is empty.
func (b *batcher) lingered() {
	b.mu.Lock()
	b.lingering = false
	if b.sending || len(b.queue) == 0 {
		b.mu.Unlock()
		return
	}
	b.sending = true
	b.mu.Unlock()
	b.sendNext()
}

// abandon takes p, whose caller gives up, out of the queue if it is still
// there, and reports whether p must still send the next call (it was
// chosen: the call must be made, for the others queued).
func (b *batcher) abandon(p *pending) (mustSend bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch p.state {
	case queued:
		b.queue = slices.DeleteFunc(b.queue, func(q *pending) bool { return q == p })
		p.state, p.err = answered, p.ctx.Err()
		<-b.slots
	case chosen:
		<-p.wake // the signal that chose it
		return true
	}
	return false
}

func (b *batcher) isChosen(p *pending) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return p.state == chosen
}

// sendNext makes one Batch call with the messages at the head of the
// queue, answers them, and hands the next call to the first message queued
// meanwhile, if a message that is not a rider is queued: riders alone
// linger.
func (b *batcher) sendNext() {
	batch := b.take()
	if len(batch) > 0 {
		items := make([]*strifev1.BatchItem, len(batch))
		for i, p := range batch {
			items[i] = p.item
		}
		ctx, cancel := context.WithDeadline(context.Background(), b.deadline(batch))
		results, err := b.send(ctx, items)
		cancel()
		if err == nil && len(results) != len(items) {
			err = status.Errorf(codes.Internal, "bank answered %d items of %d", len(results), len(items))
		}
		b.mu.Lock()
		for i, p := range batch {
			if err != nil {
				p.err = err
			} else {
				p.res = results[i]
			}
			b.answerLocked(p)
		}
		b.mu.Unlock()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !slices.ContainsFunc(b.queue, func(p *pending) bool { return !p.rider }) {
		b.sending = false // riders only, or nothing: they linger
		if len(b.queue) > 0 {
			b.lingerLocked()
		}
		return
	}
	b.queue[0].state = chosen // it sends the next call, with every message before its turn
	b.queue[0].wake <- struct{}{}
}

// take removes up to MaxItems messages from the head of the queue for the
// next call. Those whose caller has given up already are answered with
// their context's error and not sent.
func (b *batcher) take() []*pending {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.queue), b.cfg.MaxItems)
	var batch []*pending
	for _, p := range b.queue[:n] {
		if err := p.ctx.Err(); err != nil {
			p.err = err
			b.answerLocked(p)
			continue
		}
		p.state = sent
		batch = append(batch, p)
	}
	b.queue = slices.Delete(b.queue, 0, n)
	return batch
}

// answerLocked tells p's caller its answer is set. mu must be held.
func (b *batcher) answerLocked(p *pending) {
	p.state = answered
	p.wake <- struct{}{}
	<-b.slots
}

// deadline is the latest of the batch's deadlines: the call serves all of
// them. Messages without one get Timeout from now.
func (b *batcher) deadline(batch []*pending) time.Time {
	var latest time.Time
	for _, p := range batch {
		d, ok := p.ctx.Deadline()
		if !ok {
			d = time.Now().Add(b.cfg.Timeout)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return latest
}

// errorOf is the error an item's result carries, as the single call would
// have returned it; nil if the result is not an error.
func errorOf(res *strifev1.BatchResult) error {
	if e := res.GetError(); e != nil {
		return status.Error(codes.Code(e.GetCode()), e.GetMessage())
	}
	return nil
}

// unexpected is the error for a result of the wrong kind.
func unexpected(res *strifev1.BatchResult, want string) error {
	return status.Errorf(codes.Internal, "bank answered a %s with %T", want, res.GetResult())
}
