package gatewayd_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/plumbing/auth"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
)

// The servers an attack can aim at; their logs are captured separately.
const (
	gateway = "gateway"
	bankA   = "BankA"
)

// logged is the log line an attack must leave on the server it attacked:
// the "tls handshake refused" line if handshake is set, else the audit
// line of method with the case's code and the caller the server saw.
type logged struct {
	server    string
	handshake bool
	method    string // full method name, for the audit line
	program   string // CN the server read from the certificate
	role      certs.Role
	user      string // "" when no valid token named one: the field must be absent
	userRole  string
}

// attackCase is one row of the attack matrix: an attack, the exact code it
// must get, and the log line it must leave. No attack may change any state.
type attackCase struct {
	name   string
	code   codes.Code
	log    logged
	attack func(a *attacker) error
}

// TestAttackMatrix runs every attack of the security contract (issue 3,
// DESIGN.md "Security") against a real gateway and two banks over mutual
// TLS on 127.0.0.1, and checks for each: the exact gRPC code, that no
// balance, hold, entry, user, password or payment changed, and that the
// attacked server logged it.
func TestAttackMatrix(t *testing.T) {
	w := newAttackWorld(t)
	var cases []attackCase

	// The TLS handshake: a certificate the server cannot verify is refused
	// before any interceptor runs, on the gateway and on a bank alike. Each
	// forged certificate names a program the server would otherwise let in.
	for _, server := range []string{gateway, bankA} {
		role, name := certs.RoleClient, "alice-laptop"
		if server == bankA {
			role, name = certs.RoleGateway, "gateway-1"
		}
		cases = append(cases,
			attackCase{
				name: "no client certificate → " + server, code: codes.Unavailable,
				log: logged{server: server, handshake: true},
				attack: func(a *attacker) error {
					return a.probe(server, &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: w.e.pki.CA.Pool()})
				},
			},
			attackCase{
				name: "certificate from another CA → " + server, code: codes.Unavailable,
				log: logged{server: server, handshake: true},
				attack: func(a *attacker) error {
					other := banktest.NewPKI(a.t) // a CA with the same name, another key
					return a.probe(server, certs.ClientConfigFrom(issue(a.t, other.CA, role, name, time.Hour), w.e.pki.CA.Pool(), ""))
				},
			},
			attackCase{
				name: "expired certificate → " + server, code: codes.Unavailable,
				log: logged{server: server, handshake: true},
				attack: func(a *attacker) error {
					expired := issue(a.t, w.e.pki.CA, role, name, time.Millisecond)
					for !time.Now().After(expired.Leaf.NotAfter) {
						time.Sleep(5 * time.Millisecond)
					}
					return a.probe(server, certs.ClientConfigFrom(expired, w.e.pki.CA.Pool(), ""))
				},
			},
			attackCase{
				// A stolen copy of the certificate, revoked by serial after
				// the server started: the server reloads ca.crl.
				name: "revoked certificate → " + server, code: codes.Unavailable,
				log: logged{server: server, handshake: true},
				attack: func(a *attacker) error {
					stolen := issue(a.t, w.e.pki.CA, role, name, time.Hour)
					w.revoke(a.t, stolen.Leaf)
					return a.probe(server, certs.ClientConfigFrom(stolen, w.e.pki.CA.Pool(), ""))
				},
			},
		)
	}

	cases = append(cases,
		// Certificate roles: the policy table.
		attackCase{
			name: "client certificate calls BankService", code: codes.PermissionDenied,
			log: logged{server: bankA, method: "/strife.v1.BankService/OpenAccount", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				_, err := strifev1.NewBankServiceClient(a.conn(bankA, certs.RoleClient, "alice-laptop")).OpenAccount(a.ctx(), mintAccount)
				return err
			},
		},
		attackCase{
			name: "client certificate calls CoordinatorService", code: codes.PermissionDenied,
			log: logged{server: gateway, method: "/strife.v1.CoordinatorService/GetDecision", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				_, err := strifev1.NewCoordinatorServiceClient(a.conn(gateway, certs.RoleClient, "alice-laptop")).
					GetDecision(a.ctx(), &strifev1.GetDecisionRequest{TransactionId: ulid.Make().String(), Attempt: 1})
				return err
			},
		},
		attackCase{
			name: "gateway certificate calls CoordinatorService", code: codes.PermissionDenied,
			log: logged{server: gateway, method: "/strife.v1.CoordinatorService/GetDecision", program: "gateway-1", role: certs.RoleGateway},
			attack: func(a *attacker) error {
				_, err := strifev1.NewCoordinatorServiceClient(a.conn(gateway, certs.RoleGateway, "gateway-1")).
					GetDecision(a.ctx(), &strifev1.GetDecisionRequest{TransactionId: ulid.Make().String(), Attempt: 1})
				return err
			},
		},
		attackCase{
			name: "bank certificate calls GatewayService", code: codes.PermissionDenied,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/Login", program: "BankA", role: certs.RoleBank},
			attack: func(a *attacker) error {
				_, err := a.gateway(certs.RoleBank, "BankA").Login(a.ctx(), &strifev1.LoginRequest{Username: "alice", Password: alicePassword})
				return err
			},
		},
		attackCase{
			name: "method missing from the policy table (gateway)", code: codes.PermissionDenied,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/DropAllTables", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				conn := a.conn(gateway, certs.RoleClient, "alice-laptop")
				return conn.Invoke(a.bearer(w.aliceToken), "/strife.v1.GatewayService/DropAllTables", &emptypb.Empty{}, &emptypb.Empty{})
			},
		},
		attackCase{
			name: "method missing from the policy table (bank)", code: codes.PermissionDenied,
			log: logged{server: bankA, method: "/strife.v1.BankService/DropAllTables", program: "gateway-1", role: certs.RoleGateway},
			attack: func(a *attacker) error {
				conn := a.conn(bankA, certs.RoleGateway, "gateway-1")
				return conn.Invoke(a.ctx(), "/strife.v1.BankService/DropAllTables", &emptypb.Empty{}, &emptypb.Empty{})
			},
		},

		// Login tokens.
		attackCase{
			name: "no token", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/Pay", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				_, err := a.gateway(certs.RoleClient, "alice-laptop").Pay(a.ctx(), toUser(ulid.Make(), "bob", 1000))
				return err
			},
		},
		attackCase{
			name: "no token on a stream (WatchPayments)", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/WatchPayments", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				stream, err := a.gateway(certs.RoleClient, "alice-laptop").WatchPayments(a.ctx(), &strifev1.WatchPaymentsRequest{})
				if err != nil {
					return err
				}
				_, err = stream.Recv()
				return err
			},
		},
		attackCase{
			name: "expired token", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/Pay", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				// The gateway's own key, alice's own certificate: only the
				// clock is an hour behind, so the token expired 45 minutes ago.
				anHourAgo := func() time.Time { return time.Now().Add(-time.Hour) }
				token := w.sign(a.t, w.key, anHourAgo, "alice", auth.RoleCustomer)
				_, err := a.gateway(certs.RoleClient, "alice-laptop").Pay(a.bearer(token), toUser(ulid.Make(), "bob", 1000))
				return err
			},
		},
		attackCase{
			name: "tampered payload: role admin, on RegisterClient", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/RegisterClient", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				token := tamper(a.t, w.aliceToken, func(c map[string]any) { c["role"] = auth.RoleAdmin })
				_, err := a.gateway(certs.RoleClient, "alice-laptop").RegisterClient(a.bearer(token), eveRegistration)
				return err
			},
		},
		attackCase{
			name: "tampered payload: subject bob, paying from bob's account", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/Pay", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				token := tamper(a.t, w.aliceToken, func(c map[string]any) { c["sub"] = "bob" })
				_, err := a.gateway(certs.RoleClient, "alice-laptop").Pay(a.bearer(token), toAccount(ulid.Make(), "BankA/1001", 1000))
				return err
			},
		},
		attackCase{
			name: "token signed with another key", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/RegisterClient", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				otherKey := make([]byte, 32)
				_, err := rand.Read(otherKey)
				require.NoError(a.t, err)
				token := w.sign(a.t, otherKey, nil, "admin", auth.RoleAdmin)
				_, err = a.gateway(certs.RoleClient, "alice-laptop").RegisterClient(a.bearer(token), eveRegistration)
				return err
			},
		},
		attackCase{
			name: "alg none", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/RegisterClient", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				token, err := jwt.NewWithClaims(jwt.SigningMethodNone, w.claims("admin", auth.RoleAdmin, time.Now())).
					SignedString(jwt.UnsafeAllowNoneSignatureType)
				require.NoError(a.t, err)
				require.True(a.t, strings.HasSuffix(token, "."), "no signature: %s", token)
				_, err = a.gateway(certs.RoleClient, "alice-laptop").RegisterClient(a.bearer(token), eveRegistration)
				return err
			},
		},
		attackCase{
			name: "token issued over certificate A presented over certificate B", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/Pay", program: "mallory-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				_, err := a.gateway(certs.RoleClient, "mallory-laptop").Pay(a.bearer(w.aliceToken), toAccount(ulid.Make(), "BankA/1003", 1000))
				return err
			},
		},

		// Passwords.
		attackCase{
			name: "wrong password", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/Login", program: "mallory-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				c := a.gateway(certs.RoleClient, "mallory-laptop")
				_, wrong := c.Login(a.ctx(), &strifev1.LoginRequest{Username: "alice", Password: "alice passw0rd"})
				_, unknown := c.Login(a.ctx(), &strifev1.LoginRequest{Username: "nobody", Password: "alice passw0rd"})
				require.True(a.t, proto.Equal(status.Convert(wrong).Proto(), status.Convert(unknown).Proto()),
					"a wrong password (%v) and an unknown user (%v) get the same status", wrong, unknown)
				return wrong
			},
		},

		// Login throttling (issue 14). The gateway's throttle clock stands
		// still (attackWorld.clock), so a delay once earned lasts the whole
		// matrix. Each case guesses over a certificate of its own; the
		// guesses are made on a connection of their own, so that the audit
		// lines checked are those of the last attempt alone.
		attackCase{
			name: "twelve wrong passwords, then the right one", code: codes.ResourceExhausted,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/Login", program: "guesser-1", role: certs.RoleClient},
			attack: func(a *attacker) error {
				a.guess("guesser-1", 12, "dave")
				_, err := a.gateway(certs.RoleClient, "guesser-1").Login(a.ctx(), &strifev1.LoginRequest{Username: "dave", Password: davePassword})
				requireRetryInfo(a.t, err)
				return err
			},
		},
		attackCase{
			name: "twelve wrong passwords for an unknown user: the same answer", code: codes.ResourceExhausted,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/Login", program: "guesser-2", role: certs.RoleClient},
			attack: func(a *attacker) error {
				a.guess("guesser-2", 12, "erin", "nobody")
				c := a.gateway(certs.RoleClient, "guesser-2")
				_, known := c.Login(a.ctx(), &strifev1.LoginRequest{Username: "erin", Password: erinPassword})
				_, unknown := c.Login(a.ctx(), &strifev1.LoginRequest{Username: "nobody", Password: erinPassword})
				requireRetryInfo(a.t, unknown)
				require.True(a.t, proto.Equal(status.Convert(known).Proto(), status.Convert(unknown).Proto()),
					"a throttled known user (%v) and a throttled unknown user (%v) get the same status", known, unknown)
				return unknown
			},
		},
		attackCase{
			name: "one certificate spraying usernames, then a right password", code: codes.ResourceExhausted,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/Login", program: "sprayer", role: certs.RoleClient},
			attack: func(a *attacker) error {
				var names []string
				for i := range auth.DefaultCertThrottle.Free {
					names = append(names, fmt.Sprintf("spray%d", i))
				}
				a.guess("sprayer", len(names), names...) // one failure per name: no name is throttled
				_, err := a.gateway(certs.RoleClient, "sprayer").Login(a.ctx(), &strifev1.LoginRequest{Username: "carol", Password: carolPassword})
				requireRetryInfo(a.t, err)
				return err
			},
		},

		// A logged-in customer reaching beyond their own.
		attackCase{
			name: "customer token on RegisterClient", code: codes.PermissionDenied,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/RegisterClient", program: "alice-laptop", role: certs.RoleClient, user: "alice", userRole: auth.RoleCustomer},
			attack: func(a *attacker) error {
				_, err := a.gateway(certs.RoleClient, "alice-laptop").RegisterClient(a.bearer(w.aliceToken), eveRegistration)
				return err
			},
		},
		attackCase{
			name: "customer pays from another user's account", code: codes.PermissionDenied,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/Pay", program: "alice-laptop", role: certs.RoleClient, user: "alice", userRole: auth.RoleCustomer},
			attack: func(a *attacker) error {
				req := toAccount(ulid.Make(), "BankA/1001", 1000)
				req.FromAccount = "BankB/2001" // bob's
				_, err := a.gateway(certs.RoleClient, "alice-laptop").Pay(a.bearer(w.aliceToken), req)
				return err
			},
		},
		attackCase{
			name: "customer lists another user's payments", code: codes.PermissionDenied,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/ListPayments", program: "alice-laptop", role: certs.RoleClient, user: "alice", userRole: auth.RoleCustomer},
			attack: func(a *attacker) error {
				_, err := a.gateway(certs.RoleClient, "alice-laptop").ListPayments(a.bearer(w.aliceToken), &strifev1.ListPaymentsRequest{Username: "bob"})
				return err
			},
		},
		attackCase{
			name: "customer changes another user's password", code: codes.PermissionDenied,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/UpdateClientDetails", program: "alice-laptop", role: certs.RoleClient, user: "alice", userRole: auth.RoleCustomer},
			attack: func(a *attacker) error {
				_, err := a.gateway(certs.RoleClient, "alice-laptop").UpdateClientDetails(a.bearer(w.aliceToken),
					&strifev1.UpdateClientDetailsRequest{Username: "bob", NewPassword: "alice owns bob now"})
				return err
			},
		},

		// Revocation (issue 14): a token stolen from carol, replayed after
		// something that must take it back. Each change is undone before
		// the replay, so the state is as before and only the token's
		// credential version (or the deny list) tells.
		attackCase{
			name: "token replayed after its user's password changed (and back)", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/GetBalance", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				token := a.login("carol", carolPassword)
				w.update(a.t, &strifev1.UpdateClientDetailsRequest{Username: "carol", NewPassword: "carol's new password"})
				w.update(a.t, &strifev1.UpdateClientDetailsRequest{Username: "carol", NewPassword: carolPassword})
				return a.balance(token)
			},
		},
		attackCase{
			name: "token replayed after its user's role changed (and back)", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/GetBalance", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				token := a.login("carol", carolPassword)
				w.update(a.t, &strifev1.UpdateClientDetailsRequest{Username: "carol", Role: strifev1.UserRole_USER_ROLE_ADMIN})
				w.update(a.t, &strifev1.UpdateClientDetailsRequest{Username: "carol", Role: strifev1.UserRole_USER_ROLE_CUSTOMER})
				return a.balance(token)
			},
		},
		attackCase{
			name: "token replayed after its user was locked (and unlocked)", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/GetBalance", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				token := a.login("carol", carolPassword)
				w.lock(a.t, "carol", true)
				w.lock(a.t, "carol", false)
				return a.balance(token)
			},
		},
		attackCase{
			name: "locked user logs in with the right password", code: codes.PermissionDenied,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/Login", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				w.lock(a.t, "carol", true)
				defer w.lock(a.t, "carol", false) // the snapshot then checks that carol logs in again
				_, err := a.gateway(certs.RoleClient, "alice-laptop").Login(a.ctx(), &strifev1.LoginRequest{Username: "carol", Password: carolPassword})
				return err
			},
		},
		attackCase{
			name: "token replayed after logout", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/GetBalance", program: "alice-laptop", role: certs.RoleClient},
			attack: func(a *attacker) error {
				token := a.login("carol", carolPassword)
				_, err := a.gateway(certs.RoleClient, "alice-laptop").Logout(a.bearer(token), &strifev1.LogoutRequest{})
				require.NoError(a.t, err)
				return a.balance(token)
			},
		},
		attackCase{
			name: "stream outlives its token's logout", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/WatchPayments", program: "alice-laptop", role: certs.RoleClient, user: "carol", userRole: auth.RoleCustomer},
			attack: func(a *attacker) error {
				token := a.login("carol", carolPassword)
				stream := a.watch(token)
				_, err := a.gateway(certs.RoleClient, "alice-laptop").Logout(a.bearer(token), &strifev1.LogoutRequest{})
				require.NoError(a.t, err)
				_, err = stream.Recv()
				return err
			},
		},
		attackCase{
			name: "stream outlives its token's user lock", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/WatchPayments", program: "alice-laptop", role: certs.RoleClient, user: "carol", userRole: auth.RoleCustomer},
			attack: func(a *attacker) error {
				stream := a.watch(a.login("carol", carolPassword))
				w.lock(a.t, "carol", true)
				w.lock(a.t, "carol", false)
				_, err := stream.Recv()
				return err
			},
		},
		attackCase{
			name: "stream outlives its token's expiry", code: codes.Unauthenticated,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/WatchPayments", program: "alice-laptop", role: certs.RoleClient, user: "alice", userRole: auth.RoleCustomer},
			attack: func(a *attacker) error {
				// The gateway's key, alice's certificate, a clock 15 minutes
				// less a second behind: the token expires a second from now.
				almostExpired := func() time.Time { return time.Now().Add(-15*time.Minute + time.Second) }
				stream := a.watch(w.sign(a.t, w.key, almostExpired, "alice", auth.RoleCustomer))
				_, err := stream.Recv()
				return err
			},
		},
	)
	cases = append(cases, textAttacks(w)...)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := w.snapshot(t)
			mark := w.logs(tc.log.server).mark()
			a := &attacker{t: t, w: w, peers: map[string]bool{}}

			err := tc.attack(a)

			requireCode(t, tc.code, err)
			w.requireLogged(t, tc.log, tc.code, mark, a.addrs())
			require.Equal(t, before, w.snapshot(t), "the attack changed the state")
		})
	}
}

