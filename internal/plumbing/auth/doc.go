// Package auth is user authentication at the gateway: password hashes and
// the short-lived login tokens that later calls carry.
//
// # Passwords
//
// Passwords are stored as bcrypt hashes (cost 12 by default). Checking a
// password for a user that does not exist costs the same bcrypt comparison
// against a fixed dummy hash, so an unknown user and a wrong password give
// the same answer in the same time. A new password (Hash) is 8 to 72 bytes
// of free text (package freetext): no control character, such as a tab or
// a newline, that a terminal would not let its owner type back, and no
// invisible format character (ErrPasswordText, which names no character).
// Check applies no such rule, so a password set before it still works.
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
//	jti            a ULID naming the token, for the deny list
//	ver            the user's credential version when it was issued
//
// Tokens issued before jti and ver existed have neither: ver reads as 0,
// the version of users stored before it too, and such a token is named
// "sha256:<hex digest of the token>" (Token.ID).
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
// Refusals are not remembered. See TokenCache for why this is safe.
//
// # Revocation
//
// Revocations takes tokens back before they expire, in memory so that the
// check costs no disk read: each user's credential version (moved on by a
// change of password, role or lock), whether they are locked, and a deny
// list of token IDs (logout), each until the token would expire. A
// TokenCache made with Revocations checks them after the signature on
// every call, hit or miss, and refuses a revoked token with ErrRevoked; a
// Signer alone knows nothing of revocation. The owner of the durable state
// (the gateway's user store) loads Revocations at start and updates it
// after each durable change; Changed lets a long-lived stream notice a
// revocation at once.
package auth
