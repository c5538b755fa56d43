package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
)

// NewServer returns a gRPC server that accepts only mutual-TLS connections
// under tlsConfig and serves grpc.health.v1 and server reflection besides
// whatever the caller registers. A connection refused during the TLS
// handshake (no certificate, another CA, expired, TLS 1.2) never reaches an
// interceptor, so it is logged here. The health server starts SERVING; set
// it to NOT_SERVING when draining.
//
// Calls run on a pool of streamWorkers goroutines (a new goroutine only when
// all are busy): a handler deep in gRPC, bbolt and TLS grows its stack to
// tens of kilobytes, and growing a fresh goroutine's stack on every call cost
// the gateway about 7% of its CPU under load.
func NewServer(tlsConfig *tls.Config, log zerolog.Logger, opts ...grpc.ServerOption) (*grpc.Server, *health.Server) {
	creds := handshakeLogger{TransportCredentials: credentials.NewTLS(tlsConfig), log: log}
	opts = append([]grpc.ServerOption{grpc.Creds(creds), grpc.UnknownServiceHandler(unknownMethod), grpc.NumStreamWorkers(streamWorkers)}, opts...)
	s := grpc.NewServer(opts...)
	h := health.NewServer()
	healthpb.RegisterHealthServer(s, h)
	reflection.Register(s)
	return s, h
}

// streamWorkers is the size of a server's pool of call goroutines: enough
// for 256 concurrent payers without falling back to fresh goroutines.
const streamWorkers = 256

// unknownMethod answers a method no service registered. Without it grpc-go
// answers such a call itself, before any interceptor: the policy would not
// refuse it and the audit log would not see it. With it, the call goes
// through the interceptor chain like any other, and the policy (which does
// not list it) refuses it with PERMISSION_DENIED.
func unknownMethod(any, grpc.ServerStream) error {
	return status.Error(codes.Unimplemented, "unknown method")
}

// handshakeLogger logs every failed server-side TLS handshake.
type handshakeLogger struct {
	credentials.TransportCredentials
	log zerolog.Logger
}

func (h handshakeLogger) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := h.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		h.log.Warn().Str("peer", conn.RemoteAddr().String()).Str("error", Redact(err.Error())).Msg("tls handshake refused")
	}
	return out, info, err
}

func (h handshakeLogger) Clone() credentials.TransportCredentials {
	return handshakeLogger{TransportCredentials: h.TransportCredentials.Clone(), log: h.log}
}

// reconnect is how a connection retries a peer that went away. gRPC's
// default lets the delay grow to two minutes, and a call on a connection
// waiting out that delay fails at once: a gateway, bank or client whose peer
// was down for a while would stay blind to its return for as long. Strife's
// peers are few and on a LAN, so retrying every second at most costs
// nothing and makes "resend as soon as it is back" true.
var reconnect = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
	MinConnectTimeout: 5 * time.Second,
}

// Dial returns a client connection to addr over mutual TLS.
func Dial(addr string, tlsConfig *tls.Config, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)), grpc.WithConnectParams(reconnect)}, opts...)
	return grpc.NewClient(addr, opts...)
}

// Peer returns the name and role in the verified certificate of the caller.
func Peer(ctx context.Context) (string, certs.Role, error) {
	_, name, role, err := peerCertificate(ctx)
	return name, role, err
}

// peerCertificate returns the caller's verified leaf certificate with the
// name and role it carries.
func peerCertificate(ctx context.Context) (*x509.Certificate, string, certs.Role, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, "", "", fmt.Errorf("rpc: no peer in context: %w", certs.ErrNoPeerCertificate)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil, "", "", fmt.Errorf("rpc: peer %v is not on TLS: %w", p.Addr, certs.ErrNoPeerCertificate)
	}
	name, role, err := certs.PeerIdentity(info.State)
	if err != nil {
		return nil, "", "", err
	}
	return info.State.VerifiedChains[0][0], name, role, nil
}