// smuggled are the memos and names that would carry something other than
// text into logs and terminals (issue 14): each is INVALID_ARGUMENT, at the
// gateway and at a bank alike (package freetext). Invalid UTF-8 never gets
// that far: see TestInvalidUTF8IsRefusedByTheCodec.
var smuggled = map[string]string{
	"NUL":                    "rent\x00",
	"newline":                "rent\nINFO forged log line",
	"terminal escape":        "\x1b[31mrent",
	"C1 CSI":                 "\u009b2Jrent",
	"right-to-left override": "rent\u202Etxt.exe",
}

// textAttacks are the attack matrix's rows for free-text fields: a memo to
// the gateway's Pay, a memo and a counterparty to a bank's Prepare, an
// owner to OpenAccount and UpdateAccount (from a gateway certificate, as a
// gateway with another rule would send them), and a new password.
func textAttacks(w *attackWorld) []attackCase {
	var cases []attackCase
	payLog := logged{server: gateway, method: "/strife.v1.GatewayService/Pay", program: "alice-laptop", role: certs.RoleClient, user: "alice", userRole: auth.RoleCustomer}
	prepareLog := logged{server: bankA, method: "/strife.v1.BankService/Prepare", program: "gateway-1", role: certs.RoleGateway}
	prepare := func(a *attacker, memo, counterparty string) error {
		_, err := strifev1.NewBankServiceClient(a.conn(bankA, certs.RoleGateway, "gateway-1")).Prepare(a.ctx(), &strifev1.PrepareRequest{
			TransactionId: ulid.Make().String(), Attempt: 1, Memo: memo,
			Legs: []*strifev1.Leg{{Account: "1001", Direction: strifev1.Direction_DIRECTION_DEBIT, Amount: 100, Counterparty: counterparty}},
		})
		return err
	}
	for what, text := range smuggled {
		cases = append(cases,
			attackCase{
				name: "memo with " + what + " → gateway", code: codes.InvalidArgument, log: payLog,
				attack: func(a *attacker) error {
					req := toUser(ulid.Make(), "bob", 100)
					req.Memo = text
					_, err := a.gateway(certs.RoleClient, "alice-laptop").Pay(a.bearer(w.aliceToken), req)
					return err
				},
			},
			attackCase{
				name: "memo with " + what + " → bank Prepare", code: codes.InvalidArgument, log: prepareLog,
				attack: func(a *attacker) error { return prepare(a, text, "BankB/2001") },
			},
			attackCase{
				name: "owner with " + what + " → bank OpenAccount", code: codes.InvalidArgument,
				log: logged{server: bankA, method: "/strife.v1.BankService/OpenAccount", program: "gateway-1", role: certs.RoleGateway},
				attack: func(a *attacker) error {
					_, err := strifev1.NewBankServiceClient(a.conn(bankA, certs.RoleGateway, "gateway-1")).
						OpenAccount(a.ctx(), &strifev1.OpenAccountRequest{Number: "1998", Owner: "mallory" + text})
					return err
				},
			},
		)
	}
	return append(cases,
		attackCase{
			name: "counterparty with a right-to-left override → bank Prepare", code: codes.InvalidArgument, log: prepareLog,
			attack: func(a *attacker) error { return prepare(a, "rent", "BankB/\u202E1002") },
		},
		attackCase{
			name: "owner with a right-to-left override → bank UpdateAccount", code: codes.InvalidArgument,
			log: logged{server: bankA, method: "/strife.v1.BankService/UpdateAccount", program: "gateway-1", role: certs.RoleGateway},
			attack: func(a *attacker) error {
				_, err := strifev1.NewBankServiceClient(a.conn(bankA, certs.RoleGateway, "gateway-1")).
					UpdateAccount(a.ctx(), &strifev1.UpdateAccountRequest{Number: "1001", Owner: "bob\u202Eecila"})
				return err
			},
		},
		attackCase{
			name: "new password with a newline", code: codes.InvalidArgument,
			log: logged{server: gateway, method: "/strife.v1.GatewayService/RegisterClient", program: "alice-laptop", role: certs.RoleClient, user: "admin", userRole: auth.RoleAdmin},
			attack: func(a *attacker) error {
				reg := proto.Clone(eveRegistration).(*strifev1.RegisterClientRequest)
				reg.Password = "eve\npassword"
				_, err := a.gateway(certs.RoleClient, "alice-laptop").RegisterClient(a.bearer(w.sign(a.t, w.key, nil, "admin", auth.RoleAdmin)), reg)
				return err
			},
		},
	)
}

