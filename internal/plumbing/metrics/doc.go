// Package metrics is the plumbing every Strife daemon shares to expose
// Prometheus metrics: a registry of the process's own, and the HTTP
// listener that serves it at /metrics.
//
// It defines no metric of Strife's. Each measured thing is defined next to
// where it is measured (wal its commits, coordinator its payments and
// phases, participant its votes, rpc its refusals and the gRPC server
// metrics, discovery the etcd registration), by a NewMetrics(reg) of that
// package, and handed to it through its Options or Config: a nil metrics
// struct measures nothing and costs nothing, which is how a daemon started
// without --metrics-listen runs.
//
// # Why a registry per process
//
// prometheus.DefaultRegisterer is a package global: two daemons in one test
// process (a gateway and three banks, as internal/daemons/bankd/banktest starts
// them) would register the same names twice and fail, or worse, add up. Each
// daemon makes its own with NewRegistry and passes it down.
//
// # Labels
//
// No label takes an unbounded value: no user, account, memo or ID. Label
// values are fixed enums (a status, a reason, a phase), gRPC method names
// of the server's policy (any other is "unknown": see rpc), and bank names,
// bounded by the banks registered. Children of labels known in advance are
// resolved once (WithLabelValues at construction), so that the hot path
// costs an atomic add and no map lookup.
//
// # Use
//
//	reg := metrics.NewRegistry()
//	walMetrics := wal.NewMetrics(reg)  // and so on, before serving
//	srv, err := metrics.Serve("127.0.0.1:7090", reg, log)
//	defer srv.Close()
//
// Serve logs "metrics serving" with the address it listens on.
package metrics
