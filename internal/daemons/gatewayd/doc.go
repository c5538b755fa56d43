// Package gatewayd runs the gateway daemon: the only server clients talk
// to. It keeps the users, runs payments through the coordinator (the
// gateway's side of presumed-abort two-phase commit, package coordinator)
// and answers banks in doubt. The strife-gateway command is a thin wrapper
// around it; tests start it in-process.
//
// # What it serves
//
// One mutual-TLS listener serves GatewayService (clients and admin tools, with
// a login token for everything but Login), CoordinatorService (banks only:
// GetDecision), grpc.health.v1 and reflection. Who may call which method by
// certificate role and user role is internal/plumbing/rpc.DefaultPolicy; every
// call is written to the audit log, and a Pay that repeats an earlier one is
// marked "retry":true there.
//
// # Finding the banks
//
// Statically (Config.Banks, --bank NAME=ADDR), through etcd (Config.Etcd,
// --etcd-endpoints), or both: then the static banks are the view until etcd
// first answers, and etcd's view replaces them. The gateway never waits for
// etcd to start: it serves with the banks it can reach (none, without
// --bank: payments to the banks it knows of are held PENDING, see below)
// and learns the others when etcd is back. With
// etcd, the gateway
// watches /strife/banks/ (discovery.Directory): a bank is used from the
// moment its key appears, and new payments to it are held PENDING from
// the moment its key is deleted (clean stop) or expires (crash), without
// waiting for a prepare timeout; every change wakes the held payments. The
// gateway registers itself under /strife/gateways/<Name>, where banks in
// doubt find it, once it serves (in the background, whenever etcd
// answers), and deletes the key first thing when it stops (waiting for
// etcd at most 3 s). Every bank connection accepts only a bank certificate
// with the name looked up.
//
// # Banks that never existed
//
// The gateway remembers every bank it has ever known to exist: given with
// --bank, seen in etcd, or proven by its log (a user's account, a committed
// payment). A bank once known stays known, in the log (BANK_KNOWN) and in
// memory: a payment to it while it is away is held PENDING. An account
// address at a bank never known (Pay, RegisterClient, link_account) is
// refused at once, before anything is written or held: NOT_FOUND
// (ErrUnknownBank, "no bank named BankZ is known to this gateway"), or
// UNAVAILABLE (ErrBanksNotRead) while etcd has not answered since the
// gateway started, since the bank may have registered while the gateway
// was away. Bank names are case-sensitive. A retry of a stored payment
// gets the payment, whatever its banks. A log written before BANK_KNOWN
// records is seeded at its first start from what it proves. See DESIGN.md, "Issue 15: banks that never
// existed".
//
// # Guarantees
//
//   - A payment is durable before any answer, and runs exactly once per
//     transaction ID (coordinator.Pay). A repeat of the same request gets
//     the stored payment; the same ID with other parameters is
//     ALREADY_EXISTS and changes nothing. A repeat is judged against the
//     stored payment, not the users as they are now: a changed default
//     account does not turn a retry into a conflict.
//   - A transaction ID (Pay, GetPayment, and a bank's GetDecision) is a
//     ULID other than the zero one, by the log's rule (wal.ParseTxID):
//     the zero ULID is INVALID_ARGUMENT, before anything is stored or sent,
//     since no bank could look its attempt up. A payment under it accepted
//     before that rule (an old log) is reported once at start and left as
//     it stands; ListPayments still shows it.
//   - Every free-text field is checked by the one rule the banks and the
//     client share (package freetext): a new payment's memo (at most 256
//     bytes) and a new password are valid UTF-8 without control characters
//     (NUL, tab, newline, ESC, DEL, C1), format characters (the
//     bidirectional overrides and invisible characters; the zero-width
//     joiners are kept) or line separators: INVALID_ARGUMENT otherwise,
//     with the offending character named by code point, never echoed.
//     Usernames and account addresses have stricter patterns of their own.
//     The rule is for input: a retry of a payment stored under an older
//     rule gets the stored payment, and old payments list as they are.
//   - Business outcomes (COMMITTED, FAILED with a reason, PENDING) are
//     statuses, never RPC errors.
//   - A user and the account owners change together with the record that
//     says so, in one transaction of the gateway's log.
//   - An unknown user and a wrong password get the same UNAUTHENTICATED
//     answer after the same bcrypt work. Passwords are stored only as bcrypt
//     hashes and never logged.
//   - Tokens can be taken back (see Revocation below): after a change of
//     password, role or lock, and after a logout, the tokens concerned are
//     UNAUTHENTICATED on their next use, and a WatchPayments stream opened
//     with one ends with UNAUTHENTICATED; so does a stream whose token
//     expires.
//
// # Login throttling
//
// Failed logins are counted per username as given (an unknown name like a
// known one) and per client certificate (Config.UserThrottle,
// Config.CertThrottle; defaults auth.DefaultUserThrottle: 3 free failures,
// then waits of 1s, 2s, 4s… up to a minute, locked 15 minutes at the
// 10th; auth.DefaultCertThrottle: 10 free, locked at the 30th). An attempt
// while the name or the certificate must wait is refused before any bcrypt
// work with RESOURCE_EXHAUSTED, "too many failed logins: try again in 2s
// (at …)", and a google.rpc.RetryInfo detail with the wait; the answer is
// the same whether the user exists. It is checked again once the attempt
// holds a hashing slot, so attempts that queued together cannot all guess
// at once. A right password forgets the user's failures, not the
// certificate's. The current password of UpdateClientDetails is checked
// the same way, so a stolen token cannot be used to guess it.
//
// Every bcrypt hashing (Login, a password change, a registration) runs
// within a bound (Config.HashSlots, default half the CPUs, at least 1;
// Config.HashQueue waiting, default 4 per slot): past it a login is
// refused at once with RESOURCE_EXHAUSTED and a retry time of 1s, so a
// login flood cannot take the CPUs payments need. The throttle's state is
// in memory and does not survive a restart: see DESIGN.md, "Issue 14:
// login throttling".
//
// # Authorization by ownership
//
// The policy lets customers and admins call every method but
// RegisterClient (admins only); the handlers then check ownership:
//
//	Pay                  from an account of the caller's, customers and admins
//	                     alike: an admin is not a superuser over other
//	                     people's money
//	GetBalance           the caller's own accounts only
//	GetPayment           a customer: payments they made or receive; an admin: any
//	ListPayments         a customer: their own; an admin: any user's
//	WatchPayments        the caller's own payments
//	UpdateClientDetails  a customer: themself, with the current password to
//	                     change it; an admin: anyone, and may reset another
//	                     user's password without it, and change another
//	                     user's role
//	LockUser             admins only, for anyone but themself
//	Logout               the token the call carries
//	link_account         only an account whose owner at its bank is the user
//
// A user owns the accounts listed in their record; an account belongs to at
// most one user (the account_owners bucket), and only an account the bank
// reports with the user as owner can be linked. Registration opens the
// account at its bank with the username as owner.
//
// # On-disk format
//
// The gateway has one bbolt file, <DataDir>/<Name>.db, a wal.Log shared by
// the coordinator (payments, package coordinator) and the user store
// (users, revoked tokens, known banks: package users, whose doc draws the
// records and buckets). Each package owns and verifies its part
// (coordinator.Verify, users.Store.Verify); this package only opens the
// file and hands it to both.
//
// # Revocation
//
// A token names the credential version of its user when it was issued; a
// change of password, role or lock moves the version on (users.Store.Update).
// Logout puts the token's ID on the deny list until the token would have
// expired, durably; each logout and each start prune what has expired.
// The check costs no disk read: users.Store.Track loads the versions, locks and
// deny list into an auth.Revocations at start and keeps it up to date, and
// the token cache checks it on every call. A locked user with the right
// password gets PERMISSION_DENIED (ErrLocked). WatchPayments ends with
// UNAUTHENTICATED (ErrTokenEnded) at its token's expiry or revocation.
//
// # Users seed file
//
// For demo deployments, Config.UsersFile (--users) names a YAML file of
// users registered when the user store is empty, and ignored afterwards
// (the format is users.SeedFile):
//
//	users:
//	  - username: admin
//	    password: "admin password"
//	    role: admin
//	  - username: alice
//	    password: "alice password"
//	    role: customer
//	    account: BankA/1001
//	    opening_balance: 100000
//
// Every account is opened (or linked) at its bank first, then all users are
// stored in one transaction, so a seed that fails halfway is retried whole
// at the next start. With etcd, seeding first waits up to 30s for the
// banks of the file's accounts to register.
//
// # Lifecycle
//
// The gateway is built on package daemon, as the bank is: Config embeds
// daemon.Config (and holds coordinator.Config), Gateway embeds
// daemon.Server, whose Start, Serve and Stop set the order. Start loads the
// token key, opens the log (users, known banks), finds the banks, seeds
// the users, starts the coordinator (which resumes every open payment),
// then serves and registers. Stop deregisters, reports NOT_SERVING, ends
// watch streams, lets calls in flight finish (up to Config.DrainTimeout),
// then stops the coordinator and closes the log; payments still PENDING
// resume at the next Start.
//
// # Metrics
//
// With Config.MetricsListen (--metrics-listen) the gateway serves
// Prometheus metrics at /metrics over plain HTTP, from a registry of its
// own: its Pay latency and login refusals (metrics.go), the coordinator's
// payments, phases and gauges, the log's commits, the policy's refusals,
// the gRPC server metrics and its etcd registration. Without it nothing is
// measured. DESIGN.md ("Operating Strife") lists them.
package gatewayd