// login logs user in over alice-laptop and returns the token, checked to
// work (with ListPayments: the replay's method must have only the replay's
// audit line): what a thief of that laptop would hold.
func (a *attacker) login(user, password string) string {
	c := a.gateway(certs.RoleClient, "alice-laptop")
	resp, err := c.Login(a.ctx(), &strifev1.LoginRequest{Username: user, Password: password})
	require.NoError(a.t, err)
	_, err = c.ListPayments(a.bearer(resp.GetToken()), &strifev1.ListPaymentsRequest{PageSize: 1})
	require.NoError(a.t, err, "the fresh token is refused")
	return resp.GetToken()
}

// balance calls GetBalance with token over alice-laptop.
func (a *attacker) balance(token string) error {
	_, err := a.gateway(certs.RoleClient, "alice-laptop").GetBalance(a.bearer(token), &strifev1.GetBalanceRequest{})
	return err
}

// watch opens WatchPayments with token over alice-laptop and waits for the
// headers: the watch is registered.
func (a *attacker) watch(token string) grpc.ServerStreamingClient[strifev1.PaymentEvent] {
	stream, err := a.gateway(certs.RoleClient, "alice-laptop").WatchPayments(a.bearer(token), &strifev1.WatchPaymentsRequest{})
	require.NoError(a.t, err)
	_, err = stream.Header()
	require.NoError(a.t, err)
	return stream
}

