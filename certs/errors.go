package certs

import "errors"

// Sentinel errors. Functions wrap them with %w and detail (a path, a
// value); classify with errors.Is.
var (
	// ErrNoPeerCertificate: the connection has no verified peer chain,
	// e.g. PeerIdentity was called before the handshake or on a config
	// that does not verify peers.
	ErrNoPeerCertificate = errors.New("certs: no verified peer certificate")
	// ErrUnknownRole: a role string (or a certificate's OU) is not one of
	// the four roles.
	ErrUnknownRole = errors.New("certs: unknown role")
	// ErrInvalidName: a program name is empty, too long, or has characters
	// outside [A-Za-z0-9._-].
	ErrInvalidName = errors.New("certs: invalid name")
	// ErrInvalidRequest: a validity or other request field is out of range.
	ErrInvalidRequest = errors.New("certs: invalid request")
	// ErrMissingFile: a Files field is empty.
	ErrMissingFile = errors.New("certs: missing file")
	// ErrBadPEM: a file holds no PEM block of the expected type, or its
	// contents do not parse.
	ErrBadPEM = errors.New("certs: bad PEM")
	// ErrKeyMismatch: a private key does not belong to its certificate.
	ErrKeyMismatch = errors.New("certs: key does not match certificate")
	// ErrNotCA: the certificate given as a CA cannot sign certificates.
	ErrNotCA = errors.New("certs: not a CA certificate")
	// ErrBadCRL: a revocation list does not parse, is not signed by the
	// CA, or is older (a lower number) than the one in use.
	ErrBadCRL = errors.New("certs: bad revocation list")
	// ErrRevoked: the peer's certificate is on the CA's revocation list.
	ErrRevoked = errors.New("certs: certificate revoked")
	// ErrInvalidSerial: a serial number is not written as FormatSerial
	// writes it.
	ErrInvalidSerial = errors.New("certs: invalid serial number")
)
