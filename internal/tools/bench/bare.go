package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
	"github.com/strife-pay/strife/internal/plumbing/discovery"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// ErrBareNeedsProcesses is RunBare's answer to Options it cannot honour:
// the bare pipeline always runs as processes of Options.Executable, and
// never measures a running deployment.
var ErrBareNeedsProcesses = errors.New("bench: the bare pipeline runs as processes of its own: it needs Options.Executable and no Options.Gateway")

// RunBare measures the bare pipeline (see the package documentation) as Run
// measures the real one, and prints the same line per level. The daemons
// are processes of opts.Executable, which must have BareCommands.
func RunBare(opts Options) ([]Result, error) {
	if opts.Executable == "" || opts.Gateway != "" {
		return nil, ErrBareNeedsProcesses
	}
	d, err := newDeployment(opts, "strife-bench-bare-")
	if err != nil {
		return nil, err
	}
	defer d.stop() // and remove dir
	logs := opts.Logs
	if logs == nil {
		logs = io.Discard
	}
	certDir, banks, err := d.makeCerts()
	if err != nil {
		return nil, err
	}
	gateway, err := d.startBare(opts.Executable, certDir, banks, logs)
	if err != nil {
		return nil, err
	}
	if err := d.dialPayers(gateway, certDir, "bench"); err != nil {
		return nil, err
	}
	// No login: the bare gateway asks for no token.
	payers := make([]payer, slices.Max(opts.Payers))
	for i := range payers {
		conn := d.conns[i%len(d.conns)]
		payers[i] = payer{client: strifev1.NewGatewayServiceClient(conn), ctx: context.Background(), account: fmt.Sprintf("BankA/%d", 50000+i)}
	}
	return measureLevels(payers, opts, d.cpu), nil
}

// startBare starts the bare banks and the bare gateway as processes of exe,
// with the names and certificates that startProcesses gives the real ones,
// and returns the gateway's address.
func (d *deployment) startBare(exe, certDir string, banks []string, logs io.Writer) (string, error) {
	gateway, err := freeAddr()
	if err != nil {
		return "", err
	}
	bankFlags, err := d.startBanks(exe, banks, logs, func(name, addr string) []string {
		return append([]string{bareBankCommand, "--listen", addr}, tlsArgs(certDir, name)...)
	})
	if err != nil {
		return "", err
	}
	gatewayArgs := slices.Concat([]string{bareGatewayCommand, "--listen", gateway}, tlsArgs(certDir, "gateway-1"), bankFlags)
	return gateway, d.startProcess(exe, "gateway-1", gateway, gatewayArgs, logs)
}

// The hidden commands that run the bare daemons.
const (
	bareBankCommand    = "bare-bank"
	bareGatewayCommand = "bare-gateway"
)

// BareCommands returns the hidden commands that RunBare runs as its
// processes: bare-bank and bare-gateway. A program that passes itself as
// Options.Executable to RunBare must have them.
func BareCommands() []*cobra.Command {
	return []*cobra.Command{bareBank(), bareGateway()}
}

func bareBank() *cobra.Command {
	return bareCommand(bareBankCommand+" --listen ADDR --ca F --cert F --key F",
		"Serve BankService with a YES to every Prepare and an acknowledgement to every Commit, and nothing else",
		func(listen string, files certs.Files, log zerolog.Logger) (daemon.Running, error) {
			return serveBare(listen, files, log, nil, func(s *grpc.Server) { strifev1.RegisterBankServiceServer(s, bareBankService{}) })
		})
}

func bareGateway() *cobra.Command {
	var banks map[string]string
	cmd := bareCommand(bareGatewayCommand+" --listen ADDR --ca F --cert F --key F --bank BankA=ADDR --bank BankB=ADDR",
		"Serve GatewayService's Pay as two-phase commit with the banks, and nothing else",
		func(listen string, files certs.Files, log zerolog.Logger) (daemon.Running, error) {
			return serveBareGateway(listen, files, banks, log)
		})
	cmd.Flags().StringToStringVar(&banks, "bank", nil, "a bank and its address, NAME=HOST:PORT; repeat for each bank")
	return cmd
}

