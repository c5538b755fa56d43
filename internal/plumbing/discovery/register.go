package discovery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/naming/endpoints"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/backoff"
)

// The services registered in etcd, and the prefix of their keys.
const (
	Banks    = "banks"
	Gateways = "gateways"
	Prefix   = "/strife/"
)

// DefaultTTL is the lease TTL when none is given: how long a crashed
// process stays registered.
const DefaultTTL = 5 * time.Second

// Errors of the package.
var (
	ErrInvalid        = errors.New("discovery: invalid registration")
	ErrUnknownGateway = errors.New("discovery: gateway not registered")
)

// Target is the endpoints target of a service, "/strife/banks": its keys
// are Target + "/" + name.
func Target(service string) string { return Prefix + service }

// Key is the key of a member of a service, "/strife/banks/BankA".
func Key(service, name string) string { return Target(service) + "/" + name }

// Backoff between attempts to register again or to watch again.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 2 * time.Second
)

// revokeTimeout bounds Close's revoke: if etcd cannot be reached, the key
// expires with its lease instead.
const revokeTimeout = 3 * time.Second

// Registration keeps one key alive in etcd: the name of a process and the
// address it serves on, attached to a lease kept alive in the background.
//
// It lives through states, and logs once at each change, never once per
// retry:
//
//	registering  -> registered         "registered in etcd"
//	registering  (first try failed)    "not registered in etcd yet; serving anyway, retrying in the background"
//	registered   -> lost               "etcd registration lost; registering again in the background"
//	lost         -> registered         "registered in etcd again"
//
// The lines that end a wait carry how many tries it took and how long.
type Registration struct {
	client *clientv3.Client
	em     endpoints.Manager
	key    string
	addr   string
	ttl    int64 // seconds
	log    zerolog.Logger

	ctx        context.Context // cancelled by Close; parent of every etcd call
	cancel     context.CancelFunc
	done       chan struct{} // closed when the background loop has ended
	registered chan struct{} // closed once the key was put the first time
	once       sync.Once
	err        error

	mu    sync.Mutex
	lease clientv3.LeaseID // the lease the key is attached to now, 0 before

	up atomic.Bool // registered now: see Registered
}

