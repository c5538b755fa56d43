package chaos

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"gopkg.in/yaml.v3"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	"github.com/strife-pay/strife/internal/tools/deploy"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
)

// Files of the run directory.
const (
	paymentsLog    = "payments.log"
	faultsLog      = "faults.log"
	daemonsLog     = "daemons.log"
	recoverOutput  = "recover-check.txt"
	dataSubdir     = "data"
	usersFile      = "users.yaml"
	payerPassword  = "chaos payer password"
	richOpening    = 100_000
	startupTimeout = 2 * time.Minute
)

// Run runs the deployment, the workload and the faults, checks the end
// state and prints the summary to cfg.Out. The error is for a run that
// could not be made (the deployment did not start, a file could not be
// read); a run whose checks fail returns its Summary with OK false.
func Run(cfg Config) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Seed == 0 {
		cfg.Seed = randomSeed()
	}
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join("strife-chaos", time.Now().Format("20060102-150405")+"-"+strconv.FormatUint(cfg.Seed, 10))
	}
	fmt.Fprintf(cfg.Out, "strife-chaos: seed %d (replay with --seed %d), %v of faults, a fault every %v on average, %d payers, run directory %s\n",
		cfg.Seed, cfg.Seed, cfg.Duration, cfg.FaultEvery, cfg.Payers, cfg.Dir)
	r, err := newRun(cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.run()
}

func randomSeed() uint64 {
	var b [8]byte
	crand.Read(b[:])
	return max(binary.LittleEndian.Uint64(b[:])>>1, 1) // printable as a positive int64 too
}

// run is one chaos run and what it holds open.
type run struct {
	cfg      Config
	rec      *record
	faultLog *os.File
	daemons  *os.File
	payers   []*payer
	openings map[string]int64
	conns    []*grpc.ClientConn
	dep      *deploy.Deployment
}

func newRun(cfg Config) (*run, error) {
	if entries, err := os.ReadDir(cfg.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("chaos: %s is not empty: give a new --dir", cfg.Dir)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, openings: map[string]int64{}}
	var err error
	if r.rec, err = newRecord(filepath.Join(cfg.Dir, paymentsLog)); err != nil {
		return nil, err
	}
	if r.faultLog, err = os.Create(filepath.Join(cfg.Dir, faultsLog)); err != nil {
		return nil, err
	}
	if r.daemons, err = os.Create(filepath.Join(cfg.Dir, daemonsLog)); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *run) close() {
	for _, c := range r.conns {
		c.Close()
	}
	if r.dep != nil {
		r.dep.Kill() // only if the run ended early: Stop has stopped them otherwise
	}
	r.rec.close()
	r.faultLog.Close()
	r.daemons.Close()
}

func (r *run) run() (*Summary, error) {
	if err := r.writeUsers(); err != nil {
		return nil, err
	}
	if err := r.start(); err != nil {
		return nil, err
	}
	counts, err := r.chaos()
	if err != nil {
		return nil, err
	}
	return r.finish(counts)
}

// writeUsers writes the gateway's seed: an admin, and the payers spread
// over the banks, every fourth with no money.
func (r *run) writeUsers() error {
	seed := users.SeedFile{Users: []users.SeedUser{{Username: "admin", Password: "chaos admin password", Role: "admin"}}}
	banks := []string{"BankA", "BankB", "BankC"}
	for i := range r.cfg.Payers {
		p := &payer{user: fmt.Sprintf("payer%03d", i), password: payerPassword,
			account: fmt.Sprintf("%s/%d", banks[i%len(banks)], 10000+i), opening: richOpening}
		if i%4 == 3 {
			p.opening = 0
		}
		r.payers = append(r.payers, p)
		r.openings[p.account] = p.opening
		seed.Users = append(seed.Users, users.SeedUser{Username: p.user, Password: p.password, Role: "customer",
			Account: p.account, OpeningBalance: p.opening})
	}
	data, err := yaml.Marshal(seed)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.cfg.Dir, usersFile), data, 0o600)
}

