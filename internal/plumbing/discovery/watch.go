package discovery

import (
	"context"
	"strings"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/naming/endpoints"

	"github.com/strife-pay/strife/internal/plumbing/backoff"
)

// follower keeps a view of one service's members in step with etcd through
// a watch: the whole set first, then every change. It never reads etcd per
// request.
type follower struct {
	em     endpoints.Manager
	prefix string
	log    zerolog.Logger
	// sync gets the whole set, name -> address, when a watch starts (the
	// first time and after a watch broke).
	sync func(members map[string]string)
	// update gets each change after that: addr is "" when the member's key
	// was deleted (or expired). A key put again with the same address is
	// an update too: the process behind it restarted.
	update func(name, addr string)
}

func newFollower(client *clientv3.Client, service string, log zerolog.Logger) (*follower, error) {
	em, err := endpoints.NewManager(client, Target(service))
	if err != nil {
		return nil, err
	}
	return &follower{em: em, prefix: Target(service) + "/", log: log}, nil
}

// run watches until ctx ends, watching again with backoff whenever a watch
// breaks (a compaction, an error from etcd).
func (f *follower) run(ctx context.Context) {
	for delay := retryMin; ctx.Err() == nil; delay = min(2*delay, retryMax) {
		if f.watch(ctx) {
			delay = retryMin
		}
		if ctx.Err() != nil {
			return
		}
		f.log.Warn().Str("prefix", f.prefix).Msg("etcd watch ended; watching again")
		select {
		case <-time.After(backoff.Jitter(delay)):
		case <-ctx.Done():
		}
	}
}

// watch runs one watch to its end. It reports whether the watch started.
//
// NewWatchChannel reads the members, puts them in the channel as one batch
// if there are any, and only then starts the watch that sends changes. So
// a batch already waiting when it returns is the initial set; if none is,
// the set was empty, and whatever comes first is a change. Either way
// "empty set, then apply the first batch" is the set at the start.
func (f *follower) watch(ctx context.Context) bool {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := f.em.NewWatchChannel(wctx)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn().Err(err).Str("prefix", f.prefix).Msg("cannot watch etcd")
		}
		return false
	}
	members := map[string]string{}
	select {
	case batch := <-ch:
		for _, u := range batch {
			if name, ok := f.name(u.Key); ok {
				if u.Op == endpoints.Add {
					members[name] = u.Endpoint.Addr
				} else {
					delete(members, name)
				}
			}
		}
	default:
	}
	f.sync(members)
	for batch := range ch {
		for _, u := range batch {
			name, ok := f.name(u.Key)
			switch {
			case !ok:
			case u.Op == endpoints.Add:
				f.update(name, u.Endpoint.Addr)
			default:
				f.update(name, "")
			}
		}
	}
	return true
}

// name is the member name of a key; keys deeper under the prefix are not
// members.
func (f *follower) name(key string) (string, bool) {
	name, ok := strings.CutPrefix(key, f.prefix)
	return name, ok && name != "" && !strings.Contains(name, "/")
}
