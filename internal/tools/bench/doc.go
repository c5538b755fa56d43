// Package bench drives concurrent payers through the whole payment path —
// client → gateway → two banks, over mutual TLS, with every fsync — and
// reports throughput and latency. The strife-bench command runs it.
//
// It starts a complete deployment of its own in a temporary directory
// (certificates, BankA and BankB, the gateway), registers one payer per
// concurrent client with an account at BankA, and has each pay 1 unit at a
// time to one account at BankB, as fast as it can, for a fixed time per
// level. All traffic is real TCP on 127.0.0.1.
//
// The banks and the gateway run as processes of their own, as strife up
// runs them: Options.Executable is a program with the hidden bank and
// gateway commands (strife-bench re-runs itself). Without it they run in
// the benchmark's own process, where one CPU profile sees all three but
// they share one scheduler and one collector, which costs throughput.
//
// RunBare (strife-bench --bare) measures the floor under all of it: the
// same five RPCs of a payment (Pay, then Prepare to both banks in parallel,
// then Commit to both in parallel) between the same three processes, with
// the same certificates, mutual TLS and gRPC transport, and the same payers
// and report, but with nothing else: banks that vote YES and acknowledge at
// once, a gateway without users, tokens, interceptors, log or disk (the
// hidden bare-bank and bare-gateway commands of BareCommands). It exists
// because the issue quotes such a floor, about 11,000 payments/s on its
// 2-core machine: measured here, on the machine and with the harness of the
// real figures, it says how far from the cost of the transport alone Strife
// is.
//
// Each level reports payments/s, p50 and p99, and the CPU used in the
// window divided by the payments, by process: "bench", the benchmark's own
// (its payers, and the daemons too when they run in-process), and each
// daemon process it started (from /proc, on Linux). Compare (strife-bench --compare-bare) runs
// the bare pipeline and Strife alternately, a number of rounds, and prints
// the ratio Strife/bare per level; on a noisy machine only runs interleaved
// like this compare. Options.JSON prints one JSON object per level, and
// Options.ProfileDir has each daemon write a CPU profile of its run.
//
// With Options.Gateway it measures a running deployment instead (for
// example `strife up`'s):
//
//	strife-bench --gateway 127.0.0.1:7000 --certs strife-data/certs
//
// Options.LoginFlood (--login-flood N) runs N goroutines beside the payers,
// each logging in as the payee with a wrong password in a loop over a
// certificate of its own, and each level then reports their attempts/s,
// how many the gateway checked with bcrypt and how many it refused
// unchecked. Options.BcryptCost (--bcrypt-cost) sets the gateway's cost:
// 4 by default, so that registering payers is fast; 12, production's, for
// a flood to cost what it costs (DESIGN.md, "Issue 14: login throttling").
//
// Options.Metrics (--metrics) has each daemon process serve its Prometheus
// metrics and scrapes them all once a second, as strife top would, so that
// runs with and without it, interleaved, say what metrics cost.
//
// Startup (strife-bench startup --payments 1000000 --open 100 --dir DIR)
// measures start to serving instead: LoadHistory makes a gateway's and two
// banks' files with that many payments through the packages' own write
// paths (coordinator.Loader, participant.Participant.Apply), kept in DIR
// for the next run, and RunStartup times each daemon process from its
// start to its first health check answered SERVING over mutual TLS (on a
// copy of the files, synced first). --bank-events sizes the banks' files
// apart from the gateway's (they take part in the oldest payments only):
// a 10M-payment gateway next to banks of 10M records, instead of 40M each;
// each file then passes its own checks, not the cross-check. The banks
// write a batch while the gateway writes the next, 20,000 payments a
// transaction. --profile-dir has each daemon write a CPU profile; the
// daemons' "serving" lines say started_ms and open_ms (the data file's
// opening), the gateway's "recovered open payments" line took_ms.
//
// The figures, and what the profiles say about them, are in DESIGN.md
// ("Performance").
package bench