// start starts the deployment and logs the payers in.
func (r *run) start() error {
	base := r.cfg.BasePort
	if base == 0 {
		var err error
		if base, err = deploy.FreeBasePort(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	dep, err := deploy.Start(ctx, deploy.Config{
		DataDir: filepath.Join(r.cfg.Dir, dataSubdir), BasePort: base, UsersFile: filepath.Join(r.cfg.Dir, usersFile),
		Executable: r.cfg.Executable, Env: r.cfg.Env, Stdout: r.daemons,
		GatewayArgs: []string{"--bcrypt-cost", "4"},
	})
	if err != nil {
		return fmt.Errorf("chaos: starting the deployment (its logs: %s): %w", filepath.Join(r.cfg.Dir, daemonsLog), err)
	}
	r.dep = dep
	fmt.Fprintf(r.cfg.Out, "deployment serving: etcd, %v and the gateway on %s\n", dep.Banks(), dep.GatewayAddr())
	tlsConfig, err := certs.ClientConfig(certs.FilesIn(dep.CertDir(), "alice"), "")
	if err != nil {
		return err
	}
	for range 2 {
		conn, err := rpc.Dial(dep.GatewayAddr(), tlsConfig)
		if err != nil {
			return err
		}
		r.conns = append(r.conns, conn)
	}
	for i, p := range r.payers {
		p.api = strifev1.NewGatewayServiceClient(r.conns[i%len(r.conns)])
		if err := p.login(ctx); err != nil {
			return err
		}
	}
	return nil
}

// chaos runs the payers and the faults for cfg.Duration, then lets the
// payers finish their payments, within cfg.Settle, and waits for the banks
// to release every hold, within what is left of it. It returns the fault
// counts.
func (r *run) chaos() (map[string]map[string]int, error) {
	start := time.Now()
	paying, stopPaying := context.WithTimeout(context.Background(), r.cfg.Duration)
	defer stopPaying()
	settleBy := start.Add(r.cfg.Duration + r.cfg.Settle)
	answering, stopAnswering := context.WithDeadline(context.Background(), settleBy)
	defer stopAnswering()

	var payersDone sync.WaitGroup
	accounts := make([]string, len(r.payers))
	for i, p := range r.payers {
		accounts[i] = p.account
	}
	for i, p := range r.payers {
		rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(i)+1))
		payersDone.Go(func() { p.run(paying, answering, rng, accounts, r.rec) })
	}
	go r.flushEverySecond(answering)

	f := newFaults(r.dep, rand.New(rand.NewPCG(r.cfg.Seed, 0)), r.cfg, r.faultLog)
	f.inject(paying)
	fmt.Fprintf(r.cfg.Out, "faults stopped after %v; settling (at most %v)\n", time.Since(start).Round(time.Second), r.cfg.Settle)
	if !f.reviveAll(answering) {
		fmt.Fprintln(r.cfg.Out, "not every process could be started again within the settle time")
	}
	payersDone.Wait()
	if err := r.waitNoHolds(answering); err != nil {
		fmt.Fprintf(r.cfg.Out, "holds still there at the settle time: %v\n", err)
	}
	fmt.Fprintf(r.cfg.Out, "settled after %v\n", time.Since(start.Add(r.cfg.Duration)).Round(100*time.Millisecond))
	return f.snapshotCounts(), r.rec.flush()
}

func (r *run) flushEverySecond(ctx context.Context) {
	for sleep(ctx, time.Second) {
		r.rec.flush()
	}
}

// waitNoHolds asks each bank, with the gateway's certificate (as the
// gateway reads accounts), until no payer's account has a hold or a
// pending credit, or ctx ends.
func (r *run) waitNoHolds(ctx context.Context) error {
	clients := map[string]strifev1.BankServiceClient{}
	tlsConfig, err := certs.ClientConfig(certs.FilesIn(r.dep.CertDir(), "gateway-1"), "")
	if err != nil {
		return err
	}
	for _, bank := range r.dep.Banks() {
		conn, err := rpc.Dial(r.dep.Addr(bank), tlsConfig)
		if err != nil {
			return err
		}
		defer conn.Close()
		clients[bank] = strifev1.NewBankServiceClient(conn)
	}
	for {
		err := r.holds(ctx, clients)
		if err == nil || !sleep(ctx, 250*time.Millisecond) {
			return err
		}
	}
}

// holds returns an error naming the first account with a hold or a
// pending credit, or that could not be read.
func (r *run) holds(ctx context.Context, clients map[string]strifev1.BankServiceClient) error {
	for _, p := range r.payers {
		bank, number, _ := users.Split(p.account)
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		resp, err := clients[bank].GetAccount(cctx, &strifev1.GetAccountRequest{Number: number})
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", p.account, err)
		}
		if a := resp.GetAccount(); a.GetHeld() != 0 || a.GetPendingCredits() != 0 {
			return fmt.Errorf("%s holds %d and has %d pending", p.account, a.GetHeld(), a.GetPendingCredits())
		}
	}
	return nil
}

// finish stops the deployment, checks its files and prints the summary.
func (r *run) finish(counts map[string]map[string]int) (*Summary, error) {
	names := r.dep.Names()
	stopErr := r.dep.Stop()
	files := map[string]string{}
	for _, bank := range r.dep.Banks() {
		files[bank] = r.dep.BankFile(bank)
	}
	payments := r.rec.snapshot()
	invs, recoverOut, err := check(payments, r.openings, files, r.dep.GatewayFile())
	r.dep = nil
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(r.cfg.Dir, recoverOutput), []byte(recoverOut), 0o644); err != nil {
		return nil, err
	}
	stopped := Invariant{Name: "every process stopped cleanly at the end (SIGTERM, exit 0)", Checked: len(names)}
	if stopErr != nil {
		stopped.violate("%v", stopErr)
	}
	s := summarize(r.cfg, payments, counts, append(invs, stopped))
	s.Print(r.cfg.Out)
	return s, nil
}
