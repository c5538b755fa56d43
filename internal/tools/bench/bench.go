package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"gopkg.in/yaml.v3"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd"
	"github.com/strife-pay/strife/internal/daemons/gatewayd"
	"github.com/strife-pay/strife/internal/plumbing/daemon"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	"github.com/strife-pay/strife/internal/tools/certscli"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
)

// Options configure a run.
type Options struct {
	// Payers are the levels of concurrency to measure, in order.
	Payers []int
	// Duration of each level, after a warm-up of a tenth of it.
	Duration time.Duration
	// Logs receives the daemons' logs (audit lines included): they are part
	// of the cost being measured. Nil discards them after formatting.
	Logs io.Writer
	// Out receives the report.
	Out io.Writer
	// Gateway, if set, is the address of a running deployment to measure
	// instead of starting one (e.g. `strife up`'s, with separate processes).
	// CertDir then holds its certificates (payers use the "alice" client
	// certificate, the admin "admin"), and AdminPassword is the admin's.
	Gateway       string
	CertDir       string
	AdminPassword string
	// Executable, if set, runs the banks and the gateway as processes of
	// their own, as strife up does: this program's bank and gateway
	// commands (strife and strife-bench have them). Otherwise they run in
	// this process, sharing its scheduler and collector.
	Executable string
	// JSON prints each level as a JSON object on a line of its own (see
	// Result.MarshalJSON) instead of a line for people.
	JSON bool
	// ProfileDir, if set, is where each daemon process started for the
	// run writes a CPU profile of its whole life, <name>.pprof (see
	// daemon.ProfileEnv). It is made if missing; daemons in this process
	// (no Executable) and a running deployment (Gateway) write none.
	ProfileDir string
	// LoginFlood, if positive, runs that many goroutines alongside the
	// payers, each logging in with a wrong password in a loop against the
	// same gateway (see Logins), over a connection of their own.
	LoginFlood int
	flood      *grpc.ClientConn // the connection it floods over, set by Run
	// BcryptCost is the gateway's bcrypt cost in a deployment of the
	// benchmark's own. Default 4 (bcrypt's minimum), to register payers
	// fast; a login flood means something only at the real cost, 12.
	BcryptCost int
	// Metrics has each daemon process serve Prometheus metrics
	// (--metrics-listen) and scrapes them all once a second while the run
	// lasts, as strife top does: what metrics cost is then in the figures.
	// Daemons in this process (no Executable) serve none.
	Metrics bool
	// Keep, if set, is a directory in which each deployment of the
	// benchmark's own is made (a directory per deployment, named like the
	// temporary one) and left after the run, data files included, for
	// strife-inspect stats to measure; otherwise it is a temporary
	// directory, removed after the run.
	Keep string
}

// Result is one level's measurement.
type Result struct {
	Payers    int
	Payments  int
	Failed    int // answers other than COMMITTED, and errors
	PerSecond float64
	P50, P99  time.Duration
	// CPU is the CPU time each process used in the window, per payment,
	// by name ("bench", "gateway-1", "BankA"...); empty where the
	// benchmark cannot read it.
	CPU map[string]time.Duration
	// Logins is what the login flood did in the window, if one ran.
	Logins *Logins
}

// MarshalJSON is the --json form of a level: payers, payments,
// payments_per_s, p50_ms, p99_ms, failed, and cpu_us_per_payment (by
// process, as CPU; absent when CPU is empty).
func (r Result) MarshalJSON() ([]byte, error) { return json.Marshal(r.json()) }

func (r Result) json() resultJSON {
	j := resultJSON{
		Payers: r.Payers, Payments: r.Payments, PerSecond: roundTo(r.PerSecond, 1),
		P50: ms(r.P50), P99: ms(r.P99), Failed: r.Failed,
	}
	if r.Logins != nil {
		j.LoginsPerSecond, j.LoginsChecked, j.LoginsRefused = roundTo(r.Logins.PerSecond, 1), r.Logins.Checked, r.Logins.Refused
	}
	for name, t := range r.CPU {
		if j.CPU == nil {
			j.CPU = map[string]int64{}
		}
		j.CPU[name] = t.Microseconds()
	}
	return j
}

