// Package coordinator is the gateway's side of two-phase commit, and the
// lifecycle of a payment from acceptance to its final status.
//
// The protocol is presumed-abort 2PC with parallel commit: an attempt is
// staged (its record written) while its Prepares are already on their way,
// and it commits implicitly, with no record of its own, the moment the
// staging record is durable and every participant has voted YES. The
// client is answered COMMITTED then; the decision's record follows lazily,
// and the Commits follow the record.
//
// # Guarantees
//
//   - A payment is durable (PAYMENT_ACCEPTED fsynced) before any answer, and
//     runs at most once per transaction ID: a repeat with the same
//     parameters gets the stored payment, with other parameters ErrConflict.
//   - An attempt commits if and only if it is staged (ATTEMPT_STAGED
//     durable) and every participant votes YES (each YES is durable at its
//     bank before it is sent). Both are durable before COMMITTED is
//     answered, so a crash after the answer cannot undo it: the restarted
//     gateway finds the attempt staged and asks the banks (Resolve), and
//     their YES votes are still there.
//   - A Commit is sent only once the decision is durable at the gateway,
//     and then until every participant acknowledges it; GetDecision
//     answers only a durable decision. A bank never learns a decision the
//     gateway could forget.
//   - At most one attempt of a payment can commit: an attempt begins only
//     once the previous one is decided ABORT, and the log refuses any other
//     order (see Payment.Apply). Attempt numbers are never used twice, not
//     even by Prepares that left before a crash with no record behind them:
//     the high bits are an epoch the gateway takes, durably, at every start.
//   - A final status (COMMITTED, FAILED) never changes.
//   - A payment's ID is never the zero ULID (wal.CheckTxID): Pay refuses it
//     (ErrInvalid) before a record is written or a Prepare leaves, since
//     no bank could find its attempt to commit it.
//
// # Shape
//
// The core (core.go) is pure: methods of Payment take an input (begin, a
// vote, an ack, a participant asking for the decision, an answer to
// Resolve, expiry, recovery after a restart) and return a Ready: the
// records to persist, the messages to send, and the Mode that orders them.
// A Payment changes only by folding records (Payment.Apply), live and when
// replayed; what the coordinator heard about the latest attempt (votes,
// acknowledgements) is its Round, in memory only. The driver (coordinator.go
// and run.go) is everything else: the bbolt log, the goroutines, the gRPC
// calls through the Participant interface, the clock.
//
// A step's Mode says when its records are durable:
//
//	Durably      records fsynced, then the payment takes them, then messages
//	             (acceptance without a first attempt, ABORT, a resolution)
//	InParallel   messages sent while the records commit; the payment takes
//	             them once durable (Begin: ATTEMPT_STAGED with its Prepares)
//	Lazily       the payment takes them at once; they ride with the log's
//	             next commit, and the messages follow them (an implicit
//	             commit's DECISION_COMMIT and final status; ATTEMPT_ENDED)
//
// # States
//
//	Pay ──accept + stage attempt 1──▶ PENDING, Prepare to each bank (in parallel with the record)
//	                  ▲                    │ staged and all YES │ NO / timeout / rejected │ a bank unreachable
//	                  │                    ▼                    ▼                         ▼
//	                  │            COMMITTED at once       DECISION_ABORT            DECISION_ABORT
//	                  │            DECISION_COMMIT lazily  + FAILED(reason)          (still PENDING)
//	                  │            then Commit until ack   Abort                     Abort
//	                  └──────────────── backoff, next attempt ◀──────────────────────────┘
//	                                    (FAILED EXPIRED after Config.MaxHold)
//
//	after a restart: staged, no decision ──Resolve to each bank──▶ all YES: DECISION_COMMIT (resolved) + COMMITTED
//	                                                             any NO:  DECISION_ABORT (resolved), next attempt
//
// # Records
//
// In the gateway's write-ahead log, keyed by the payment's ULID (and the
// attempt where one is meant): PAYMENT_ACCEPTED (the resolved parameters;
// since issue 17 it also stages the first attempt when the two share a
// commit, as they do whenever the payment's banks are known: it is then
// numbered as that attempt, with first_attempt_staged),
// ATTEMPT_STAGED (an attempt whose Prepares may have left; it commits
// implicitly on all YES), DECISION_COMMIT and DECISION_ABORT (resolved
// when a restart's Resolve decided them; carrying the payment's final
// status and reason when the decision makes it final), ATTEMPT_ENDED
// (every participant acknowledged; after a COMMIT its time is the
// payment's settled_at), PAYMENT_FINAL (status and reason, for a payment
// made final without a decision: it expired; logs written before a
// decision carried the final status have one after each such decision),
// and EPOCH_BEGUN (one per start).
// ATTEMPT_BEGUN, an attempt recorded before its Prepares were sent, is what
// logs from before parallel commit hold: replayed, such an attempt without
// a decision never committed and is aborted. A payment's projection (a
// PaymentState, whose decision is numbered as the wire's
// strifev1.Decision: 0 none, 1 commit, 2 abort) is in the open bucket
// while a restart must resume it: it is not final, or its last attempt's
// ATTEMPT_ENDED is not written (a decision not acknowledged by every bank
// is open by the same rule, so it covers undelivered decisions too). Once
// finished it moves to the payments bucket, in the same transaction, and
// never changes again, so those pages are filled once and left. One
// function stores a payment (putPayment); Replay rebuilds both buckets.
// user_payments indexes the payments by payer and payee (see store.go);
// the coordinator bucket holds the current epoch. A file from before issue
// 17 keeps every payment in payments and has no open bucket: New moves
// its open payments once, in one transaction, and logs it. The bucket's
// existence is the marker (the first payment stored creates it), so an
// empty open bucket is never rebuilt. This package owns that part of the
// gateway's file: it
// registers the record types (32-39) with wal, exports the bucket names
// and NewPayload, and Verify (VerifyTx for the tools) rebuilds every
// payment from the records and compares it (and the bucket it is in) and
// the epoch with the projection, as ledger.Verify does for a bank. The rest of the file
// (users, revoked tokens, known banks) is package users'.
//
// A payment's first commit at the gateway holds both its acceptance and its
// staged first attempt, in one record (Payment.AcceptStaged); its decision rides with another payment's commit
// (Config.DecisionLinger bounds the wait for one, 2ms) and its end with a
// later one (Config.EndLinger, 1s). A lone payer's path is one commit at
// each bank (the Prepare) in parallel with one at the gateway; its Commit
// rides with the next Prepare to that bank (see Transport).
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
// GetDecision answers an in-doubt bank. An attempt that is not the latest,
// or a payment the gateway does not know, is ABORT (presumed: it was never
// staged, or it was aborted). The latest attempt still collecting votes is
// aborted first, durably, so that a late YES can no longer commit it; it
// cannot have committed yet, since its last YES would have committed it at
// once. A COMMIT taken implicitly is answered once its record is durable.
// An attempt being resolved after a restart is ErrResolving: ask again.
//
// A write that fails at the gateway (a full disk, an I/O error, a failed
// fsync: wal.ErrWriteFailed) never becomes a final refusal. An acceptance
// that cannot be written returns the error, which the gateway answers
// UNAVAILABLE: nothing was decided. Its Prepares had already left with the
// staging record, so each bank is sent an Abort at once (the attempt was
// never staged, so it never committed and nobody was told it did), and the
// epoch is burned: the next acceptance takes a new epoch first (failing,
// before any Prepare, while the disk is still full), so a client's retry
// stages a number the banks have not aborted. A later attempt whose
// staging fails is aborted the same way and keeps its number in the Round.
// Records persisted Lazily (an implicit commit's decision and final status,
// an attempt's END) do not change the answer, which is already true, and
// are written again, with backoff, until they land; the messages that
// follow them wait. A final payment's are written as they were: nothing
// else can follow them. The END of an aborted attempt of a payment still
// PENDING cannot be: the payment goes on meanwhile (it may expire, or
// stage its next attempt, and an END logged after the next attempt's
// staging record would be refused on replay). It is written again as a
// step of its own, from the payment as it then stands, and dropped once a
// later attempt is staged (only the latest attempt's decision is ever sent
// again); until it lands the payment does not count the attempt as ended.
// At most one such retry runs per run and attempt, so memory stays bounded
// by the payments in flight. A restart rebuilds what a stop lost (Resolve,
// or the decision sent again). An epoch is taken only once its record is
// durable. A commit that
// failed after it became visible fails the log for good (wal.ErrLogFailed,
// also UNAVAILABLE): the gateway must be restarted, and recovery reads what
// the file holds.
//
// On start, New takes a new epoch and replays the payments that are not
// finished, which it reads from the open bucket (so a start costs the open
// payments, not every payment ever made): a staged attempt without a decision is resolved by asking each
// participant whether it holds a YES (Participant.Resolve; a bank that has
// never seen the attempt aborts it, so that a late Prepare votes NO), an
// undecided attempt from before staging is aborted, a decision not
// acknowledged by everyone is resent, and PENDING payments resume. No
// manual step. The exception is a payment under the zero ID, which a log
// written before that ID was refused may hold: it is logged once and left
// as it stands, since its banks cannot find its attempt and the log
// refuses its records.
//
// # Transport
//
// The core's messages reach a bank through its Participant. The one the
// gateway uses, GRPCParticipant, batches: one BankService.Batch call in
// flight per bank, and every message queued meanwhile (up to
// BatchConfig.MaxItems) in the next call. A Prepare or a Resolve that
// finds no call in flight goes at once, alone: a client waits for it. A
// Commit or an Abort is a rider: no client waits for it, so it waits for
// the next call to its bank, up to BatchConfig.Linger (5ms), instead of
// starting one. Messages reach a bank in the order they were queued. A
// call that fails as a whole fails each of its messages with its error,
// which the coordinator classifies as it would the single call's; past
// BatchConfig.MaxQueued messages, callers wait for room (back-pressure).
//
// # Failpoints
//
// run.go has gofail failpoints at the points where a crash matters most
// (stagingBeforeDurable, stagedBeforeVotes, lazyDecisionLinger,
// resolvedBeforeDecision); internal/testkit/crashtest builds the gateway with
// them enabled and kills it there. coordinator.go has one more,
// forgetImplicitCommits, which breaks the gateway on purpose: after a restart
// it fails the staged attempts whose decision it had not written, instead of
// resolving them, so that strife-chaos's test can show that its checks catch a
// coordinator that forgets a decision. In a normal build they are comments.
//
// # Metrics
//
// Config.Metrics (NewMetrics, metrics.go) counts payments by status and
// reason and times each phase of an attempt from the records of its steps
// (in the driver: the core stays pure); the held, in-doubt and undelivered
// gauges are computed when scraped from the active payments. Nil, the
// default, measures nothing and reads no clock.
//
// # Loading a history
//
// Loader (load.go) writes payments into a log without banks or a network,
// through the same steps and persistIn as a running coordinator, thousands
// a transaction: finished ones (committed, attempt ended) and held ones
// (PENDING after an unreachable bank). strife-bench startup builds its
// files of millions of payments with it, to measure what a start costs
// after a long history; nothing else uses it.
package coordinator
