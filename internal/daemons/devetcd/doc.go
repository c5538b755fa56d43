// Package devetcd runs a real etcd, embedded (go.etcd.io/etcd/server/v3/embed),
// for the local deployment and for tests, so that nothing needs installing.
//
// It is a single member with its data in Config.Dir, serving plain HTTP on
// loopback addresses only: Validate refuses any other address or scheme,
// because this etcd has no TLS and no authentication. Production points the
// daemons at a real cluster with --etcd-endpoints and the --etcd-ca,
// --etcd-cert and --etcd-key TLS options instead (discovery.ClientConfig).
//
// Use:
//
//	s, err := devetcd.Start(devetcd.Config{Dir: dir, ClientURL: "http://127.0.0.1:0", Log: log})
//	...
//	defer s.Close()
//	client := discovery.NewClient(discovery.ClientConfig{Endpoints: s.Endpoints()}, log)
//
// Port 0 in a URL picks a free port. Start waits at most ReadyTimeout for
// the member to serve. etcd logs through zap; its warnings and errors go to
// Config.Log as zerolog lines with "component":"etcd", minus two startup
// warnings that mean nothing on loopback (simple auth tokens, HTTP and gRPC
// on one port) and the noise of its own shutdown.
//
// Command is the same server as a process of its own ("etcd --data-dir D
// --listen-client URL"): it logs "etcd serving" with the endpoint (a URL)
// and addr (host:port) once it serves, and stops on SIGTERM or SIGINT.
package devetcd
