package discovery

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strife-pay/strife/participant"
)

// CoordinatorDialFunc connects to the gateway name at addr. The bank's
// own checks, such as the name in the gateway's certificate, belong in it.
type CoordinatorDialFunc func(name, addr string) (participant.Coordinator, io.Closer, error)

// Coordinators is a bank's participant.Coordinator when gateways register
// in etcd: it finds the gateway named in a prepared attempt by its key
// under /strife/gateways/, through a watch, and asks it over a connection
// kept per gateway. A gateway that is not registered (crashed, stopped,
// not yet started) is ErrUnknownGateway, and the participant asks again
// later. It is safe for concurrent use.
type Coordinators struct {
	dial   CoordinatorDialFunc
	log    zerolog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	synced chan struct{}
	once   sync.Once

	mu    sync.Mutex
	addrs map[string]string           // gateway name -> address, as registered
	conns map[string]*coordinatorConn // gateway name -> connection to its address
}

type coordinatorConn struct {
	addr   string
	c      participant.Coordinator
	closer io.Closer
}

var _ participant.Coordinator = (*Coordinators)(nil)

// NewCoordinators starts watching the gateway keys. It does not wait for
// etcd: GetDecision does, within its context.
func NewCoordinators(client *clientv3.Client, dial CoordinatorDialFunc, log zerolog.Logger) (*Coordinators, error) {
	f, err := newFollower(client, Gateways, log)
	if err != nil {
		return nil, err
	}
	c := &Coordinators{
		dial: dial, log: log, done: make(chan struct{}), synced: make(chan struct{}),
		addrs: map[string]string{}, conns: map[string]*coordinatorConn{},
	}
	var once sync.Once
	f.sync = func(m map[string]string) { c.sync(m); once.Do(func() { close(c.synced) }) }
	f.update = c.set
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { defer close(c.done); f.run(ctx) }()
	return c, nil
}

// GetDecision asks the gateway name for the decision on an attempt.
func (c *Coordinators) GetDecision(ctx context.Context, name string, id ulid.ULID, attempt uint32) (participant.Decision, error) {
	select {
	case <-c.synced:
	case <-ctx.Done():
		return 0, fmt.Errorf("discovery: reading the gateways from etcd: %w", ctx.Err())
	}
	coord, err := c.coordinator(name)
	if err != nil {
		return 0, err
	}
	return coord.GetDecision(ctx, name, id, attempt)
}

// Addr returns the registered address of a gateway.
func (c *Coordinators) Addr(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	addr, ok := c.addrs[name]
	return addr, ok
}

// coordinator returns the connection to a registered gateway, dialling it
// on first use.
func (c *Coordinators) coordinator(name string) (participant.Coordinator, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	addr, ok := c.addrs[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownGateway, name)
	}
	if conn, ok := c.conns[name]; ok && conn.addr == addr {
		return conn.c, nil
	}
	coord, closer, err := c.dial(name, addr)
	if err != nil {
		return nil, fmt.Errorf("discovery: dial gateway %q at %s: %w", name, addr, err)
	}
	c.conns[name] = &coordinatorConn{addr: addr, c: coord, closer: closer}
	return coord, nil
}

func (c *Coordinators) sync(members map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addrs = members
	for name, conn := range c.conns {
		if members[name] != conn.addr {
			c.drop(name)
		}
	}
}

// set applies one change from the watch. A gateway that registered again
// is a new process: its connection is dialled afresh on next use.
func (c *Coordinators) set(name, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if addr == "" {
		delete(c.addrs, name)
	} else {
		c.addrs[name] = addr
	}
	c.drop(name)
	c.log.Info().Str("gateway", name).Str("addr", addr).Msg("gateway registration changed")
}

// drop closes the connection to a gateway; c.mu is held.
func (c *Coordinators) drop(name string) {
	if conn, ok := c.conns[name]; ok {
		conn.closer.Close()
		delete(c.conns, name)
	}
}

// Close stops the watch and closes the connections.
func (c *Coordinators) Close() {
	c.once.Do(func() {
		c.cancel()
		<-c.done
		c.mu.Lock()
		defer c.mu.Unlock()
		for name := range c.conns {
			c.drop(name)
		}
	})
}
