// Package client is the strife client: the login, pay, balance, history,
// queue, watch, menu, details, admin register, admin lock/unlock and logout
// subcommands
// (Commands) and what they stand on.
//
// # Passwords
//
// When standard input is a terminal, passwords are prompted for and read
// without echo (golang.org/x/term); a new password (admin register, details
// --new-password) is asked twice. Otherwise (a pipe, --password-stdin) each
// password is one line of standard input, with no confirmation: details
// --new-password reads the current password first (when changing one's own),
// then the new one. Only the line ending is stripped: spaces are part of a
// password. The menu reads its passwords in the same way.
//
// # Admin commands
//
//	admin register --user NAME --role customer|admin --account BankA/1005 [--opening 100.00]
//	    registers a user (RegisterClient; admins only) and opens their
//	    account at its bank with the opening balance, or links it if the
//	    bank already has it with that owner
//	details [--user NAME] [--default-account X] [--link-account X] [--new-password] [--role R]
//	    changes a user's details (UpdateClientDetails): the default account
//	    that pay uses without --from, a linked account, the password. A
//	    customer changes only themself; an admin may name another user,
//	    reset their password without the current one, and change their
//	    role. A new password or role revokes the user's tokens.
//	admin lock USER, admin unlock USER
//	    locks a user out (LockUser; admins only): their tokens are refused
//	    from then on and they cannot log in, until unlocked.
//
// # Logout and revoked tokens
//
// logout revokes the token at the gateway (Logout), then forgets it; if
// the gateway cannot be reached it forgets it all the same and warns that
// the token stays valid until it expires. watch follows its token: when
// the gateway ends the stream because the token expired or was revoked,
// watch says so on standard error, waits for a new login (`strife login`
// in another terminal writes the session it picks up), and resumes; each
// time a stream opens again it catches up from the payment history
// (ListPayments), so no change is missed. A token refused from the start
// ends watch with "log in again".
//
// The menu offers "admin: register a client" to admins.
//
// # Guarantees
//
// A payment is never lost or doubled by the client. Pay gives it a ULID
// (its idempotency key, the PayRequest's transaction_id) and writes it to
// the queue, fsynced, before the first send; every later send of that
// payment, from this process or from a client started again after a crash,
// uses the same ULID, and the gateway pays each ULID once. A payment leaves
// the queue only with a final outcome, in the same bbolt transaction that
// records it in the done bucket:
//
//	COMMITTED  paid
//	FAILED     refused for a business reason (INSUFFICIENT_FUNDS, ...): final, never retried
//	REJECTED   the gateway refused the request (INVALID_ARGUMENT, NOT_FOUND, ...): final;
//	           a payment to a user or bank that does not exist is refused at once,
//	           not held
//	PENDING    the gateway holds it and keeps trying; the client polls GetPayment
//	QUEUED     the gateway could not be reached (UNAVAILABLE, DEADLINE_EXCEEDED,
//	           connection refused): resent later, same ULID
//
// An UNAUTHENTICATED answer keeps the payment queued and asks the user to
// log in again (ErrLoginAgain).
//
// A new payment's memo is checked by the gateway's rule (package freetext:
// valid UTF-8 of at most 256 bytes, without control, format or separator
// characters) before it is queued, and refused with the reason ("memo is
// not valid text: control character U+001B at byte 0"): the queue never
// holds a payment the gateway could only refuse. An entry queued by an
// older client is sent as it is; the gateway answers a new payment
// INVALID_ARGUMENT, recorded as REJECTED with that reason, and a payment it
// already had with the payment.
//
// # Resending
//
// Sender.Run sends the pending payments in creation order, then waits:
// exponential backoff from MinBackoff with jitter (each wait is in [d/2, d]),
// capped at MaxBackoff (30s), cut short when the gRPC connection becomes
// READY after the gateway was unreachable. `strife watch` runs it;
// `strife queue flush` does one round.
//
// # Where the gateway is
//
// Each command finds the gateway and the certificate directory in this
// order: its flags (--gateway, --certs), then the environment
// ($STRIFE_GATEWAY, $STRIFE_CERTS), then the session (the ones the login
// used), then the defaults (127.0.0.1:7000, strife-data/certs). So after
//
//	strife login --user alice --gateway 10.0.0.5:7000 --certs /etc/strife/certs
//
// `strife pay --to bob --amount 12.50` goes to the same gateway with the
// same certificates. The state directory is --state-dir, else
// $STRIFE_STATE, else ~/.strife.
//
// # State directory
//
// --state-dir (default $STRIFE_STATE, else ~/.strife) holds:
//
//	session.json  the login token, user, role, certificate name and expiry (0600);
//	              the gateway address and certificate directory (absolute) of
//	              the login, "gateway" and "certs_dir", absent from a session
//	              saved by an older client
//	queue.db      bbolt, two buckets keyed by ULID (so in creation order):
//	              "queue"  payments not yet final
//	              "done"   payments with their final outcome
//
// Each value is JSON: {"request": PayRequest (protobuf, base64), "state":
// "queued"|"sent"|"done", "last_error", "attempts" (sends begun by this
// client), "outcome": Payment (protobuf, base64, once COMMITTED or FAILED),
// "created_at"}. bbolt locks the file, so one client process uses a state
// directory at a time.
//
// # JSON output
//
// With --json every command prints one JSON object (watch: one per line).
// Amounts are integers in minor units ("amount": 1250) with "amount_text"
// ("12.50"). A payment is {"transaction_id", "status" (COMMITTED, FAILED,
// REJECTED, PENDING, QUEUED), "reason" (FAILED only), "message",
// "from_account", "to", "amount", "amount_text", "memo", "attempts",
// "created_at", "settled_at"}. A payment is COMMITTED once every bank voted
// YES and the gateway recorded it, before the banks apply it; "settled_at"
// is when they all had: until then its amount shows as held at the payer's
// bank and as a pending credit at the payee's.
//
//	login        {"user", "role", "cert_name", "expires_at"}
//	logout       {"logged_out": true}
//	pay          a payment, without "settled_at" (the answer comes before
//	             the banks apply it; history has it); a REJECTED one has
//	             "code", the gateway's gRPC code name (NOT_FOUND)
//	balance      {"accounts": [{"account", "posted", "available", "held",
//	             "pending_credits", "available_text"}]}
//	history      {"payments": [payment...]}
//	queue list   {"pending": [payment...]}, "message" being the last error
//	queue flush  {"results": [payment...], "remaining": N}
//	watch        {"event": "outcome" (a queued payment became final) or
//	             "payment" (the gateway reported a change), payment fields}
//	admin register, admin lock, admin unlock, details
//	             the user: {"user", "role" (customer or admin), "accounts"
//	             (["BankA/1005", ...]), "default_account", "created_at",
//	             "locked": true when locked}
//
// # Errors and exit statuses
//
// An error is one line on standard error, written for a person: "Error:
// no user named mallory", "Error: --amount is required". With --json it is
// one JSON object on standard error, and nothing else is printed:
//
//	{"code": "NOT_FOUND", "message": "cannot lock or unlock mallory: no user named mallory"}
//
// code is a gRPC code name when the gateway refused or could not be
// reached (NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED, ALREADY_EXISTS,
// UNAVAILABLE, RESOURCE_EXHAUSTED, UNAUTHENTICATED, which also stands for
// "not logged in" and an expired session), "usage" when the command line is
// wrong, "local" when the trouble is on this machine (state directory,
// queue file, certificate files, terminal). A payment that is not
// COMMITTED is not an error: it is printed on standard output like any
// payment (a REJECTED one with "code"), and the exit status says how it
// ended:
//
//	0  done; a payment COMMITTED
//	1  an error, or a payment FAILED or REJECTED
//	2  usage: a flag, argument or command is wrong; nothing was done
//	3  a payment is QUEUED: the gateway could not be reached; it is resent later
//	4  a payment is PENDING: the gateway holds it and keeps trying
//
// queue flush exits 0 when it leaves the queue empty, 3 when payments are
// still queued, 4 when only pending ones are left. Execute runs the strife
// command and does this (Classify, Report); cmd/strife only exits with it.
//
// Amounts are parsed exactly (ParseAmount): digits with at most two
// decimals, no floating point.
package client
