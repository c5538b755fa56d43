package discovery_test

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/daemons/devetcd/etcdtest"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	"github.com/strife-pay/strife/participant"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// gateway is a real coordinator serving CoordinatorService over mutual
// TLS, with two real banks in-process: BankA/1001 (alice) and BankB/2001.
type gateway struct {
	pki   *banktest.PKI
	coord *coordinator.Coordinator
	addr  string
}

func startGateway(t *testing.T, name string) *gateway {
	t.Helper()
	pki := banktest.NewPKI(t)
	dir := coordinator.StaticDirectory{}
	for bank, account := range map[string]string{"BankA": "1001", "BankB": "2001"} {
		b := banktest.Start(t, pki.Config(t, bank, banktest.DataDir(t)))
		conn := pki.Dial(t, b.Addr(), certs.RoleGateway, name)
		_, err := strifev1.NewBankServiceClient(conn).OpenAccount(t.Context(), &strifev1.OpenAccountRequest{Number: account, Owner: "owner", OpeningBalance: 1000})
		require.NoError(t, err)
		dir[bank] = coordinator.NewGRPCParticipant(conn)
	}
	log, err := wal.Open(filepath.Join(t.TempDir(), name+".db"), wal.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { log.Close() })
	coord, err := coordinator.New(log, dir, coordinator.Config{Log: testLog(t)})
	require.NoError(t, err)
	t.Cleanup(coord.Close)

	tlsConfig, err := certs.ServerConfig(pki.Files(t, certs.RoleGateway, name))
	require.NoError(t, err)
	server, _ := rpc.NewServer(tlsConfig, testLog(t), rpc.ServerOptions(testLog(t), rpc.DefaultPolicy, nil, nil)...)
	strifev1.RegisterCoordinatorServiceServer(server, coordinator.NewDecisionService(coord, testLog(t)))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go server.Serve(lis)
	t.Cleanup(server.Stop)
	return &gateway{pki: pki, coord: coord, addr: lis.Addr().String()}
}

// bankDial is how a bank dials a gateway: with its own certificate,
// accepting only the gateway it looked up.
func (g *gateway) bankDial(t *testing.T, bank string) discovery.CoordinatorDialFunc {
	base, err := certs.ClientConfig(g.pki.Files(t, certs.RoleBank, bank), "")
	require.NoError(t, err)
	return func(name, addr string) (participant.Coordinator, io.Closer, error) {
		conn, err := rpc.Dial(addr, discovery.ExpectPeer(base, certs.RoleGateway, name))
		if err != nil {
			return nil, nil, err
		}
		return participant.NewGRPCCoordinator(conn), conn, nil
	}
}

func TestCoordinatorsAskTheGatewayRegisteredUnderTheRecordedName(t *testing.T) {
	g := startGateway(t, "gateway-1")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	id := ulid.Make()
	p, _, err := g.coord.Pay(ctx, id, coordinator.Params{Payer: "alice", From: "BankA/1001", To: "BankB/2001", Amount: 100})
	require.NoError(t, err)
	require.Equal(t, coordinator.Committed, p.Status)

	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	coords, err := discovery.NewCoordinators(c, g.bankDial(t, "BankA"), testLog(t))
	require.NoError(t, err)
	defer coords.Close()

	_, err = coords.GetDecision(ctx, "gateway-1", id, p.Attempt)
	require.ErrorIs(t, err, discovery.ErrUnknownGateway, "not registered yet")

	register(t, c, discovery.Gateways, "gateway-1", g.addr, 0)
	require.Eventually(t, func() bool { _, ok := coords.Addr("gateway-1"); return ok }, wait, 10*time.Millisecond)
	d, err := coords.GetDecision(ctx, "gateway-1", id, p.Attempt)
	require.NoError(t, err)
	require.Equal(t, participant.DecisionCommit, d, "the real decision, from the gateway found in etcd")

	d, err = coords.GetDecision(ctx, "gateway-1", ulid.Make(), 1)
	require.NoError(t, err)
	require.Equal(t, participant.DecisionAbort, d, "presumed abort of a payment the gateway never saw")
}

func TestCoordinatorsRefuseAServerWithoutTheGatewaysCertificate(t *testing.T) {
	g := startGateway(t, "gateway-1")
	etcd := etcdtest.Start(t)
	c := etcdtest.Client(t, etcd)
	coords, err := discovery.NewCoordinators(c, g.bankDial(t, "BankA"), testLog(t))
	require.NoError(t, err)
	defer coords.Close()

	// gateway-2's key points at gateway-1's address: a mistake, or a lie.
	register(t, c, discovery.Gateways, "gateway-2", g.addr, 0)
	require.Eventually(t, func() bool { _, ok := coords.Addr("gateway-2"); return ok }, wait, 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	_, err = coords.GetDecision(ctx, "gateway-2", ulid.Make(), 1)
	require.Error(t, err)
	require.Equal(t, codes.Unavailable, status.Code(err), err.Error())
	require.ErrorContains(t, err, `the server is gateway`)
}
