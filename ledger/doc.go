// Package ledger keeps a bank's accounts as events in its write-ahead log
// (package wal), with a projection of current balances beside them in the
// same bbolt file.
//
// # Events
//
// Every change to an account is a record in the log:
//
//	ACCOUNT_OPENED   number, owner
//	ACCOUNT_UPDATED  number, owner and status after the update
//	DEPOSITED        number, amount, balance after (opening balances)
//	HOLD_PLACED      number, amount, direction; header: the attempt
//	                 (older logs only: see PREPARED below)
//	HOLD_RELEASED    the same, when the attempt is aborted
//	SETTLED          the same, balance after, memo, counterparty, when the
//	                 attempt is committed: the hold released and posted
//	POSTED           number, signed amount, balance after, memo, counterparty
//	                 (older logs only)
//
// A prepared debit places a debit hold: the money stays in the posted
// balance but is no longer available. A prepared credit places a credit
// hold, a pending credit: not yet spendable, but counted when checking that
// the balance cannot overflow. A commit settles each hold (SETTLED: the
// hold's amount is posted, negative for a debit); an abort only releases
// it. Payloads are the messages of proto/strife/storage/v1.
//
// Logs written before SETTLED existed settle a hold with HOLD_RELEASED then
// POSTED. Both still replay and verify exactly as they did, and a SETTLED
// is folded in as those two would be, with the same checks, so an old data
// directory opens as it is and a log may hold both forms. Likewise, a
// PREPARED record now places its attempt's holds itself (holds_placed: a
// hold per leg, folded as a HOLD_PLACED per leg would be, with the same
// checks; Tx.Prepare writes it), where logs written before it follow each
// PREPARED with a HOLD_PLACED per leg: a record less per attempt. The
// types and payloads are an on-disk format: they are only ever added to.
//
// # Two-phase commit records
//
// This package owns the whole of a bank's file, the 2PC records the
// participant writes beside the events included (the types, 1-3 and 16-22,
// are registered with wal here; NewPayload gives each one's payload):
//
//	PREPARED   a YES vote: the legs, memo, coordinator; header: the attempt
//	COMMITTED  the decision COMMIT, applied
//	ABORTED    a NO vote, a tombstone (aborted before any Prepare), or an
//	           abort after a YES
//
// Attempt is their one reading (FoldAttempt over an attempt's records, or
// Add one at a time): the phase an attempt is in and its vote's record.
// The participant decides its answers from it, Verify checks every hold's
// attempt with it, and strife-recover lists attempts in doubt with it.
//
// # Projection
//
// Three buckets hold the current state (see store.go): accounts by number,
// holds by attempt, and postings: every entry (a DEPOSITED, POSTED or
// SETTLED record) by its sequence number, with the entry before it of the
// same account, so that each account's entries are a chain from the newest,
// whose head is in the account's state. A commit therefore appends its
// entries at the end of one bucket, and touches no page per account beyond
// the account's own. They are written in the same transaction as the events
// they derive from, by one function (apply) that is also what Replay uses,
// so the projection is a cache that the log alone can rebuild.
//
// Ledgers written before postings existed index entries by account number
// in an entries bucket instead. New rebuilds such a projection in the
// current layout, once, in one transaction; read-only readers (Attach, the
// offline tools) read either.
//
// # Use
//
// A Tx's operations check first and emit only if the change is allowed;
// they return a sentinel error (ErrInsufficientFunds, ErrAccountClosed, …)
// otherwise, without writing. A caller that needs several changes to happen
// together, like a participant preparing two legs, does them in one
// Ledger.Update and returns the first error, which rolls all of them back.
// Ledger.Update returns only once its events are durable. Ledger.UpdateAll
// runs several such functions in one commit and answers each on its own:
// one that fails rolls back only what it did. A bank applies a batch of
// payments' messages this way, for one fsync.
//
// OpenAccount and UpdateAccount check a new owner (ValidOwner: the free-text
// rule of package freetext, 1 to 64 bytes). Memos and counterparties are
// checked by the caller (participant) before they reach a hold: SettleHold
// takes them from the prepared record as they are, so an attempt prepared
// under an older rule still settles. No rule is checked on replay.
//
// # Invariants
//
// Verify rebuilds the projection from the log and compares, then checks:
// no account's available balance (posted minus debit holds) is below zero;
// the balances add up to the deposits plus the net postings; every hold
// belongs to an attempt whose last 2PC record is PREPARED. Tests run it
// after every test, as bbolt runs its consistency check.
package ledger