// update has the admin change a user's details.
func (w *attackWorld) update(t *testing.T, req *strifev1.UpdateClientDetailsRequest) {
	_, err := w.admin.UpdateClientDetails(w.admin.ctx, req)
	require.NoError(t, err)
}

// lock has the admin lock or unlock a user.
func (w *attackWorld) lock(t *testing.T, user string, locked bool) {
	resp, err := w.admin.LockUser(w.admin.ctx, &strifev1.LockUserRequest{Username: user, Locked: locked})
	require.NoError(t, err)
	require.Equal(t, locked, resp.GetUser().GetLocked())
}

// mintAccount would create money at BankA if a bank took it from anyone but
// the gateway.
var mintAccount = &strifev1.OpenAccountRequest{Number: "1999", Owner: "mallory", OpeningBalance: 1_000_000}

// eveRegistration would create an admin with a million in a new account.
var eveRegistration = &strifev1.RegisterClientRequest{
	Username: "eve", Password: "eve password", Role: strifev1.UserRole_USER_ROLE_ADMIN, Account: "BankB/2099", OpeningBalance: 1_000_000,
}

// attackWorld is a gateway and two banks with one settled payment, an admin
// session to look at the state, and what an attacker could get hold of:
// alice's real token (stolen, say, from her laptop).
type attackWorld struct {
	e          *env
	clock      *fakeClock // the login throttles', standing still
	admin      *session
	probe      strifev1.GatewayServiceClient // an admin tool, to try passwords
	aliceToken string
	aliceCert  *x509.Certificate // alice-laptop's
	key        []byte            // the gateway's token key, for the forgeries that need it
}

