// Package participant is a bank's side of presumed-abort two-phase commit,
// and the BankService that exposes it and the bank's accounts over gRPC.
//
// # Protocol
//
// Every message is about one attempt of one payment, named by the payment's
// transaction ULID and the coordinator's attempt number; everything is
// idempotent on that pair, and its history is read from the write-ahead log
// (wal.Tx.Lookup) in the same transaction that writes the answer.
//
//	Prepare  new attempt:   check every leg; if all pass, write PREPARED and
//	                        place the holds, durably, then vote YES; if one
//	                        fails, write ABORTED with the reason, vote NO.
//	         seen before:   the same vote again (NO once aborted); other legs
//	                        under the same pair are ErrConflict.
//	Commit   prepared:      write COMMITTED and post the holds, durably, then
//	                        acknowledge. Committed: acknowledge again.
//	         otherwise:     ErrNotPrepared or ErrAborted; nothing changes.
//	Abort    prepared:      write ABORTED, release the holds, acknowledge.
//	         never seen:    write an ABORTED tombstone, so a Prepare that
//	                        arrives late votes NO.
//	         committed:     ErrCommitted; a commit is never undone.
//	Resolve  voted YES:     YES again (prepared or committed), and the vote
//	                        is kept: the coordinator's implicit commit may
//	                        rest on it.
//	         otherwise:     NO; an attempt never seen gets an ABORTED
//	                        tombstone first, so its late Prepare votes NO.
//
// Resolve (ResolveAttempt over gRPC, or a resolve batch item) is how a
// coordinator restarted after a crash settles an attempt it staged but did
// not decide (status resolution, see package coordinator): the attempt
// committed if and only if every participant answers YES.
//
// The decision logic is a pure function of an attempt's history (history,
// onPrepare, onCommit, onAbort, onResolve in attempt.go); Participant is the
// driver that runs it inside a ledger transaction and writes what it says.
// The times in PREPARED and COMMITTED are the transaction's (ledger.Tx.Now):
// the ledger's clock, given to ledger.New, is the bank's only one.
//
// # Batches
//
// Participant.Apply takes the messages of many payments (Ops) and runs them
// in order in one ledger transaction, one commit for all, answering each
// exactly as its single call would: a NO vote or an error of one never
// fails another, and messages about one attempt see each other in order.
// Prepare, Commit, Abort and Resolve are Apply of one message.
// BankService.Batch is Apply over gRPC: one call, one audit line (with the
// number of items and the range of their transaction IDs), one answer per
// item.
//
// # In doubt
//
// After voting YES a participant may neither commit nor abort on its own. If
// no decision arrives within Config.InDoubtTimeout it asks the coordinator
// named in the PREPARED record (Coordinator.GetDecision), with jittered
// exponential backoff between RetryMin and RetryMax, until it gets an answer,
// which it applies through Commit or Abort. A Decision is numbered as the
// wire's strifev1.Decision (COMMIT 1, ABORT 2), as the gateway's is. The in-doubt set is the holds in
// the ledger, so New finds it again after a crash and resolution resumes.
//
// # Service
//
// Service validates requests at the edge (ULIDs, attempt numbers, legs,
// amounts, lengths of every string) and maps errors to gRPC codes once,
// through one table: malformed input and a credit that would overflow are
// INVALID_ARGUMENT with nothing written; business refusals are NO votes, not
// errors. The coordinator's identity recorded with a YES vote is the CN of
// its verified client certificate, never something the request says.
//
// A transaction ID is a ULID other than the zero one (wal.ParseTxID): the
// log does not index the zero ID, so an attempt under it could be
// prepared and never found again to commit. Prepare, Commit, Abort,
// ResolveAttempt and each Batch item answer it INVALID_ARGUMENT on their
// own, and Participant refuses it too (ErrInvalid) for callers inside the
// bank. A hold under the zero ID in a log written before that rule is
// reported once at start and not resolved: no decision could be applied.
//
// Free text follows the rule of package freetext, the gateway's own: a
// Prepare's memo (at most 256 bytes) and each leg's counterparty (100), and
// an account's owner (OpenAccount, UpdateAccount; checked by the ledger) are
// valid UTF-8 without control characters (tab and newline included),
// format characters such as the bidirectional overrides, or line
// separators; anything else is INVALID_ARGUMENT with nothing written. The
// bank does not take the gateway's word for it: a gateway with another
// rule, or anything else holding a gateway certificate, is refused alike.
// The rule is for input only: a prepared attempt whose memo an older bank
// accepted still commits (Commit carries no memo), and old entries replay.
// A payment an older gateway accepted with such a memo is refused at its
// Prepare, so the coordinator fails it with nothing moved.
//
// # Metrics
//
// Config.Metrics (NewMetrics) counts votes and outcomes as they become
// durable, and reports the open holds and the attempts in doubt when
// scraped. Nil, the default, measures nothing.
package participant