// Register keeps Key(service, name) with addr in etcd, on a lease of ttl
// (0: DefaultTTL; etcd rounds up to whole seconds and to its minimum TTL),
// until Close. It returns at once, without waiting for etcd: the key is put
// in the background, and put again on a new lease whenever the lease is lost
// (etcd unreachable for longer than the TTL, the lease revoked), with
// backoff, for as long as it takes. A process serves whether or not etcd
// can be reached: its address may be known otherwise (a gateway's last
// view, a static configuration). Wait waits for the first registration.
// Only bad arguments are errors.
func Register(client *clientv3.Client, service, name, addr string, ttl time.Duration, log zerolog.Logger) (*Registration, error) {
	if err := checkRegistration(service, name, addr, ttl); err != nil {
		return nil, err
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	em, err := endpoints.NewManager(client, Target(service))
	if err != nil {
		return nil, err
	}
	r := &Registration{
		client: client, em: em, key: Key(service, name), addr: addr,
		ttl:  int64((ttl + time.Second - 1) / time.Second),
		done: make(chan struct{}), registered: make(chan struct{}),
		log: log.With().Str("key", Key(service, name)).Str("addr", addr).Logger(),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.run()
	return r, nil
}

func checkRegistration(service, name, addr string, ttl time.Duration) error {
	var errs []error
	if service != Banks && service != Gateways {
		errs = append(errs, fmt.Errorf("unknown service %q", service))
	}
	if err := certs.CheckName(name); err != nil {
		errs = append(errs, err)
	}
	if addr == "" || strings.ContainsAny(addr, " /") {
		errs = append(errs, fmt.Errorf("address %q is not host:port", addr))
	}
	if ttl < 0 || (ttl > 0 && ttl < time.Second) {
		errs = append(errs, fmt.Errorf("lease TTL %v is under 1s", ttl))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// attach grants a lease, puts the key on it and starts keeping it alive.
func (r *Registration) attach(ctx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	lease, err := r.client.Grant(ctx, r.ttl)
	if err != nil {
		return nil, err
	}
	err = r.em.AddEndpoint(ctx, r.key, endpoints.Endpoint{Addr: r.addr}, clientv3.WithLease(lease.ID))
	var ka <-chan *clientv3.LeaseKeepAliveResponse
	if err == nil {
		ka, err = r.client.KeepAlive(r.ctx, lease.ID)
	}
	if err != nil {
		r.revoke(lease.ID)
		return nil, err
	}
	r.mu.Lock()
	r.lease = lease.ID
	r.mu.Unlock()
	return ka, nil
}

// run registers, keeps the lease alive, and registers again whenever the
// lease is lost, until Close.
func (r *Registration) run() {
	defer close(r.done)
	for again := false; ; again = true {
		ka := r.attachUntilDone(again)
		if ka == nil {
			return // closed
		}
		for range ka {
		}
		r.up.Store(false)
		if r.ctx.Err() != nil {
			return
		}
		r.log.Warn().Msg("etcd registration lost; registering again in the background")
	}
}

// attachUntilDone puts the key on a new lease, trying again with backoff
// until it succeeds (nil once Close was called). Each try is bounded by the
// TTL: longer, and a key put at its end could already be expiring. Only
// the first failure of a first registration is logged: the state changed
// from "starting" to "not registered"; a lost registration said so already.
func (r *Registration) attachUntilDone(again bool) <-chan *clientv3.LeaseKeepAliveResponse {
	start := time.Now()
	for tries, delay := 1, retryMin; ; tries, delay = tries+1, min(2*delay, retryMax) {
		ctx, cancel := context.WithTimeout(r.ctx, time.Duration(r.ttl)*time.Second)
		ka, err := r.attach(ctx)
		cancel()
		if err == nil {
			r.up.Store(true)
			r.logRegistered(again, tries, time.Since(start))
			return ka
		}
		if r.ctx.Err() != nil {
			return nil
		}
		if tries == 1 && !again {
			r.log.Warn().Err(err).Msg("not registered in etcd yet; serving anyway, retrying in the background")
		}
		select {
		case <-time.After(backoff.Jitter(delay)):
		case <-r.ctx.Done():
			return nil
		}
	}
}

func (r *Registration) logRegistered(again bool, tries int, took time.Duration) {
	ev := r.log.Info().Int64("ttl_seconds", r.ttl)
	if tries > 1 {
		ev = ev.Int("tries", tries).Dur("after", took.Round(time.Millisecond))
	}
	if again {
		ev.Msg("registered in etcd again")
		return
	}
	ev.Msg("registered in etcd")
	close(r.registered)
}

// Wait waits until the key has been put the first time, or ctx ends, or
// Close is called.
func (r *Registration) Wait(ctx context.Context) error {
	select {
	case <-r.registered:
		return nil
	case <-r.done:
		return fmt.Errorf("discovery: %s: closed before it was registered", r.key)
	case <-ctx.Done():
		return fmt.Errorf("discovery: register %s: %w", r.key, ctx.Err())
	}
}

// Close stops the keep-alives (or the tries to register) and revokes the
// lease, which deletes the key at once. It never waits for etcd longer than
// revokeTimeout: if etcd cannot be reached, the key expires with the lease.
func (r *Registration) Close() error {
	r.once.Do(func() {
		r.cancel()
		<-r.done
		lease := r.Lease()
		if lease == 0 {
			return // never registered: nothing to delete
		}
		if r.err = r.revoke(lease); r.err != nil {
			r.log.Warn().Err(r.err).Msg("cannot revoke etcd lease; the key expires with it")
			return
		}
		r.log.Info().Msg("deregistered from etcd")
	})
	return r.err
}

func (r *Registration) revoke(lease clientv3.LeaseID) error {
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	_, err := r.client.Revoke(ctx, lease)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return nil // expired already, and the key with it
	}
	return err
}

// Registered reports whether the key is in etcd now, as far as the
// keep-alives tell: from each registration until its lease is lost or
// Close.
func (r *Registration) Registered() bool { return r.up.Load() }

// Lease is the lease the key is attached to now (for tests and tools).
func (r *Registration) Lease() clientv3.LeaseID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lease
}
