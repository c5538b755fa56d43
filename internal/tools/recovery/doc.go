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
// bank given, or is still in phase 2 (never when that bank ABORTED the
// attempt); no bank committed an attempt the gateway did not decide
// COMMIT. A bank's name is its file's base name
// without ".db", as the daemons name them.
//
// The checks are the owners' of each format, not this package's: a bank's
// file is ledger.Verify, with its 2PC records read by ledger.Attempt; the
// gateway's is coordinator.VerifyTx (payments, epoch) and
// users.Store.Verify (users, revoked tokens, known banks). This package
// adds the in-doubt lists and the cross-check, and imports no daemon.
//
// --repair first copies the file to FILE.bak-<timestamp>, then rebuilds the
// projection from the log (the bank's balances, holds and entries; the
// gateway's payments bucket), never touching a log record, and checks
// again.
//
// Before any of that the file is checked as the daemons open it (see
// wal's "Damaged files"): its meta pages, its size, its whole tree; then
// every record is read and the index compared with the records
// (wal.Tx.Verify). So exit 0 means a daemon can open and serve the file.
// A damaged meta page that bbolt works around is printed as a WARNING and
// does not change the exit status.
//
// Exit codes: 0 consistent, 1 differences found, 2 unusable input (not a
// Strife data file, a damaged one, one of another bbolt version, locked by
// a daemon, or a log that cannot be read).
//
// # Salvage
//
// strife-recover salvage DAMAGED NEW is for a file check calls damaged:
// it copies every intact record into NEW under its own sequence number
// (wal.Salvage: through the records' tree as far as it reads, then page by
// page), rebuilds NEW's projection from them as --repair does (a bank's
// ledger; the gateway's payments, epoch and users, which all come from
// the log), and checks NEW. DAMAGED is only read; the operator swaps the
// files. It keeps every record it finds; it cannot keep a record whose
// bytes are damaged, or one on a page that is gone with no stale copy, and
// it lists those as LOST (exit 1). If what is lost leaves the rest
// impossible to replay (a HOLD_PLACED on an account whose opening is lost)
// it writes nothing and exits 2: a bank must not start on a ledger that
// is wrong. A gateway log that lost records gets an epoch EpochMargin past
// the highest its records show, so that no attempt number a lost record
// held is used again. Nothing of Strife's lives outside the log but the
// projections: users' password hashes are in USER_REGISTERED and
// USER_UPDATED records; the token key and certificates are files of their
// own.
//
// # Compact
//
// strife-recover compact SRC DST writes a smaller copy of a sound file:
// bbolt's compaction (wal.Log.Compact, over bbolt.Compact) copies every
// bucket, key, value and bucket sequence in key order into a new file, so
// DST has no free pages and its pages are full (bbolt.Compact fills them
// completely; a daemon then splits them at its own fill percents as it
// writes). SRC is opened read-only, waiting up to --timeout for a daemon's
// lock, and checked first as check checks it: a damaged file is refused
// in one line pointing at salvage, an inconsistent one (differences) with
// exit 1 and a pointer at check --repair, since a copy would carry them
// on. DST must not exist: it is written under a temporary name beside it,
// cut to its pages (bbolt grows files ahead of them), synced, and linked
// to its name only if that is still free (an interrupted compact leaves
// only that hidden temporary file, .DST.compact-*). Then DST is opened as a log and
// checked as check does (wal.Tx.Verify and the owner's checks); it must
// have the kind, records, payments and attempts in doubt of SRC, or it is
// removed (exit 2). It prints both sizes, per payment (Payments: the
// gateway's payments, a bank's transactions, as strife-inspect stats
// counts them), and how long the copy took; --json prints CompactResult.
// Nothing is dropped: what compaction reclaims is free pages and the empty
// parts of pages, not history (DESIGN.md, "Reclaiming space, and what is
// kept", says what an archive would add).
package recovery
