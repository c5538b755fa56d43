// Package auth is user authentication at the gateway: password hashes and
// the short-lived login tokens that later calls carry.
//
// # Passwords
//
// Passwords are stored as bcrypt hashes (cost 12 by default). Checking a
// password for a user that does not exist costs the same bcrypt comparison
// against a fixed dummy hash, so an unknown user and a wrong password give
// the same answer in the same time.
//
// # Throttling and the hashing bound
//
// A Throttle counts failed logins by key (UserKey: the username exactly as
// given, known or not; CertKey: the client certificate's serial) and says
// when the next attempt may be checked: Free failures cost nothing, then
// each further one doubles a delay (Delay, up to MaxDelay), and LockAfter
// failures lock the key for LockFor. A refusal is a *ThrottledError
// (wrapping ErrThrottled) with the retry time, the same text for every
// key. Refused attempts are not counted (they check nothing), a key is
// forgotten after LockFor without a failure, and at most MaxKeys keys are
// kept (the oldest failure is forgotten first), so the state is bounded
// whatever names an attacker sprays. It lives in memory only.
//
// A HashGate bounds the bcrypt work: at most Slots hashings run at once
// (DefaultHashSlots: half the CPUs, at least one) and a bounded queue
// waits for them; past it, Do returns ErrBusy at once. The gateway runs
// every Hash and Check through one gate, so however many logins arrive,
// the other CPUs stay free for payments.
//
// # Tokens
//
// A login token is a JWT signed with HMAC-SHA256 under a 32-byte key kept in
// a file (token.key, made by `strife-certs init`). It carries:
//
//	sub            the username
//	role           "customer" or "admin"
//	iss            "strife"
//	iat, exp       issue and expiry time (default lifetime 15 minutes)
//	cnf.x5t#S256   the SHA-256 thumbprint of the client certificate the
//	               token was issued over (RFC 8705, certificate-bound tokens)
//
// Verify accepts only HS256 (so "alg: none" and algorithm confusion fail),
// requires an expiry in the future and the issuer, and requires the
// thumbprint to match the certificate of the connection presenting it: a
// token stolen from one client program is useless over another's
// certificate.
//
// # Token cache
//
// A client program presents the same token on every call until it expires.
// A TokenCache in front of the Signer (the gateway has one) remembers the
// tokens it accepted, keyed by token and certificate, until their expiry,
// and answers as the Signer would without parsing and checking them again.
// Refusals are not remembered. See TokenCache for why this is safe and
// where revocation will have to hook in.
package auth
