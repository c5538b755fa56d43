package coordinator

import (
	"context"
	"sync"
)

// broker fans payment status changes out to the watchers of the users
// involved. Publishing never blocks: a watcher whose buffer is full is
// dropped (its channel closes) rather than slowing payments down.
type broker struct {
	mu     sync.Mutex
	subs   map[string]map[chan Payment]struct{} // by user
	closed bool
}

const watchBuffer = 64

func newBroker() *broker { return &broker{subs: map[string]map[chan Payment]struct{}{}} }

func (b *broker) subscribe(ctx context.Context, user string) <-chan Payment {
	ch := make(chan Payment, watchBuffer)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(ch)
		return ch
	}
	if b.subs[user] == nil {
		b.subs[user] = map[chan Payment]struct{}{}
	}
	b.subs[user][ch] = struct{}{}
	context.AfterFunc(ctx, func() { b.drop(user, ch) })
	return ch
}

// drop removes and closes a subscription, once.
func (b *broker) drop(user string, ch chan Payment) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[user][ch]; ok {
		delete(b.subs[user], ch)
		close(ch)
	}
}

// publish sends p to the watchers of its payer and payee.
func (b *broker) publish(p Payment) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, user := range []string{p.Params.Payer, p.Params.Payee} {
		if user == "" {
			continue
		}
		for ch := range b.subs[user] {
			select {
			case ch <- p:
			default:
				delete(b.subs[user], ch)
				close(ch)
			}
		}
		if p.Params.Payer == p.Params.Payee {
			break // one user on both sides: tell them once
		}
	}
}

func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for user, chans := range b.subs {
		for ch := range chans {
			close(ch)
		}
		delete(b.subs, user)
	}
}
