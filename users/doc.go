// Package users is the gateway's user store: its users, the tokens they
// logged out of, and the banks their accounts may be at, as events in the
// gateway's write-ahead log with their projection, the way package ledger
// keeps a bank's accounts. It owns that part of the gateway's file (the
// payments are package coordinator's), the users seed file's format and
// the one parser of account addresses. The gateway side reads
// users → coordinator → internal/daemons/gatewayd, as the bank side reads
// ledger → participant → internal/daemons/bankd; the offline tools
// (strife-recover, strife-inspect) use it without the gateway daemon.
//
// # Using it
//
//	log, _ := wal.Open("gateway-1.db", wal.Options{})
//	store := users.New(log)
//	err := store.Register(&storagev1.UserState{Username: "alice", ...})
//	u, err := store.Update("alice", func(u *storagev1.UserState) error { u.Locked = true; return nil })
//	err = store.Verify() // the projection against the records
//
// Every change is one log transaction: the record and the projection
// commit together or not at all, and the checks a change makes (a free
// username, an account no one else owns) hold when it is written, since
// the log serializes writers. Register and Update check a user's
// invariants (checkUser): a valid username (ValidUsername), a role and a
// password hash, distinct well-formed accounts, a default account that is
// one of them. A change of password, role or lock moves the user's
// credential version on, which revokes every token issued before; Track
// keeps an auth.Revocations up to date with versions, locks and the deny
// list (Revoke, Prune), so that checking a token costs no disk read.
//
// # Account addresses
//
// An account address is "<bank>/<number>". SplitAccount parses one from
// outside (a request, a seed file) and checks both parts (a valid program
// name, a valid ledger account number): ErrInvalid otherwise. Split only
// cuts at the first "/", for addresses already checked (a stored
// payment's); every other reader of addresses uses one of the two.
//
// # Known banks
//
// The gateway's directory of the banks its users' accounts may be at: every
// bank it has ever known to exist (given with --bank, seen in etcd, proven by
// its log). RecordKnownBanks writes a BANK_KNOWN record for each bank not known
// yet; KnownBanks reads them back. What a bank never known means for a request
// is the gateway's to decide (internal/daemons/gatewayd). They are here, not in
// coordinator, because they are replayed and verified with the users in one
// pass, describe where users' accounts may be, and the coordinator never reads
// them: it pays between any two accounts its Directory can reach.
//
// # On-disk format
//
// The records have a zero transaction ID (they belong to no payment);
// their payloads are protobuf messages of proto/strife/storage/v1, whose
// fields are only ever added. The numbers are registered with the log
// (wal.RegisterType) by this package:
//
//	48 USER_REGISTERED   a new user: the UserState (a bcrypt hash, never a password)
//	49 USER_UPDATED      the user after a change of password hash, role, lock,
//	                     default account or linked account (the first three
//	                     with a new credential_version)
//	50 TOKEN_REVOKED     a logout: a TokenRevoked (token ID, user, expiry)
//	51 TOKENS_PRUNED     the revoked tokens expired at or before a time were
//	                     dropped (a TokensPruned)
//	52 BANK_KNOWN        a bank known to exist from now on (a BankKnown: name, time)
//
// with their projection, buckets of the log's state (exported as
// UsersBucket, OwnersBucket, RevokedBucket, KnownBanksBucket), written in
// the same transaction:
//
//	users           username            -> UserState
//	account_owners  "<bank>/<number>"   -> username
//	revoked_tokens  token ID (jti)      -> TokenRevoked
//	known_banks     bank name           -> BankKnown (its first record)
//
// Verify rebuilds the four buckets from the records in memory and compares
// them with the stored ones (ErrInconsistent lists the first difference);
// Replay rewrites them from the records, as strife-recover --repair and
// salvage do. A log from before revocation has no credential versions (0,
// as in its tokens) and no revoked_tokens bucket, and opens as it is; one
// from before known banks has no known_banks bucket (the gateway seeds it
// from what the log proves). NewPayload gives the payload message of each
// type, for tools that print records.
//
// # Seed file
//
// For demo deployments, the gateway's --users names a YAML file (SeedFile,
// read by LoadSeed, unknown fields refused) of users registered when the
// store is empty:
//
//	users:
//	  - username: alice
//	    password: "alice password"
//	    role: customer               # or admin
//	    account: BankA/1001          # opened at the bank, or linked
//	    opening_balance: 100000
//
// The file holds passwords in clear text: keep it 0600.
package users
