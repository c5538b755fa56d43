// Package certscli is strife-certs, the tool that creates Strife's CA and
// certificates (see package certs) in a directory, adds, renews and
// revokes certificates there, and lists what a directory holds.
//
// Command is the command line. Init, Issue and Revoke are the same
// operations as plain functions, for the deployment tool; List is what
// `show` prints (name, role, SANs, serial, expiry, and "yes", "expired",
// "NO: another CA" or "REVOKED").
//
// # The directory
//
// Init writes, for DefaultInitOptions:
//
//	DIR/
//	  ca.crt, ca.key              the CA "strife-ca"         (ca.key 0600)
//	  gateway-1.crt, .key         role gateway, --hosts SANs (keys 0600)
//	  BankA.crt, .key ... BankC   role bank,    --hosts SANs
//	  admin.crt, .key             role admin,   no SANs
//	  alice.crt, .key ... carol   role client,  no SANs
//	  token.key                   the gateway's token key    (0600)
//	  ca.crl                      written by revoke, not by Init
//
// Only the gateway and the banks serve, so only their certificates carry the
// DNS names and IP addresses of --hosts. Client names such as alice are
// client programs, not user logins: users still log in to the gateway.
//
// token.key is the key the gateway signs its HS256 login tokens with: 32
// bytes from crypto/rand, hex-encoded, exactly 64 lowercase characters and
// no newline, mode 0600. It belongs to the gateway alone.
//
// The names "ca" and "token" (in any case) are reserved: their files would
// overwrite the CA's or the token key.
//
// # Overwriting
//
// Init refuses a directory that already has ca.crt, or any file it would
// write, unless Force is set; Issue refuses an existing <name>.crt or
// <name>.key unless Force is set. Every file is replaced atomically (see
// certs.Issued.WriteFiles), so a server renewing with Issue and Force picks
// the new pair up at its next handshake. Init with Force replaces the CA
// and leaves other files in DIR alone: certificates of the old CA stop
// verifying, and `show` says so.
//
// # Revoking
//
// Revoke adds certificates to the CA's revocation list, DIR/ca.crl, signed
// with ca.key (see certs.CA.Revoke). Each target is a name or a serial:
//
//   - a NAME revokes every certificate of DIR with that CN that the CA
//     signed. The .crt files are the CA's only record of what it issued,
//     so a certificate renewed over with Issue and Force is no longer
//     found by name: revoke before renewing, or revoke the old one by
//     serial.
//   - a SERIAL is written as show prints it, hex bytes joined by colons
//     ("5f:0a:c3"); the colon is what tells it from a name. It need not
//     match any file.
//
// Revoking what is already on the list leaves the file untouched (the
// result says "already revoked", Written is false). An existing ca.crl that
// does not verify against ca.crt is refused, never replaced: its
// revocations would be lost. A revoked name gets a new certificate with
// Issue and Force; its new serial is not on the list.
//
// Servers given DIR/ca.crl (by default the ca.crl next to their --ca)
// reload it at their next handshake: copy ca.crl wherever ca.crt was
// copied.
package certscli