type resultJSON struct {
	Payers    int     `json:"payers"`
	Payments  int     `json:"payments"`
	PerSecond float64 `json:"payments_per_s"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	Failed    int     `json:"failed"`
	// CPU is microseconds of CPU per payment, by process.
	CPU map[string]int64 `json:"cpu_us_per_payment,omitempty"`
	// LoginsPerSecond and the counts are the login flood's, if one ran.
	LoginsPerSecond float64 `json:"flood_logins_per_s,omitempty"`
	LoginsChecked   int     `json:"flood_logins_checked,omitempty"`
	LoginsRefused   int     `json:"flood_logins_refused,omitempty"`
}

func (r Result) String() string {
	line := fmt.Sprintf("%4d payers: %7d payments in the window, %8.0f payments/s, p50 %6.2f ms, p99 %6.2f ms, %d failed%s",
		r.Payers, r.Payments, r.PerSecond, ms(r.P50), ms(r.P99), r.Failed, cpuString(r.CPU))
	if l := r.Logins; l != nil {
		line += fmt.Sprintf("; login flood of %d: %.0f logins/s (%d checked, %d refused unchecked)", l.Flooders, l.PerSecond, l.Checked, l.Refused)
	}
	return line
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// roundTo rounds f to the given number of decimal places, for JSON.
func roundTo(f float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(f*p) / p
}

const (
	adminPassword = "bench admin password"
	payerPassword = "bench payer password"
	payee         = "BankB/9000"
)

// Run sets up the deployment, measures each level and prints one line per
// level to opts.Out.
func Run(opts Options) ([]Result, error) {
	d, err := startOrConnect(opts)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	payers, err := d.payers(slices.Max(opts.Payers))
	if err != nil {
		return nil, err
	}
	if opts.LoginFlood > 0 {
		opts.flood = d.flood
	}
	return measureLevels(payers, opts, d.cpu), nil
}

// measureLevels measures each level of opts.Payers with the first that
// many payers, and prints one line per level to opts.Out.
func measureLevels(payers []payer, opts Options, cpu cpuMeter) []Result {
	var results []Result
	for _, n := range opts.Payers {
		r := measure(payers[:n], opts.Duration, cpu, floodOf(opts))
		printLine(opts, r)
		results = append(results, r)
	}
	return results
}

// printLine prints v to opts.Out as a line of JSON with opts.JSON, or as
// its String otherwise.
func printLine(opts Options, v fmt.Stringer) {
	if !opts.JSON {
		fmt.Fprintln(opts.Out, v)
		return
	}
	line, err := json.Marshal(v)
	if err != nil {
		line = fmt.Appendf(nil, `{"error":%q}`, err.Error())
	}
	fmt.Fprintf(opts.Out, "%s\n", line)
}

// startOrConnect starts a deployment of its own, or connects to
// opts.Gateway.
func startOrConnect(opts Options) (*deployment, error) {
	if opts.Gateway != "" {
		d := &deployment{}
		return d, d.connect(opts.Gateway, opts.CertDir, "alice", "alice", opts.AdminPassword)
	}
	d, err := newDeployment(opts, "strife-bench-")
	if err != nil {
		return nil, err
	}
	if err := d.start(opts); err != nil {
		d.stop() // and remove dir
		return nil, err
	}
	return d, nil
}

// newDeployment makes the temporary directory of a deployment of its own,
// named with prefix (in opts.Keep, if set), and opts.ProfileDir and
// opts.Keep if they are set and missing.
func newDeployment(opts Options, prefix string) (*deployment, error) {
	for _, dir := range []string{opts.ProfileDir, opts.Keep} {
		if dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
		}
	}
	dir, err := os.MkdirTemp(opts.Keep, prefix) // "": the temporary directory
	if err != nil {
		return nil, err
	}
	cost := opts.BcryptCost
	if cost == 0 {
		cost = bcrypt.MinCost
	}
	return &deployment{dir: dir, keep: opts.Keep != "", profileDir: opts.ProfileDir, bcryptCost: cost, metrics: opts.Metrics}, nil
}

// start makes the certificates in d.dir, starts the banks and the gateway
// (as processes of opts.Executable, or in this process), and connects.
func (d *deployment) start(opts Options) error {
	certDir, banks, err := d.makeCerts()
	if err != nil {
		return err
	}
	logs := opts.Logs
	if logs == nil {
		logs = io.Discard
	}
	var gateway string
	if opts.Executable != "" {
		gateway, err = d.startProcesses(opts.Executable, certDir, banks, logs)
	} else {
		gateway, err = d.startInProcess(certDir, banks, logs)
	}
	if err != nil {
		return err
	}
	d.scrapeEverySecond()
	return d.connect(gateway, certDir, "bench", floodClient, adminPassword)
}

// makeCerts makes the deployment's certificates in d.dir: a CA, BankA,
// BankB, gateway-1, the admin tools and the "bench" client.
func (d *deployment) makeCerts() (certDir string, banks []string, err error) {
	init := certscli.DefaultInitOptions(filepath.Join(d.dir, "certs"))
	init.Banks, init.Clients = []string{"BankA", "BankB"}, []string{"bench", floodClient}
	_, err = certscli.Init(init)
	return init.Dir, init.Banks, err
}

// deployment is two banks and a gateway, in this process or as processes,
// and admin and client connections.
type deployment struct {
	dir        string
	keep       bool          // leave dir after the run: see Options.Keep
	profileDir string        // see Options.ProfileDir
	profileTag string        // added to each process's profile name: <name><tag>.pprof
	bcryptCost int           // see Options.BcryptCost
	metrics    bool          // see Options.Metrics
	scrape     []string      // the daemons' metrics URLs, with Metrics
	stopScrape chan struct{} // closed by stop: ends the scraper
	banks      []*bankd.Bank
	gateway    *gatewayd.Gateway
	processes  []*process         // the banks, then the gateway
	conns      []*grpc.ClientConn // client certificate connections to the gateway
	flood      *grpc.ClientConn   // the login flood's, with a certificate of its own
	admin      context.Context    // carries the admin's token
}

// startInProcess starts the banks and the gateway in this process, and
// returns the gateway's address.
func (d *deployment) startInProcess(certDir string, banks []string, logs io.Writer) (string, error) {
	log := zerolog.New(logs).With().Timestamp().Logger()
	daemon.TuneGC() // the daemons in this process are tuned as strife's own
	addrs := map[string]string{}
	for _, name := range banks {
		b, err := bankd.Start(bankd.Config{Config: daemon.Config{
			Name: name, Listen: "127.0.0.1:0", DataDir: filepath.Join(d.dir, name), TLS: certs.FilesIn(certDir, name), Log: log.With().Str("bank", name).Logger(),
		}})
		if err != nil {
			return "", err
		}
		d.banks, addrs[name] = append(d.banks, b), b.Addr()
	}
	if err := d.startGateway(certDir, addrs, log); err != nil {
		return "", err
	}
	return d.gateway.Addr(), nil
}

// writeUsers writes the gateway's users file, with the admin, into dir.
func writeUsers(dir string) (string, error) {
	data, err := yaml.Marshal(users.SeedFile{Users: []users.SeedUser{
		{Username: "admin", Password: adminPassword, Role: "admin"},
	}})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "users.yaml")
	return path, os.WriteFile(path, data, 0o600)
}

func (d *deployment) startGateway(certDir string, banks map[string]string, log zerolog.Logger) error {
	usersFile, err := writeUsers(d.dir)
	if err != nil {
		return err
	}
	d.gateway, err = gatewayd.Start(gatewayd.Config{
		Config: daemon.Config{
			Name: "gateway-1", Listen: "127.0.0.1:0", DataDir: filepath.Join(d.dir, "gateway"),
			TLS: certs.FilesIn(certDir, "gateway-1"), Log: log.With().Str("gateway", "gateway-1").Logger(),
		},
		TokenKeyFile: filepath.Join(certDir, certscli.TokenKeyFile),
		Banks:        banks, UsersFile: usersFile, BcryptCost: d.bcryptCost,
	})
	return err
}

// connect opens four client connections for the payers (with the client
// certificate named client), so that no single HTTP/2 connection is the
// bottleneck, one for the admin and one for a login flood (with the
// certificate named floodCert), logs the admin in and makes sure the payee
// exists.
func (d *deployment) connect(gateway, certDir, client, floodCert, adminPass string) error {
	if err := d.dialPayers(gateway, certDir, client); err != nil {
		return err
	}
	floodTLS, err := certs.ClientConfig(certs.FilesIn(certDir, floodCert), "")
	if err != nil {
		return err
	}
	if d.flood, err = rpc.Dial(gateway, floodTLS); err != nil {
		return err
	}
	adminTLS, err := certs.ClientConfig(certs.FilesIn(certDir, "admin"), "")
	if err != nil {
		return err
	}
	adminConn, err := rpc.Dial(gateway, adminTLS)
	if err != nil {
		return err
	}
	d.conns = append(d.conns, adminConn)
	if d.admin, err = login(adminConn, "admin", adminPass); err != nil {
		return err
	}
	return d.register("payee", payee)
}

// dialPayers opens the four connections the payers share, with the client
// certificate named client.
func (d *deployment) dialPayers(gateway, certDir, client string) error {
	tlsConfig, err := certs.ClientConfig(certs.FilesIn(certDir, client), "")
	if err != nil {
		return err
	}
	for range 4 {
		conn, err := rpc.Dial(gateway, tlsConfig)
		if err != nil {
			return err
		}
		d.conns = append(d.conns, conn)
	}
	return nil
}

// register makes a customer with an account and a large balance, unless
// the user exists already (a deployment measured before).
func (d *deployment) register(user, account string) error {
	admin := strifev1.NewGatewayServiceClient(d.conns[len(d.conns)-1])
	_, err := admin.RegisterClient(d.admin, &strifev1.RegisterClientRequest{
		Username: user, Password: payerPassword, Role: strifev1.UserRole_USER_ROLE_CUSTOMER,
		Account: account, OpeningBalance: 1 << 40,
	})
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("register %s: %w", user, err)
	}
	return nil
}

func (d *deployment) stop() {
	if d.stopScrape != nil {
		close(d.stopScrape)
	}
	for _, c := range d.conns {
		c.Close()
	}
	if d.flood != nil {
		d.flood.Close()
	}
	if d.gateway != nil {
		d.gateway.Stop()
	}
	for _, b := range d.banks {
		b.Stop()
	}
	for _, p := range slices.Backward(d.processes) {
		if err := p.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "strife-bench:", err)
		}
	}
	if d.dir != "" && !d.keep {
		os.RemoveAll(d.dir)
	}
}

// login returns a context carrying the user's token.
func login(conn *grpc.ClientConn, user, password string) (context.Context, error) {
	resp, err := strifev1.NewGatewayServiceClient(conn).Login(context.Background(), &strifev1.LoginRequest{Username: user, Password: password})
	if err != nil {
		return nil, fmt.Errorf("login %s: %w", user, err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+resp.GetToken()), nil
}

// payer is one concurrent client: a logged-in user with an account.
type payer struct {
	client  strifev1.GatewayServiceClient
	ctx     context.Context
	account string
}

// payers registers and logs in n payers, each with an account at BankA.
func (d *deployment) payers(n int) ([]payer, error) {
	out := make([]payer, n)
	for i := range n {
		user, account := fmt.Sprintf("payer%d", i), fmt.Sprintf("BankA/%d", 50000+i)
		if err := d.register(user, account); err != nil {
			return nil, err
		}
		conn := d.conns[i%(len(d.conns)-1)]
		ctx, err := login(conn, user, payerPassword)
		if err != nil {
			return nil, err
		}
		out[i] = payer{client: strifev1.NewGatewayServiceClient(conn), ctx: ctx, account: account}
	}
	return out, nil
}

// measure runs the payers concurrently: a warm-up, then the window in which
// every payment that ends is counted, and the CPU every process uses is
// read.
func measure(payers []payer, window time.Duration, cpu cpuMeter, flooder func(from, to time.Time) Logins) Result {
	warmup := window / 10
	start := time.Now()
	from, to := start.Add(warmup), start.Add(warmup+window)
	logins := make(chan Logins, 1)
	if flooder != nil {
		go func() { logins <- flooder(from, to) }()
	}
	cpuUsed := make(chan [2]map[string]time.Duration, 1) // at from, at to
	go func() {
		time.Sleep(time.Until(from))
		before := cpu()
		time.Sleep(time.Until(to))
		cpuUsed <- [2]map[string]time.Duration{before, cpu()}
	}()
	var mu sync.Mutex
	var latencies []time.Duration
	failed := 0
	var wg sync.WaitGroup
	for _, p := range payers {
		wg.Go(func() {
			for time.Now().Before(to) {
				began := time.Now()
				ok := p.pay()
				ended := time.Now()
				if ended.Before(from) || ended.After(to) {
					continue
				}
				mu.Lock()
				latencies = append(latencies, ended.Sub(began))
				if !ok {
					failed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r := summarize(len(payers), latencies, failed, window)
	used := <-cpuUsed
	r.CPU = perPayment(used[0], used[1], r.Payments)
	if flooder != nil {
		l := <-logins
		r.Logins = &l
	}
	return r
}

// floodOf is the login flood of opts, nil without one.
func floodOf(opts Options) func(from, to time.Time) Logins {
	if opts.LoginFlood <= 0 || opts.flood == nil {
		return nil
	}
	return func(from, to time.Time) Logins { return flood(opts.flood, opts.LoginFlood, from, to) }
}

func (p payer) pay() bool {
	resp, err := p.client.Pay(p.ctx, &strifev1.PayRequest{
		TransactionId: ulid.Make().String(), FromAccount: p.account,
		Payee: &strifev1.PayRequest_ToAccount{ToAccount: payee}, Amount: 1,
	})
	return err == nil && resp.GetPayment().GetStatus() == strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED
}

func summarize(payers int, latencies []time.Duration, failed int, window time.Duration) Result {
	slices.Sort(latencies)
	r := Result{Payers: payers, Payments: len(latencies), Failed: failed, PerSecond: float64(len(latencies)) / window.Seconds()}
	if len(latencies) > 0 {
		r.P50 = latencies[len(latencies)*50/100]
		r.P99 = latencies[len(latencies)*99/100]
	}
	return r
}