func newAttackWorld(t *testing.T) *attackWorld {
	e := newEnv(t)
	clock := newFakeClock()
	e.cfg.UserThrottle.Now, e.cfg.CertThrottle.Now = clock.Now, clock.Now
	e.restart(t)
	w := &attackWorld{e: e, clock: clock, admin: e.login(t, "admin", adminPassword), probe: e.client(t, certs.RoleAdmin, "admin-tool")}
	// dave and erin are for the throttling cases: the snapshot does not try
	// their passwords, which those cases lock.
	for user, password := range map[string]string{"dave": davePassword, "erin": erinPassword} {
		_, err := w.admin.RegisterClient(w.admin.ctx, &strifev1.RegisterClientRequest{Username: user, Password: password, Role: strifev1.UserRole_USER_ROLE_ADMIN})
		require.NoError(t, err)
	}
	alice := e.login(t, "alice", alicePassword)
	w.aliceToken = bearerOf(t, alice)
	require.Equal(t, committed, alice.pay(t, toUser(ulid.Make(), "bob", 100)).GetStatus())
	e.settled(t)

	var err error
	w.key, err = auth.LoadKey(e.cfg.TokenKeyFile)
	require.NoError(t, err)
	files := e.pki.Files(t, certs.RoleClient, "alice-laptop")
	pair, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	require.NoError(t, err)
	w.aliceCert = pair.Leaf

	// Controls: alice's token, and an admin token made here with the
	// gateway's key and alice-laptop's thumbprint, are accepted over
	// alice-laptop. So each forgery below fails for the one thing it changes.
	c := e.client(t, certs.RoleClient, "alice-laptop")
	for _, token := range []string{w.aliceToken, w.sign(t, w.key, nil, "admin", auth.RoleAdmin)} {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
		_, err := c.GetBalance(ctx, &strifev1.GetBalanceRequest{})
		require.NoError(t, err, "control token refused")
	}
	return w
}

