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
	// durable, delivered off any client's wait) waits for a Prepare or a
	// Resolve to ride with, before a call is made for the riders alone.
	// It waits when no call is in flight, or when the call in flight
	// returns and nothing but riders is queued. Default 5ms.
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
// Batch calls: while a call is in flight, new messages queue; when it
// returns, everything queued (up to MaxItems a call) goes in the next. At
// most one call is in flight, so messages reach the bank in the order they
// were queued. A caller that finds no call in flight leads: it sends calls
// from the head of the queue, on its own goroutine, until its own message
// has gone, then hands the lead to the first caller still waiting, as the
// write-ahead log hands on its commits (wal.Log.AppendAll). A lone payer
// sends batches of one and waits for nothing else.
//
// A rider is a message no client waits for (see BatchConfig.Linger): it
// never leads. One queued while no call is in flight waits Linger for a
// message that leads, so that a bank applies the Commit of one payment
// with the Prepare of the next in one commit instead of two; riders left
// when the lead cannot be handed on linger again.
type batcher struct {
	send  sendFunc
	cfg   BatchConfig
	slots chan struct{} // one per message queued or in flight: back-pressure

	mu        sync.Mutex
	queue     []*pending
	sending   bool // a caller leads: a call is in flight, or about to be
	lingering bool // a timer will lead a call for the riders queued

	batch []*pending // the leader's, reused from call to call
}

func newBatcher(send sendFunc, cfg BatchConfig) *batcher {
	cfg = cfg.withDefaults()
	return &batcher{send: send, cfg: cfg, slots: make(chan struct{}, cfg.MaxQueued)}
}

// state is where a pending message stands; mu guards it.
type state int

const (
	queued   state = iota
	told           // queued, and told to lead
	taken          // in a call
	answered       // res and err are set
)

// pending is one message waiting for its answer.
type pending struct {
	ctx   context.Context
	item  *strifev1.BatchItem
	rider bool
	state state
	wake  chan bool // true: lead; false: answered
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
	p := &pending{ctx: ctx, item: item, rider: rider, wake: make(chan bool, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	lead := !b.sending && !rider
	switch {
	case lead:
		b.sending = true
	case !b.sending:
		b.lingerLocked()
	}
	b.mu.Unlock()
	if !lead {
		select {
		case lead = <-p.wake:
		case <-ctx.Done():
			var res *strifev1.BatchResult
			var err error
			if lead, res, err = b.abandon(p); !lead {
				return res, err
			}
		}
	}
	if lead {
		b.lead(p)
		<-p.wake // the call that carried it answered it
	}
	return p.res, p.err
}

// abandon is what p's caller gets when it gives up: the answer if it is
// set; the lead if p was told to take it (the calls must go on, for the
// others queued); and otherwise its context's error, after taking p out of
// the queue if it is still there (a message in flight is answered, and
// the answer dropped, as a unary call that times out).
func (b *batcher) abandon(p *pending) (lead bool, res *strifev1.BatchResult, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch p.state {
	case queued:
		b.queue = slices.DeleteFunc(b.queue, func(q *pending) bool { return q == p })
		<-b.slots
	case told:
		return <-p.wake, nil, nil
	case answered:
		return false, p.res, p.err
	}
	return false, nil, p.ctx.Err()
}

// lingerLocked makes sure a timer will lead a call for the riders queued,
// if no other message leads first. mu must be held.
func (b *batcher) lingerLocked() {
	if !b.lingering {
		b.lingering = true
		time.AfterFunc(b.cfg.Linger, b.lingered)
	}
}

// lingered leads one call for the riders still queued, unless a caller
// leads already (they go in its calls) or the queue is empty.
func (b *batcher) lingered() {
	b.mu.Lock()
	b.lingering = false
	lead := !b.sending && len(b.queue) > 0
	b.sending = b.sending || lead
	b.mu.Unlock()
	if lead {
		b.lead(nil)
	}
}

// lead makes calls with the messages at the head of the queue until own
// (if not nil) has gone in one, or once for nil, then hands the lead on
// (see handOffLocked).
func (b *batcher) lead(own *pending) {
	for done := false; !done; {
		done = b.take(own) || own == nil
		if len(b.batch) > 0 {
			b.call()
		}
		clear(b.batch)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handOffLocked()
}

// handOffLocked gives the lead to the first message queued that is not a
// rider; it sends every message before it too. With none, nobody leads,
// and the riders queued linger. mu must be held.
func (b *batcher) handOffLocked() {
	if i := slices.IndexFunc(b.queue, func(p *pending) bool { return !p.rider }); i >= 0 {
		b.queue[i].state = told
		b.queue[i].wake <- true
		return
	}
	b.sending = false
	if len(b.queue) > 0 {
		b.lingerLocked()
	}
}

// take moves up to MaxItems messages from the head of the queue into
// b.batch, and reports whether own was among them. Those whose caller has
// given up already are answered with their context's error and not sent.
func (b *batcher) take(own *pending) (tookOwn bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.queue), b.cfg.MaxItems)
	b.batch = b.batch[:0]
	for _, p := range b.queue[:n] {
		tookOwn = tookOwn || p == own
		if err := p.ctx.Err(); err != nil {
			p.err = err
			b.answerLocked(p)
			continue
		}
		p.state = taken
		b.batch = append(b.batch, p)
	}
	b.queue = slices.Delete(b.queue, 0, n)
	return tookOwn
}

// call makes one Batch call with b.batch and answers its messages.
func (b *batcher) call() {
	items := make([]*strifev1.BatchItem, len(b.batch))
	for i, p := range b.batch {
		items[i] = p.item
	}
	ctx, cancel := context.WithDeadline(context.Background(), b.deadline())
	results, err := b.send(ctx, items)
	cancel()
	if err == nil && len(results) != len(b.batch) {
		err = status.Errorf(codes.Internal, "bank answered %d items of %d", len(results), len(b.batch))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, p := range b.batch {
		if err != nil {
			p.err = err
		} else {
			p.res = results[i]
		}
		b.answerLocked(p)
	}
}

// answerLocked tells p's caller its answer is set. mu must be held.
func (b *batcher) answerLocked(p *pending) {
	p.state = answered
	p.wake <- false
	<-b.slots
}

// deadline is the latest of the batch's deadlines: the call serves all of
// them. Messages without one count as Timeout from now.
func (b *batcher) deadline() time.Time {
	var latest time.Time
	none := time.Now().Add(b.cfg.Timeout)
	for _, p := range b.batch {
		d, ok := p.ctx.Deadline()
		if !ok {
			d = none
		}
		if d.After(latest) {
			latest = d
		}
	}
	return latest
}
