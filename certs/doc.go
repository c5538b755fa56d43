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
//
// A daemon is given three of them on its command line, as Files:
//
//	--cert certs/BankA.crt --key certs/BankA.key --ca certs/ca.crt
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
//	cfg, err := certs.ServerConfig(certs.FilesIn("certs", "BankA"))
//	lis, err := tls.Listen("tcp", ":7001", cfg) // or grpc credentials.NewTLS(cfg)
//	...
//	name, role, err := certs.PeerIdentity(conn.ConnectionState())
package certs
