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
// Register grants a lease (TTL default 5 s), puts the key on it and keeps
// the lease alive in the background. Registration.Close revokes the lease:
// the key is deleted at once, and the gateway's watch sees the bank go away
// before the bank starts draining. A process that crashes stops sending
// keep-alives; etcd deletes the key when the lease expires, at most one TTL
// later. If the keep-alives stop while the process runs (etcd unreachable
// for longer than the TTL, the lease revoked by an operator), the key is
// put again on a new lease, with backoff, until Close.
//
// # Watching
//
// Directory is the gateway's coordinator.Directory: it watches
// /strife/banks/ (the endpoints Manager's watch channel: the registered
// banks first, then every change), dials each bank that appears with the
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
// etcd is unreachable the view stays as it was last seen: payments to banks
// that were up go on.
//
// # Connecting to etcd
//
// NewClient takes a ClientConfig: the endpoints (a real cluster's https
// URLs in production, or the loopback http URL of package devetcd in
// development and tests), and optionally a CA and a client certificate.
// etcd's client logs through zap; ZapLogger routes it to zerolog.
package discovery
