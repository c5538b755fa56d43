package participant

import (
	"sync"
	"time"

	"github.com/strife-pay/strife/ledger"
)

// applyLater is the bank broken on purpose that the votesBeforeDurable
// failpoint turns on (see Apply), so that strife-chaos's test can show its
// checks catch a bank that lies: it answers each op as Apply would have
// answered it at this moment, from a read-only look at the ledger, and
// writes the ops delay later, in the order they came. A YES vote is then
// given before its hold and PREPARED record exist; a bank killed in
// between forgets the vote, and the payment the gateway committed on it
// is never debited or credited there. In a normal build nothing calls it.
func (p *Participant) applyLater(ops []Op, delay time.Duration) []Outcome {
	out := make([]Outcome, len(ops))
	err := p.ledger.View(func(tx *ledger.Tx) error {
		for i, op := range ops {
			s, err := decide(tx, op)
			out[i] = Outcome{Vote: s.vote, Err: err}
		}
		return nil
	})
	if err != nil {
		for i := range out {
			out[i] = Outcome{Err: err}
		}
	}
	late.Lock()
	defer late.Unlock()
	if late.ops == nil {
		late.ops = make(chan func(), 1<<16)
		go func() {
			for f := range late.ops {
				f()
			}
		}()
	}
	due := time.Now().Add(delay)
	late.ops <- func() { time.Sleep(time.Until(due)); p.apply(ops) }
	return out
}

// late is applyLater's queue of writes, applied one at a time in order.
var late struct {
	sync.Mutex
	ops chan func()
}
