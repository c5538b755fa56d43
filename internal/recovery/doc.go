// Package recovery is strife-recover: the offline check and repair of
// Strife's data files, for an operator after a crash.
//
// check opens each file read-only (wal.OpenReadOnly), tells a bank's
// ledger from the gateway's log by its projection buckets, replays the
// write-ahead log from the first record into a projection in memory and
// compares it with the stored one, reporting every difference. It lists the
// attempts in doubt: at a bank, PREPARED with no decision (with the
// coordinator to ask and the age of the vote); at the gateway, decided
// without ATTEMPT_ENDED (phase 2) or begun without a decision. Given the
// gateway's file and banks' files together, it cross-checks the two
// phases: every COMMIT decision has a COMMITTED record at each participant
// bank given, or is still in phase 2; no bank committed an attempt the
// gateway did not decide COMMIT. A bank's name is its file's base name
// without ".db", as the daemons name them.
//
// --repair first copies the file to FILE.bak-<timestamp>, then rebuilds the
// projection from the log (the bank's balances, holds and entries; the
// gateway's payments bucket), never touching a log record, and checks
// again.
//
// Exit codes: 0 consistent, 1 differences found, 2 unusable input (not a
// Strife data file, locked by a daemon, or a log that cannot be read).
package recovery