// revoke adds cert to the CA's revocation list, ca.crl next to ca.crt,
// which the gateway and the banks read at their next handshake.
func (w *attackWorld) revoke(t *testing.T, cert *x509.Certificate) {
	path := filepath.Join(w.e.pki.Dir, certs.CACRLFile)
	prev, err := certs.ReadCRL(path, []*x509.Certificate{w.e.pki.CA.Certificate()})
	if errors.Is(err, fs.ErrNotExist) {
		prev, err = nil, nil
	}
	require.NoError(t, err)
	crl, err := w.e.pki.CA.Revoke(prev, cert.SerialNumber)
	require.NoError(t, err)
	require.NoError(t, crl.WriteFile(path))
}

// sign returns a token for user and role over alice-laptop, signed by key
// under the clock now (nil: time.Now).
func (w *attackWorld) sign(t *testing.T, key []byte, now func() time.Time, user, role string) string {
	signer, err := auth.NewSigner(key, 15*time.Minute, now)
	require.NoError(t, err)
	token, _, err := signer.Issue(user, role, 0, w.aliceCert)
	require.NoError(t, err)
	return token
}

// claims are valid claims for user and role over alice-laptop.
func (w *attackWorld) claims(user, role string, now time.Time) auth.Claims {
	return auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: user, Issuer: "strife",
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)),
		},
		Role: role,
		Cnf:  auth.Confirmation{X5tS256: auth.Thumbprint(w.aliceCert)},
	}
}

