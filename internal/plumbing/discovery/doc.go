// Package discovery is how Strife's processes find each other: through
// etcd, with leases and watches.
//
// # Keys
//
// Each process registers one key, on a lease of its own:
//
//	/strife/banks/<bank name>        {"Addr":"127.0.0.1:7001"}
//	/strife/gateways/<gateway name>  {"Addr":"127.0.0.1:7000"}
//
// The values are those of etcd's client/v3/naming/endpoints (a JSON
// endpoint with Addr), written through its Manager, so that etcd's own
// naming tools and gRPC resolver can read them. The name is the CN of the
// process's certificate: a gateway dialling a bank checks that the bank's
// certificate carries the name it looked up, and a bank finds the gateway
// that prepared an attempt by the CN recorded in the attempt.
//
// # Registration and its end
//
// Register returns at once, without waiting for etcd: a bank or gateway
// serves whether or not etcd can be reached (its address may be known to a
// gateway's last view or to a static configuration), and registers in the
// background. It grants a lease (TTL default 5 s), puts the key on it and
// keeps the lease alive; each try is bounded by the TTL, and failed tries
// are repeated with backoff (100 ms doubling to 2 s, jittered) for as long
// as it takes. Registration.Wait waits for the first success.
//
// If the keep-alives stop while the process runs (etcd unreachable for
// longer than the TTL, the lease revoked by an operator), the key is put
// again on a new lease, the same way, until Close. A shorter outage costs
// nothing: the keep-alives resume on the same lease.
//
// The log has one line per change of state, never one per try:
//
//	not registered in etcd yet; serving anyway, retrying in the background   (warn, the first try failed)
//	registered in etcd                                                       (info, with tries and after if it waited)
//	etcd registration lost; registering again in the background              (warn)
//	registered in etcd again                                                 (info, with tries and after)
//
// etcd's client would add a warning per failed try ("retrying of unary
// invoker failed"); NewClient drops those, since the caller reports the
// outcome.
//
// Registration.Close revokes the lease: the key is deleted at once, and
// the gateway's watch sees the bank go away before the bank starts
// draining. Close waits for etcd at most 3 s: if etcd cannot be reached,
// the key expires with its lease, so a SIGTERM never hangs on etcd. A
// process that crashes stops sending keep-alives; etcd deletes the key when
// the lease expires, at most one TTL later.
//
// # Watching
//
// Directory is the gateway's coordinator.Directory: it watches
// /strife/banks/ (the endpoints Manager's watch channel: the registered
// banks first, then every change). NewDirectory does not wait for etcd: it
// starts with the banks it is given (a gateway's static configuration, or
// none), and the banks read from etcd replace them when etcd first answers
// (Synced). It dials each bank that appears with the
// gateway's DialFunc, and forgets each one that goes away at once, so that
// new payments to it are held PENDING without waiting for a prepare
// timeout. It is a coordinator.Notifier: every change wakes the held
// payments. A bank's connection lingers for Linger after its key is gone,
// so calls in flight while it drains can finish. No request reads etcd.
//
// Coordinators is a bank's participant.Coordinator: it watches
// /strife/gateways/ the same way and asks the gateway named in an attempt
// for its decision. An unregistered gateway is ErrUnknownGateway; the
// participant asks again with backoff.
//
// If a watch breaks (etcd compacted past it, or answered an error), it is
// started again and the view is rebuilt from etcd's current state. While
// etcd is unreachable, at start or later, the view stays as it was last seen
// (or given): payments to banks in it go on, and payments to others are held
// PENDING until their banks appear. Coordinators does not wait for etcd
// either: until it has read the gateways, GetDecision fails within its
// context and the participant asks again later.
//
// # Connecting to etcd
//
// NewClient takes a ClientConfig: the endpoints (a real cluster's https
// URLs in production, or the loopback http URL of package devetcd in
// development and tests), and optionally a CA and a client certificate.
// etcd's client logs through zap; ZapLogger routes it to zerolog.
package discovery
