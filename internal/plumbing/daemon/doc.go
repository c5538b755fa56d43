// Package daemon is the skeleton of Strife's two daemons, the bank
// (package bankd) and the gateway (package gatewayd), and what every
// long-running program of Strife shares.
//
// # Configuration and flags
//
// Config holds what every daemon is configured with: name, listen address,
// data directory, TLS files and revocation list, etcd endpoints and TLS,
// advertised address, lease TTL, drain timeout, metrics address, logger. A
// daemon's Config embeds it beside its own fields, and validates it with
// Config.Validate. Flags declares the flags of those fields, the same on
// both daemons but for a few words of help and two defaults (FlagHelp);
// Command completes a daemon's command line with them, --log-format, and
// a RunE that makes the logger and runs the daemon with Run.
//
// # Lifecycle
//
// Server is the part of a running daemon that does not depend on what it
// serves. A daemon's Start calls Start with its own steps, which open the
// data file (Server.OpenLog), build on the etcd client and the metrics
// registry, and end with Server.Serve, naming the gRPC services to serve.
// Both daemons then start, and stop, in the same order:
//
//	start: etcd client (no wait) → the daemon's steps (data file, ...)
//	       → listen, gRPC with health, "<what> serving"
//	       → register in etcd (in the background) → metrics, "metrics serving"
//	stop:  deregister → NOT_SERVING → OnDrain → calls in flight finish
//	       (up to the drain timeout) → OnClose, last first → etcd client
//	       → data file → "<what> stopped"
//
// Run serves a started daemon until SIGTERM or SIGINT, then drains it. It
// also sets the collector's target (TuneGC) and, when ProfileEnv is set,
// writes a CPU profile of the whole run. NewLogger makes the zerolog
// logger of --log-format.
//
// # Who imports a daemon
//
// A daemon package is imported only by the roots of the programs that run it
// (its cmd, internal/tools/cli for strife's hidden subcommands,
// internal/tools/bench for strife-bench's) and by test code; the daemons
// themselves import this package, never each other.
// TestOnlyCommandsImportDaemons holds the rule.
package daemon
