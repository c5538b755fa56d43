// Package certs is Strife's certificate authority and its TLS settings.
//
// Every connection in Strife is mutual TLS: client to gateway, gateway to
// bank, bank to gateway. Both ends present a certificate issued by the one
// Strife CA, and both ends verify the other's.
//
// # What a certificate proves
//
// A peer whose certificate verifies against the CA holds the private key
// the CA certified, and the CA vouched for two facts about it:
//
//   - its name, in the Subject CommonName: "BankA", "gateway-1",
//     "alice-laptop". Names are 1 to 64 characters from [A-Za-z0-9._-],
//     not starting with a dot, so they are safe as file names and as the
//     <bank> of an account address "BankA/1001".
//   - its role, in the Subject OrganizationalUnit: exactly one of
//     "client", "admin", "gateway", "bank" (see Role).
//
// PeerIdentity reads both from the verified chain of a connection; servers
// authorize on the role (only a gateway may call BankService, only a bank
// may call CoordinatorService). A certificate proves which program is
// calling, not which user: users still log in.
//
// Certificates are ECDSA P-256, valid for a year by default from five
// minutes in the past (to tolerate clock skew), and never outlive the CA.
// Each can both serve and call (ExtKeyUsage ServerAuth and ClientAuth),
// because every program is a server or a client depending on the hop. The
// DNS names and IP addresses a server is reached at must be in its
// certificate; Issue adds none by itself (LocalhostSANs has the loopback
// ones for tests and dev deployments).
//
// # Files
//
// A certificate directory holds PEM files, written atomically (temporary
// file, fsync, rename, fsync of the directory):
//
//	certs/
//	  ca.crt          CA certificate            0644  given to every program
//	  ca.key          CA private key (PKCS#8)   0600  operator only
//	  BankA.crt       BankA's certificate       0644  CN=BankA OU=bank
//	  BankA.key       BankA's key (PKCS#8)      0600  BankA only
//	  gateway-1.crt   ...
//	  gateway-1.key
//	  ca.crl          CA's revocation list      0644  given with ca.crt; absent until a revocation
//
// A daemon is given three or four of them on its command line, as Files:
//
//	--cert certs/BankA.crt --key certs/BankA.key --ca certs/ca.crt [--crl certs/ca.crl]
//
// Without --crl (Files.CRLFile empty) it watches the ca.crl next to --ca.
//
// Issuing:
//
//	ca, err := certs.NewCA("strife-ca", 0)
//	err = ca.WriteFiles("certs")
//	dns, ips := certs.LocalhostSANs()
//	bank, err := ca.Issue(certs.Request{Role: certs.RoleBank, Name: "BankA",
//		DNSNames: dns, IPAddresses: ips})
//	err = bank.WriteFiles("certs", "BankA")
//
// # TLS
//
// ServerConfig and ClientConfig build the only TLS settings Strife uses:
// TLS 1.3 and nothing else (no downgrade to 1.2 and its weaker suites),
// client certificates required and verified on the server, the server
// verified against the CA and the expected name on the client. They load
// the key pair at each handshake through GetCertificate and
// GetClientCertificate, rereading the files only when they change, so a
// renewed certificate written over the old files is used by the next
// connection without a restart. ServerConfigFrom and ClientConfigFrom are
// the same for an in-memory certificate, for tests.
//
// # Revocation
//
// A certificate whose key leaked is taken back by putting its serial on the
// CA's revocation list: CA.Revoke returns a new list (an X.509 CRL, signed
// by the CA, holding the previous list's entries and the new serials, its
// CRL number one higher) and CRL.WriteFile writes it atomically as one PEM
// "X509 CRL" block. `strife-certs revoke NAME|SERIAL` does both.
//
// ServerConfig and ClientConfig check the peer's certificate against the
// list in a VerifyConnection callback, which TLS runs on every handshake,
// resumed ones included, on both sides: a server refuses a revoked client,
// and a client (the gateway dialing a bank, a bank dialing the gateway, a
// customer's client) refuses a revoked server. The refusal fails the
// handshake with ErrRevoked and is logged at warn with the peer's name and
// serial. A peer is revoked if its certificate's authority key ID is the
// list's and its serial is listed; a list names one CA, so during a CA
// rotation only the certificates of the CA that signed ca.crl can be
// revoked.
//
// The list file is watched like the key pair (one stat per handshake):
//
//   - absent: nothing is revoked; a list written later is picked up at the
//     next handshake, so the first revocation needs no restart.
//   - present when the config is built but unparsable or not signed by a
//     CA of CAFile (CRL.CheckSignatureFrom): ErrBadCRL, and a daemon does
//     not start.
//   - changed while running into something refused (unparsable, another
//     CA's, a lower CRL number than the list in use, removed): logged once
//     at error to Files.Log, and the last good list stays in use. A broken
//     or rolled-back file never lets a revoked peer back in.
//
// The list's NextUpdate is not enforced: servers read it from a local
// file, and a stale list would otherwise lock every peer out. Connections
// already open when a revocation lands are not cut; they end at their
// next reconnection (a restart of either end, a network failure).
//
// # Example
//
//	cfg, err := certs.ServerConfig(certs.FilesIn("certs", "BankA"))
//	lis, err := tls.Listen("tcp", ":7001", cfg) // or grpc credentials.NewTLS(cfg)
//	...
//	name, role, err := certs.PeerIdentity(conn.ConnectionState())
package certs