// tamper changes the claims of a token and keeps its header and signature.
func tamper(t *testing.T, token string, change func(map[string]any)) string {
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	change(claims)
	payload, err = json.Marshal(claims)
	require.NoError(t, err)
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// bearerOf returns the token a session sends.
func bearerOf(t *testing.T, s *session) string {
	md, ok := metadata.FromOutgoingContext(s.ctx)
	require.True(t, ok)
	values := md.Get("authorization")
	require.Len(t, values, 1)
	token, ok := strings.CutPrefix(values[0], "Bearer ")
	require.True(t, ok)
	return token
}

func (w *attackWorld) addr(server string) string {
	if server == gateway {
		return w.e.gw.Addr()
	}
	return w.e.banks[server].Addr()
}

func (w *attackWorld) logs(server string) *logBuffer {
	if server == gateway {
		return w.e.logs
	}
	return w.e.bankLogs[server]
}

// state is everything an attack could change that the test can see.
type state struct {
	Accounts map[string]accountState // by address; Exists false if the bank has none
	Users    map[string][]string     // by username: their payments, "<id> <status>"; nil if no such user
	Logins   map[string]bool         // whether each user's password still works
}

type accountState struct {
	Exists                           bool
	Owner                            string
	Posted, Held, Available, Pending int64
	Entries                          int
}

// snapshot reads the state: every account an attack targets, at its bank
// with a gateway certificate; which users exist and their payments, as the
// admin sees them; and whether each known password still logs in.
func (w *attackWorld) snapshot(t *testing.T) state {
	t.Helper()
	s := state{Accounts: map[string]accountState{}, Users: map[string][]string{}, Logins: map[string]bool{}}
	for _, address := range append([]string{"BankA/1999", "BankB/2099"}, allAccounts...) {
		bank, number, ok := users.Split(address)
		require.True(t, ok)
		acct, err := w.e.bankClients[bank].GetAccount(t.Context(), &strifev1.GetAccountRequest{Number: number})
		if status.Code(err) == codes.NotFound {
			s.Accounts[address] = accountState{}
			continue
		}
		require.NoError(t, err)
		a := acct.GetAccount()
		entries, err := w.e.bankClients[bank].ListEntries(t.Context(), &strifev1.ListEntriesRequest{Number: number, PageSize: 1000})
		require.NoError(t, err)
		s.Accounts[address] = accountState{
			Exists: true, Owner: a.GetOwner(), Posted: a.GetPostedBalance(), Held: a.GetHeld(),
			Available: a.GetAvailableBalance(), Pending: a.GetPendingCredits(), Entries: len(entries.GetEntries()),
		}
	}
	for _, user := range []string{"admin", "alice", "bob", "carol", "eve", "mallory"} {
		list, err := w.admin.ListPayments(w.admin.ctx, &strifev1.ListPaymentsRequest{Username: user, PageSize: 1000})
		if status.Code(err) == codes.NotFound {
			s.Users[user] = nil
			continue
		}
		require.NoError(t, err)
		payments := []string{}
		for _, p := range list.GetPayments() {
			payments = append(payments, p.GetTransactionId()+" "+p.GetStatus().String())
		}
		s.Users[user] = payments
	}
	var mu sync.Mutex
	var wg sync.WaitGroup // bcrypt under the race detector is slow: try them at once
	for user, password := range map[string]string{"admin": adminPassword, "alice": alicePassword, "bob": bobPassword, "carol": carolPassword} {
		wg.Go(func() {
			_, err := w.probe.Login(t.Context(), &strifev1.LoginRequest{Username: user, Password: password})
			mu.Lock()
			defer mu.Unlock()
			s.Logins[user] = err == nil
		})
	}
	wg.Wait()
	return s
}

// requireLogged checks that the attacked server logged the attack after
// mark, on a connection from one of peers (the attack's local addresses).
func (w *attackWorld) requireLogged(t *testing.T, want logged, code codes.Code, mark int, peers func() map[string]bool) {
	t.Helper()
	buf := w.logs(want.server)
	ours := func(line map[string]any) bool { p, _ := line["peer"].(string); return peers()[p] }
	if want.handshake {
		refused := func() (n int) {
			for _, line := range buf.linesSince(mark) {
				if line["message"] == "tls handshake refused" && ours(line) {
					n++
				}
			}
			return n
		}
		require.Eventually(t, func() bool { return refused() > 0 }, 5*time.Second, 10*time.Millisecond,
			"%s logged no refused handshake from %v:\n%s", want.server, peers(), buf.since(mark))
		for _, line := range buf.linesSince(mark) {
			if ours(line) {
				require.Equal(t, "tls handshake refused", line["message"], "a refused connection reached an interceptor: %v", line)
				require.Equal(t, "warn", line["level"], line)
				require.NotEmpty(t, line["error"], line)
			}
		}
		return
	}
	var calls []map[string]any
	for _, line := range buf.linesSince(mark) {
		if line["message"] == "grpc call" && line["method"] == want.method && ours(line) {
			calls = append(calls, line)
		}
	}
	require.NotEmpty(t, calls, "%s logged no audit line for %s from %v:\n%s", want.server, want.method, peers(), buf.since(mark))
	for _, line := range calls {
		require.Equal(t, code.String(), line["code"], line)
		require.Equal(t, "warn", line["level"], line)
		require.NotEmpty(t, line["error"], line)
		require.Equal(t, want.program, line["program"], line)
		require.Equal(t, string(want.role), line["program_role"], line)
		if want.user == "" {
			require.NotContains(t, line, "user", "no user without a valid token: %v", line)
			require.NotContains(t, line, "user_role", line)
		} else {
			require.Equal(t, want.user, line["user"], line)
			require.Equal(t, want.userRole, line["user_role"], line)
		}
	}
}

// attacker opens the connections of one attack and remembers their local
// addresses, which the server logs as the peer.
type attacker struct {
	t *testing.T
	w *attackWorld

	mu    sync.Mutex
	peers map[string]bool
}

func (a *attacker) addrs() func() map[string]bool {
	return func() map[string]bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		out := make(map[string]bool, len(a.peers))
		for p := range a.peers {
			out[p] = true
		}
		return out
	}
}

