// Package chaos is strife-chaos: a real deployment under payments while its
// processes are killed, frozen and restarted, and then a check, from the
// banks' own files, that every payment moved exactly as it was answered.
//
// # What it runs
//
//	strife-chaos [--duration 60s] [--seed N] [--payers 12] [--fault-every 2s]
//	             [--max-down 3s] [--settle 60s] [--only etcd,bank,gateway] [--dir DIR]
//
// Run starts the deployment of strife up (deploy.Start): etcd, BankA,
// BankB, BankC and gateway-1, each a process of its own (the hidden etcd,
// bank and gateway commands of Config.Executable; strife-chaos re-runs
// itself), with the demo certificates, mutual TLS everywhere and login
// tokens. The gateway's seed registers the payers: payer000, payer001, …,
// spread over the three banks, each with an account of its own; every
// fourth starts with no money and the others with 1000.00.
//
// # The workload
//
// Each payer logs in and pays, one payment at a time, a random amount (up
// to 100.00) to a random other payer's account, at any bank. Every payment
// has a fresh ULID and is sent again under the same ID, as a client's queue
// does (client.Sender), until its answer is final: COMMITTED or FAILED, or
// REJECTED for an error the client treats as a final refusal: any error
// but those client.Unreachable calls retryable and UNAUTHENTICATED, which
// is retried after logging in again. PENDING is sent again, with a
// backoff from 50ms to 1s. Payers without money, and payers
// who have spent theirs, make payments FAIL for insufficient funds.
//
// Every request and answer is kept in memory and written to payments.log
// in the run directory (see record), a line each, for a post-mortem.
//
// # The faults
//
// Meanwhile, for Config.Duration, a fault every FaultEvery on average
// (uniformly 0.5 to 1.5 times it) picks a process (etcd, a bank or the
// gateway, each alike, or among the kinds of Config.Only) and, with
// probability one half, kills it with SIGKILL and starts it again after a
// random wait up to MaxDown; one quarter, freezes it with SIGSTOP and
// continues it (SIGCONT) after up to MaxDown; one quarter, restarts it
// cleanly (SIGTERM, then start). A process already under a fault is left
// alone. A process found exited that no fault killed (a crash, or a
// daemon that gave up) is counted as "exited on its own" and started
// again, as is one
// whose start failed ("failed starts"): nothing waits for ever on a
// process. Every fault is logged in faults.log, and the daemons' logs go
// to daemons.log.
//
// The seed drives every random choice: the schedule of faults and every
// payment. It is printed first, so that a failure can be run again with
// --seed; what a replay cannot repeat is how the faults fall against the
// payments in flight, which is the machine's.
//
// # Settling and the checks
//
// When the faults stop, every process is started again if it is down; the
// payers finish the payments they have in flight (they start no new one);
// then strife-chaos asks the banks until no payer's account has a hold or
// a pending credit. All of that within Config.Settle. It then stops the
// deployment cleanly (the gateway, the banks, etcd) and opens the banks'
// files read-only (wal.OpenReadOnly, ledger.Attach, as strife-inspect
// does), reading each payer's account and its entries and every record's
// transaction ID. The invariants, each printed ✓ or ✗ with its counts:
//
//   - every payment answered COMMITTED has exactly two entries: the debit
//     of its amount on the payer's account and the credit on the payee's;
//   - a payment answered FAILED or REJECTED has none;
//   - a payment never answered (see below) moved wholly or not at all;
//   - no entry and no record at any bank carries an ID the workload never
//     sent;
//   - the balances add up to the opening balances: money is unchanged;
//   - no account has a hold or a pending credit left;
//   - no payment is without a final answer after the settle time;
//   - strife-recover check (recovery.Run) exits 0 on the gateway's file
//     and the banks' together, with its cross-check of decisions;
//   - every process stopped cleanly at the end.
//
// The summary also counts the payments (sent, committed, failed by reason,
// rejected, pending, requests) and the faults by kind of process (kills,
// stops, restarts, exits on their own, failed starts). strife-chaos exits
// 1 if any invariant fails; the run directory keeps the data, the logs
// and recover-check.txt.
//
// # In CI, and broken on purpose
//
// TestChaosRound runs a minute of faults, seed 1313, in the normal
// `go test -race ./...`. internal/testkit/crashtest's
// TestChaosCatchesAGatewayThatForgetsADecision runs the workload on a
// build whose gateway forgets, after a restart, the payments it committed
// implicitly but had not yet written the decision of (the coordinator's
// forgetImplicitCommits failpoint), and requires the checks to fail; the
// same binary with the failpoint off passes. `strife-chaos --duration
// 10m` is the long run (README.md): at the default rate, about 150 kills.
package chaos
