package bankd_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// attemptKey names one attempt of a payment, as GetDecision does.
type attemptKey struct {
	txID    string
	attempt uint32
}

// decisionCall is one GetDecision call the gateway received.
type decisionCall struct {
	attemptKey
	caller string
	role   certs.Role
}

// gatewayCoordinator is the gateway's CoordinatorService as a bank sees
// it: a real gRPC server on mutual TLS with the gateway's certificate,
// under the role policy, answering from a table of recorded decisions (ABORT
// for anything else, as presumed abort says). It answers nothing until
// opened.
type gatewayCoordinator struct {
	strifev1.UnimplementedCoordinatorServiceServer
	Addr string

	decisions   map[attemptKey]strifev1.Decision
	unavailable map[string]int // how many first calls about a transaction fail as UNAVAILABLE
	opened      chan struct{}

	mu    sync.Mutex
	calls []decisionCall
}

func startCoordinator(t *testing.T, pki *banktest.PKI, decisions map[attemptKey]strifev1.Decision, unavailable map[string]int) *gatewayCoordinator {
	t.Helper()
	tlsConfig, err := certs.ServerConfig(pki.Files(t, certs.RoleGateway, "gateway-1"))
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := &gatewayCoordinator{Addr: lis.Addr().String(), decisions: decisions, unavailable: unavailable, opened: make(chan struct{})}
	server, _ := rpc.NewServer(tlsConfig, zerolog.Nop(), rpc.ServerOptions(zerolog.Nop(), rpc.DefaultPolicy, nil, nil)...)
	strifev1.RegisterCoordinatorServiceServer(server, g)
	go server.Serve(lis)
	t.Cleanup(server.Stop)
	return g
}

// open lets calls be answered.
func (g *gatewayCoordinator) open() { close(g.opened) }

func (g *gatewayCoordinator) GetDecision(ctx context.Context, req *strifev1.GetDecisionRequest) (*strifev1.GetDecisionResponse, error) {
	caller, role, err := rpc.Peer(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	k := attemptKey{req.GetTransactionId(), req.GetAttempt()}
	g.mu.Lock()
	g.calls = append(g.calls, decisionCall{k, caller, role})
	nth := g.countLocked(k.txID)
	g.mu.Unlock()

	select {
	case <-g.opened:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if nth <= g.unavailable[k.txID] {
		return nil, status.Error(codes.Unavailable, "gateway is starting")
	}
	decision, ok := g.decisions[k]
	if !ok {
		decision = strifev1.Decision_DECISION_ABORT
	}
	return &strifev1.GetDecisionResponse{Decision: decision}, nil
}

// Calls returns the calls received so far.
func (g *gatewayCoordinator) Calls() []decisionCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]decisionCall(nil), g.calls...)
}

// count returns how many calls asked about a transaction.
func (g *gatewayCoordinator) count(txID string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.countLocked(txID)
}

func (g *gatewayCoordinator) countLocked(txID string) int {
	n := 0
	for _, c := range g.calls {
		if c.txID == txID {
			n++
		}
	}
	return n
}