// dial connects to a server with tlsConfig.
func (a *attacker) dial(server string, tlsConfig *tls.Config) *grpc.ClientConn {
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			a.mu.Lock()
			a.peers[conn.LocalAddr().String()] = true
			a.mu.Unlock()
		}
		return conn, err
	}
	conn, err := rpc.Dial(a.w.addr(server), tlsConfig, grpc.WithContextDialer(dialer))
	require.NoError(a.t, err)
	a.t.Cleanup(func() { conn.Close() })
	return conn
}

// conn connects to a server with a valid certificate of role and name.
func (a *attacker) conn(server string, role certs.Role, name string) *grpc.ClientConn {
	tlsConfig, err := certs.ClientConfig(a.w.e.pki.Files(a.t, role, name), "")
	require.NoError(a.t, err)
	return a.dial(server, tlsConfig)
}

func (a *attacker) gateway(role certs.Role, name string) strifev1.GatewayServiceClient {
	return strifev1.NewGatewayServiceClient(a.conn(gateway, role, name))
}

// probe makes the call a forged certificate is for: on the gateway, alice
// logging in with her real password; on a bank, the gateway opening an
// account with a million in it.
func (a *attacker) probe(server string, tlsConfig *tls.Config) error {
	conn := a.dial(server, tlsConfig)
	if server == gateway {
		_, err := strifev1.NewGatewayServiceClient(conn).Login(a.ctx(), &strifev1.LoginRequest{Username: "alice", Password: alicePassword})
		return err
	}
	_, err := strifev1.NewBankServiceClient(conn).OpenAccount(a.ctx(), mintAccount)
	return err
}

// guess makes n logins with a wrong password over a certificate of name,
// cycling through users, on a connection the attack's audit lines do not
// come from. Each is refused as a wrong password or as throttled.
func (a *attacker) guess(name string, n int, users ...string) {
	c := a.w.e.client(a.t, certs.RoleClient, name)
	for i := range n {
		_, err := c.Login(a.ctx(), &strifev1.LoginRequest{Username: users[i%len(users)], Password: "not the password"})
		require.Contains(a.t, []codes.Code{codes.Unauthenticated, codes.ResourceExhausted}, status.Code(err), "guess %d: %v", i, err)
	}
}

func (a *attacker) ctx() context.Context {
	ctx, cancel := context.WithTimeout(a.t.Context(), 10*time.Second)
	a.t.Cleanup(cancel)
	return ctx
}

func (a *attacker) bearer(token string) context.Context {
	return metadata.AppendToOutgoingContext(a.ctx(), "authorization", "Bearer "+token)
}

// issue makes a certificate of role and name from ca, valid for validity.
func issue(t *testing.T, ca *certs.CA, role certs.Role, name string, validity time.Duration) *certs.Issued {
	id, err := ca.Issue(certs.Request{Role: role, Name: name, Validity: validity})
	require.NoError(t, err)
	return id
}

// mark is the current end of the buffer.
func (l *logBuffer) mark() int { return len(l.String()) }

// since returns what was written after mark.
func (l *logBuffer) since(mark int) string {
	return l.String()[mark:]
}

// linesSince returns the JSON lines written after mark; a line that is not
// JSON comes back as {"unparsed": line}.
func (l *logBuffer) linesSince(mark int) []map[string]any {
	var out []map[string]any
	for line := range strings.Lines(l.since(mark)) {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil {
			e = map[string]any{"unparsed": line}
		}
		out = append(out, e)
	}
	return out
}