// bareCommand returns a hidden command that serves what start starts, on
// --listen with the certificates of --ca, --cert and --key, until SIGTERM or
// SIGINT, as the real daemons do (and with their collector settings). It
// logs only what daemon.Run and a refused TLS handshake log.
func bareCommand(use, short string, start func(listen string, files certs.Files, log zerolog.Logger) (daemon.Running, error)) *cobra.Command {
	var listen string
	var files certs.Files
	cmd := &cobra.Command{
		Use:          use,
		Short:        short,
		Hidden:       true,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := daemon.NewLogger(cmd.ErrOrStderr(), "json")
			if err != nil {
				return err
			}
			log = log.With().Str("bare", cmd.Name()).Logger()
			return daemon.Run("bench", log, func() (daemon.Running, error) { return start(listen, files, log) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:0", "gRPC listen address")
	f.StringVar(&files.CAFile, "ca", "", "the CA certificate that every peer must be signed by (PEM)")
	f.StringVar(&files.CertFile, "cert", "", "this daemon's certificate (PEM)")
	f.StringVar(&files.KeyFile, "key", "", "this daemon's private key (PEM)")
	return cmd
}

// serveBareGateway dials the banks as the real gateway does (its
// certificate, accepting only each bank's) and serves Pay.
func serveBareGateway(listen string, files certs.Files, banks map[string]string, log zerolog.Logger) (daemon.Running, error) {
	base, err := certs.ClientConfig(files, "")
	if err != nil {
		return nil, err
	}
	var g bareGatewayService
	var conns []io.Closer
	for _, name := range slices.Sorted(maps.Keys(banks)) {
		conn, err := rpc.Dial(banks[name], discovery.ExpectPeer(base, certs.RoleBank, name))
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("bench: bank %s at %s: %w", name, banks[name], err)
		}
		conns = append(conns, conn)
		g.banks = append(g.banks, strifev1.NewBankServiceClient(conn))
	}
	if len(g.banks) == 0 {
		return nil, errors.New("bench: the bare gateway needs --bank")
	}
	s, err := serveBare(listen, files, log, conns, func(s *grpc.Server) { strifev1.RegisterGatewayServiceServer(s, g) })
	if err != nil {
		closeAll(conns)
	}
	return s, err
}

func closeAll(closers []io.Closer) {
	for _, c := range closers {
		c.Close()
	}
}

// bareDrainTimeout bounds how long Stop waits for calls in flight, as the
// real daemons' default --drain-timeout does.
const bareDrainTimeout = 10 * time.Second

// bareServer is a bare daemon: the transport of Strife's servers
// (rpc.NewServer: mutual TLS, its pool of call goroutines) without the
// interceptors that production adds (audit, recovery, authorization).
type bareServer struct {
	server  *grpc.Server
	health  *health.Server
	served  chan error
	closers []io.Closer // closed once the server has drained
	stop    func() error
}

// serveBare listens on listen and serves what register registers. Once it
// serves, the server owns closers; on error they are still the caller's.
func serveBare(listen string, files certs.Files, log zerolog.Logger, closers []io.Closer, register func(*grpc.Server)) (*bareServer, error) {
	tlsConfig, err := certs.ServerConfig(files)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	s := &bareServer{served: make(chan error, 1), closers: closers}
	s.stop = sync.OnceValue(s.drain)
	s.server, s.health = rpc.NewServer(tlsConfig, log)
	register(s.server)
	go func() { s.served <- s.server.Serve(lis) }()
	return s, nil
}

// Stop drains the server, then closes its closers; calling it again does
// nothing.
func (s *bareServer) Stop() error { return s.stop() }

func (s *bareServer) Done() <-chan error { return s.served }

func (s *bareServer) drain() error {
	s.health.Shutdown()
	drained := make(chan struct{})
	go func() { s.server.GracefulStop(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(bareDrainTimeout):
		s.server.Stop()
	}
	closeAll(s.closers)
	return nil
}

// bareBankService votes YES to every Prepare and acknowledges every Commit
// at once: no ledger, no disk.
type bareBankService struct {
	strifev1.UnimplementedBankServiceServer
}

func (bareBankService) Prepare(context.Context, *strifev1.PrepareRequest) (*strifev1.PrepareResponse, error) {
	return &strifev1.PrepareResponse{Vote: strifev1.Vote_VOTE_YES}, nil
}

func (bareBankService) Commit(context.Context, *strifev1.CommitRequest) (*strifev1.CommitResponse, error) {
	return &strifev1.CommitResponse{}, nil
}

// bareGatewayService answers Pay with the RPCs of a payment's two-phase
// commit and nothing else: no user, no log, no disk, no decision (the bare
// banks always vote YES).
type bareGatewayService struct {
	strifev1.UnimplementedGatewayServiceServer
	banks []strifev1.BankServiceClient
}

// Pay prepares at every bank in parallel, then, once all have answered,
// commits at every bank in parallel, and answers COMMITTED once all have
// acknowledged. An error from a bank is the answer.
func (g bareGatewayService) Pay(ctx context.Context, req *strifev1.PayRequest) (*strifev1.PayResponse, error) {
	id := req.GetTransactionId()
	err := g.each(func(b strifev1.BankServiceClient) error {
		_, err := b.Prepare(ctx, &strifev1.PrepareRequest{TransactionId: id, Attempt: 1})
		return err
	})
	if err == nil {
		err = g.each(func(b strifev1.BankServiceClient) error {
			_, err := b.Commit(ctx, &strifev1.CommitRequest{TransactionId: id, Attempt: 1})
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return &strifev1.PayResponse{Payment: &strifev1.Payment{
		TransactionId: id, FromAccount: req.GetFromAccount(), ToAccount: req.GetToAccount(),
		Amount: req.GetAmount(), Memo: req.GetMemo(), Status: strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED, Attempts: 1,
	}}, nil
}

// each calls call for every bank at once (the first on this goroutine),
// waits for all, and returns the first error.
func (g bareGatewayService) each(call func(strifev1.BankServiceClient) error) error {
	errs := make(chan error, len(g.banks)-1)
	for _, b := range g.banks[1:] {
		go func() { errs <- call(b) }()
	}
	err := call(g.banks[0])
	for range g.banks[1:] {
		err = cmp.Or(err, <-errs)
	}
	return err
}
