// Package bankd runs a bank daemon: a ledger in a bbolt write-ahead log,
// the two-phase commit participant over it, and BankService on a
// mutual-TLS gRPC listener. `strife bank` (and strife-bank) is a thin
// command around it; tests start it in-process or as that command.
//
// # Lifecycle
//
// The bank is built on package daemon, as the gateway is: Config embeds
// daemon.Config (and holds participant.Config), Bank embeds daemon.Server,
// whose Start, Serve and Stop set the order below.
//
// Start opens <DataDir>/<Name>.db, seeds a new ledger from Config.SeedFile
// (once: later starts ignore it), reloads the attempts left in doubt, serves,
// and with etcd registers under /strife/banks/<Name> on a lease, in the
// background: a bank serves while etcd is down, and registers once etcd
// answers (package discovery). Stop
// deregisters first, reports NOT_SERVING, lets calls in flight finish (up to
// Config.DrainTimeout), stops the in-doubt resolvers and closes the file.
// A SIGKILL loses nothing that was acknowledged: every answer follows the
// fsync of what it answers.
//
// # Finding the coordinator
//
// An attempt in doubt is resolved through the gateway named in its PREPARED
// record: found through etcd's /strife/gateways keys, or at
// Config.CoordinatorAddr when that is set (tests, static setups). Without
// either, in-doubt attempts wait for the gateway to call.
//
// # Seed file
//
//	accounts:
//	  - bank: BankA
//	    number: "1001"
//	    owner: alice
//	    opening_balance: 100000   # minor units: 1000.00
//
// Each bank opens only the accounts whose bank is its own name.
//
// # Metrics
//
// With Config.MetricsListen (--metrics-listen) the bank serves Prometheus
// metrics at /metrics over plain HTTP, from a registry of its own: the
// participant's votes, outcomes, holds and attempts in doubt, the log's
// commits, the policy's refusals, the gRPC server metrics and its etcd
// registration. Without it nothing is measured.
package bankd
