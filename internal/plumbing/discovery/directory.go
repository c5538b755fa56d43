package discovery

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strife-pay/strife/coordinator"
)

// DialFunc connects to a bank at an address. The connection may be lazy
// (grpc.NewClient); the gateway's own checks, such as the name in the
// bank's certificate, belong in it. The closer is called once the bank has
// gone away or the directory closes.
type DialFunc func(name, addr string) (coordinator.Participant, io.Closer, error)

// Linger is how long the connection of a bank that went away stays open,
// so that calls already in flight while the bank drains can finish. New
// calls do not get it: Participant answers false at once.
const Linger = 10 * time.Second

// Directory is the gateway's view of the banks: a coordinator.Directory
// and coordinator.Notifier fed by a watch on the bank keys, and by the
// banks it is told of at start until etcd has answered. A bank is
// available from the moment its key appears until the moment it is
// deleted or expires; there is no etcd read per request. It is safe for
// concurrent use.
type Directory struct {
	dial    DialFunc
	log     zerolog.Logger
	cancel  context.CancelFunc
	done    chan struct{} // closed when the watch has ended
	closing chan struct{} // closed by Close: lingering connections close now
	changes chan struct{}
	synced  chan struct{} // closed after the first sync
	lingers sync.WaitGroup
	once    sync.Once

	mu      sync.Mutex
	banks   map[string]*bankConn
	changed chan struct{} // closed and replaced on every change, for Wait
}

type bankConn struct {
	addr   string
	p      coordinator.Participant
	closer io.Closer
}

var (
	_ coordinator.Directory = (*Directory)(nil)
	_ coordinator.Notifier  = (*Directory)(nil)
)

// NewDirectory starts watching the bank keys. It does not wait for etcd,
// which may be down when the gateway starts: the view is known (the banks
// given, each dialled now; none if known is empty) until the watch has
// read the banks registered in etcd, which then replace it, whenever etcd
// answers. Synced tells when that happened. Close stops it.
func NewDirectory(client *clientv3.Client, dial DialFunc, known map[string]string, log zerolog.Logger) (*Directory, error) {
	f, err := newFollower(client, Banks, log)
	if err != nil {
		return nil, err
	}
	d := &Directory{
		dial: dial, log: log, done: make(chan struct{}), closing: make(chan struct{}),
		changes: make(chan struct{}, 1), synced: make(chan struct{}),
		banks: map[string]*bankConn{}, changed: make(chan struct{}),
	}
	d.sync(known)
	var once sync.Once
	f.sync = func(m map[string]string) {
		d.sync(m)
		once.Do(func() {
			close(d.synced)
			d.log.Info().Strs("banks", d.Banks()).Msg("banks read from etcd")
		})
	}
	f.update = d.set
	wctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { defer close(d.done); f.run(wctx) }()
	return d, nil
}

// Synced is closed once the view has been read from etcd (the first time).
func (d *Directory) Synced() <-chan struct{} { return d.synced }

// Participant returns the bank's participant while its key exists.
func (d *Directory) Participant(bank string) (coordinator.Participant, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.banks[bank]
	if !ok {
		return nil, false
	}
	return b.p, true
}

// Banks returns the names of the banks available now, sorted.
func (d *Directory) Banks() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Sorted(maps.Keys(d.banks))
}

// Changes delivers a value after every bank that appears or goes away
// (changes in a burst may be delivered as one). It is closed by Close.
func (d *Directory) Changes() <-chan struct{} { return d.changes }

// Wait waits until every one of banks is available, or ctx ends.
func (d *Directory) Wait(ctx context.Context, banks ...string) error {
	for {
		d.mu.Lock()
		changed := d.changed
		var missing []string
		for _, b := range banks {
			if _, ok := d.banks[b]; !ok {
				missing = append(missing, b)
			}
		}
		d.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("discovery: banks %v not registered in etcd: %w", missing, ctx.Err())
		}
	}
}

// sync makes the view equal to members: banks missing from it go away,
// new ones and those at a new address are dialled. Called before the watch
// starts, with the banks known at start, and then by each watch's start.
func (d *Directory) sync(members map[string]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for name := range d.banks {
		if _, ok := members[name]; !ok {
			d.remove(name)
			n++
		}
	}
	for name, addr := range members {
		if b, ok := d.banks[name]; !ok || b.addr != addr {
			d.add(name, addr)
			n++
		}
	}
	if n > 0 {
		d.notify()
	}
}

// set applies one change from the watch; addr "" removes the bank.
func (d *Directory) set(name, addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if addr == "" {
		d.remove(name)
	} else {
		d.add(name, addr)
	}
	d.notify()
}

// add dials a bank, replacing any connection it had (the bank registered
// again: it restarted, perhaps at another address); d.mu is held.
func (d *Directory) add(name, addr string) {
	old, again := d.banks[name]
	if again {
		delete(d.banks, name)
		d.retire(old)
	}
	p, closer, err := d.dial(name, addr)
	if err != nil {
		d.log.Error().Err(err).Str("bank", name).Str("addr", addr).Msg("cannot dial registered bank; treating it as away")
		return
	}
	d.banks[name] = &bankConn{addr: addr, p: p, closer: closer}
	msg := "bank available"
	if again {
		msg = "bank registered again"
	}
	d.log.Info().Str("bank", name).Str("addr", addr).Msg(msg)
}

// remove forgets a bank at once; d.mu is held.
func (d *Directory) remove(name string) {
	if b, ok := d.banks[name]; ok {
		delete(d.banks, name)
		d.retire(b)
		d.log.Info().Str("bank", name).Str("addr", b.addr).Msg("bank went away")
	}
}

// retire closes a bank's connection after Linger, or at Close.
func (d *Directory) retire(b *bankConn) {
	d.lingers.Go(func() {
		select {
		case <-time.After(Linger):
		case <-d.closing:
		}
		b.closer.Close()
	})
}

// notify wakes Wait and the coordinator; d.mu is held.
func (d *Directory) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
	select {
	case d.changes <- struct{}{}:
	default:
	}
}

// Close stops the watch and closes every connection. Participants handed
// out before stay usable objects, but their calls fail.
func (d *Directory) Close() {
	d.once.Do(func() {
		d.cancel()
		<-d.done
		close(d.closing)
		d.lingers.Wait()
		d.mu.Lock()
		for name, b := range d.banks {
			b.closer.Close()
			delete(d.banks, name)
		}
		d.mu.Unlock()
		close(d.changes)
	})
}
