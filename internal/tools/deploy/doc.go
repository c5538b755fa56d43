// Package deploy is `strife up`: a whole Strife deployment on one machine,
// each program a process of its own, so that a newcomer can watch it work,
// kill -9 any part of it and see it recover.
//
// # What runs
//
// Up starts, in this order, each as a child process running a hidden
// subcommand of the same strife binary (os.Executable):
//
//	name       command           listens on (BasePort 7000)             metrics
//	etcd       strife etcd       127.0.0.1:7379 (clients), 7380 (peer)  127.0.0.1:7381
//	BankA      strife bank       127.0.0.1:7001                         127.0.0.1:7091
//	BankB      strife bank       127.0.0.1:7002                         127.0.0.1:7092
//	BankC      strife bank       127.0.0.1:7003                         127.0.0.1:7093
//	gateway-1  strife gateway    127.0.0.1:7000                         127.0.0.1:7090
//
// Each serves Prometheus metrics at http://<metrics>/metrics over plain
// HTTP (--metrics-listen; etcd its own, "basic"): MetricsPorts gives the
// ports for a base port, the banner prints the URLs, and `strife top`
// reads them. FreeBasePort checks the metrics ports too.
//
// The banks and the gateway register in etcd and find each other there; the
// gateway is also given the banks' addresses (--bank), which it uses until
// etcd answers, so a slow or stopped etcd delays no payment. The gateway
// registers the demo users (testdata/demo-users.yaml) the first time,
// opening their accounts at the banks. A tier starts once the one before
// serves: a child serves when it logs its "etcd serving", "bank serving" or
// "gateway serving" line, within Config.StartTimeout. etcd alone may be
// late: if it has not said so in time, up says it and starts the rest
// anyway, since they serve without etcd and register once it does.
//
// # State
//
// Everything lives in Config.DataDir, and a second up carries on from it:
//
//	<DataDir>/certs     CA, certificates and keys, token.key (made if there is no CA),
//	                    ca.crl once `strife-certs revoke` wrote it: every daemon is
//	                    given it (--crl) and reloads it when it changes
//	<DataDir>/etcd      etcd's data
//	<DataDir>/banks     BankA.db, BankB.db, BankC.db
//	<DataDir>/gateway   gateway-1.db
//
// # Logs
//
// Children log JSON; up reads every line, watches for the ready messages,
// and writes it to its stdout in zerolog's console format behind the child's
// name ("[BankA]  12:00:00 INF bank serving ..."). A line that is not JSON
// (a panic, a usage error) is written as it is. Up's own lines say [up].
//
// # Failures and commands
//
// Up restarts nothing by itself. When a child exits without being asked to,
// up says which one, how it ended, and the command that restarts it. Up
// reads commands, one a line, on its stdin: status, stop NAME, restart NAME,
// kill NAME and help (see commandsHelp). The end of stdin ends the
// commands, not the deployment.
//
// # Stopping
//
// SIGINT or SIGTERM stops the children in reverse order: the gateway, then
// the banks together, then etcd, each with SIGTERM and up to
// Config.StopTimeout to drain before SIGKILL. Up exits 0 if each stopped
// cleanly. A second signal kills everything at once. Children run in a
// process group of their own, so that the terminal's Ctrl-C reaches only
// up, which stops them in that order; on Linux the kernel sends each child
// SIGTERM if up itself dies. A child frozen with SIGSTOP is sent SIGCONT
// with its SIGTERM, or it would not act on it.
//
// # For programs
//
// Start runs the same deployment for another program (strife-chaos):
// no banner, no commands, no signal handling; a Deployment signals its
// children (Signal), restarts them (Restart), says whether they run and
// how they ended, and stops them all in order (Stop). Config.Env,
// BankArgs and GatewayArgs add to the children's environment and flags.
package deploy
