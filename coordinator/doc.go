// Package coordinator is the gateway's side of presumed-abort two-phase
// commit, and the lifecycle of a payment from acceptance to its final
// status.
//
// # Guarantees
//
//   - A payment is durable (PAYMENT_ACCEPTED fsynced) before any answer, and
//     runs at most once per transaction ID: a repeat with the same
//     parameters gets the stored payment, with other parameters ErrConflict.
//   - A COMMIT decision is fsynced before any Commit is sent, and Commit is
//     then resent until every participant acknowledges it: a committed
//     payment is never rolled back.
//   - At most one attempt of a payment can commit: an attempt begins only
//     once the previous one is decided ABORT, and the log refuses any other
//     order (see Payment.Apply).
//   - A final status (COMMITTED, FAILED) never changes.
//
// # Shape
//
// The core (core.go) is pure: methods of Payment take an input (begin, a
// vote, an ack, a participant asking for the decision, expiry, recovery
// after a crash) and return a Ready: the records to persist and the
// messages to send, in that order. A Payment changes only by folding those
// records (Payment.Apply), live and when replayed. The driver
// (coordinator.go) is everything else: the bbolt log, the goroutines, the
// gRPC calls through the Participant interface, the clock.
//
//	Pay ──accept──▶ PENDING ──Begin──▶ Prepare to each bank (timeout)
//	                  ▲                    │ all YES        │ NO / timeout / rejected   │ a bank unreachable
//	                  │                    ▼                ▼                           ▼
//	                  │              DECISION_COMMIT   DECISION_ABORT               DECISION_ABORT
//	                  │              + COMMITTED       + FAILED(reason)             (still PENDING)
//	                  │              Commit until ack  Abort                        Abort
//	                  └────────────── backoff, next attempt ◀─────────────────────────┘
//	                                  (FAILED EXPIRED after Config.MaxHold)
//
// # Records
//
// In the gateway's write-ahead log, keyed by the payment's ULID (and the
// attempt where one is meant): PAYMENT_ACCEPTED (the resolved parameters),
// ATTEMPT_BEGUN, DECISION_COMMIT, DECISION_ABORT, ATTEMPT_ENDED (every
// participant acknowledged), PAYMENT_FINAL (status and reason). The payments
// bucket holds each payment's projection and user_payments indexes them by
// payer and payee (see store.go). Each step's records are one transaction,
// durable before its messages are sent, except ATTEMPT_ENDED alone: it is
// no force point (it only spares resends after a crash), so it rides with
// the log's next commit (wal.Log.AppendLater).
//
// # Failures
//
// A Prepare that fails is classified (classify.go): a missed deadline is a
// Timeout and fails the payment with PREPARE_TIMEOUT; a bank's refusal of
// the request (e.g. a credit that would overflow) fails it with REJECTED;
// anything else (no connection, a bank not in the Directory) aborts the
// attempt and holds the payment PENDING, to be retried with backoff until
// it commits, fails for a business reason, or expires.
//
// # Transport
//
// The core's messages reach a bank through its Participant. The one the
// gateway uses, GRPCParticipant, batches: one BankService.Batch call in
// flight per bank, and every message queued meanwhile (up to
// BatchConfig.MaxItems) in the next call, with no timer, so a lone payer
// sends batches of one and waits for nothing. Messages reach a bank in the
// order they were queued. A call that fails as a whole fails each of its
// messages with its error, which the coordinator classifies as it would
// the single call's; past BatchConfig.MaxQueued messages, callers wait for
// room (back-pressure).
//
// GetDecision answers an in-doubt bank: COMMIT only if recorded; an attempt
// still collecting votes is aborted first, so a late YES cannot commit it.
//
// On start, New replays the payments that are not finished: an undecided
// attempt is aborted, a decision not acknowledged by everyone is resent,
// and PENDING payments resume. No manual step.
package coordinator
