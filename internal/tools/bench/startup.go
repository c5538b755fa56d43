package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/plumbing/rpc"
	"github.com/strife-pay/strife/internal/tools/certscli"
	"github.com/strife-pay/strife/internal/tools/recovery"
	"github.com/strife-pay/strife/wal"
)

// StartupOptions configure RunStartup.
type StartupOptions struct {
	// Payments are the histories to measure: finished payments in the
	// files, one measurement each.
	Payments []int
	// Open is how many held payments each history has besides.
	Open int
	// Accounts is how many users, each with an account at each bank.
	Accounts int
	// BankEvents, if not 0, makes the banks' files that many records,
	// whatever the gateway's size (History.BankEvents).
	BankEvents int
	// Dir keeps the certificates and, per history, the data files
	// LoadHistory made (h<payments>-o<open>-a<accounts>[-e<bank events>]/), so that a second
	// run measures the same files without making them again. Each start
	// runs on a copy, since a start writes (a new epoch, the resumed
	// payments).
	Dir string
	// Runs is how many starts of each daemon are measured per history; the
	// median is reported.
	Runs int
	// Executable is a program with the hidden bank and gateway commands
	// (strife-bench re-runs itself).
	Executable string
	// ProfileDir, if set, is where each daemon process writes a CPU
	// profile of its life (started, measured, stopped):
	// <name>-<payments>-<run>.pprof.
	ProfileDir string
	// JSON prints each history as a JSON object on a line (see
	// StartupResult.MarshalJSON) instead of a row of the table.
	JSON bool
	Out  io.Writer
	// Logs receives the daemons' logs and the loader's progress.
	Logs io.Writer
}

// StartupResult is one history's measurement: the median time from
// starting a daemon's process to its first answered health check over
// mutual TLS, with the data file's size.
type StartupResult struct {
	Payments, Open        int
	GatewayBytes          int64
	BankBytes             int64  // BankA's (it took part in every payment the banks saw)
	BankRecords           uint64 // in BankA's file: its events
	Gateway, Bank         time.Duration
	GatewayRuns, BankRuns []time.Duration
	Loaded                time.Duration // how long LoadHistory took; 0 if the files were kept from before
}

// MarshalJSON: payments, open, gateway_bytes, bank_bytes, bank_records, gateway_ms,
// bank_ms (medians), gateway_runs_ms, bank_runs_ms, load_s.
func (r StartupResult) MarshalJSON() ([]byte, error) {
	msAll := func(ds []time.Duration) []float64 {
		var out []float64
		for _, d := range ds {
			out = append(out, ms(d))
		}
		return out
	}
	return json.Marshal(map[string]any{
		"payments": r.Payments, "open": r.Open, "gateway_bytes": r.GatewayBytes, "bank_bytes": r.BankBytes,
		"bank_records": r.BankRecords,
		"gateway_ms":   ms(r.Gateway), "bank_ms": ms(r.Bank), "gateway_runs_ms": msAll(r.GatewayRuns), "bank_runs_ms": msAll(r.BankRuns),
		"load_s": roundTo(r.Loaded.Seconds(), 1),
	})
}

func (r StartupResult) String() string {
	return fmt.Sprintf("| %s | %d | %s | %s | %s | %.0f | %.0f |", thousands(r.Payments), r.Open,
		mb(r.GatewayBytes), mb(r.BankBytes), thousands(int(r.BankRecords)), ms(r.Gateway), ms(r.Bank))
}

const startupHeader = "| payments | open | gateway file | BankA file | BankA records | gateway start ms | BankA start ms |\n|---|---|---|---|---|---|---|"

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// RunStartup makes (or reuses) a history for each of opts.Payments and
// measures how long the gateway and BankA take, as processes of their own
// started as strife up starts them, from the start of the process to the
// first health check they answer SERVING over mutual TLS. The banks run
// while the gateway starts, so the gateway's open payments resume against
// them as they would.
func RunStartup(opts StartupOptions) ([]StartupResult, error) {
	if opts.Runs < 1 {
		opts.Runs = 1
	}
	if opts.Logs == nil {
		opts.Logs = io.Discard
	}
	if opts.ProfileDir != "" {
		if err := os.MkdirAll(opts.ProfileDir, 0o700); err != nil {
			return nil, err
		}
	}
	certDir, err := startupCerts(opts.Dir)
	if err != nil {
		return nil, err
	}
	if !opts.JSON {
		fmt.Fprintln(opts.Out, startupHeader)
	}
	var results []StartupResult
	for _, n := range opts.Payments {
		h := History{Payments: n, Open: opts.Open, Accounts: opts.Accounts, BankEvents: opts.BankEvents}
		files, loaded, err := keptHistory(opts.Dir, h, opts.Logs)
		if err != nil {
			return results, err
		}
		r := StartupResult{Payments: n, Open: opts.Open, Loaded: loaded}
		r.GatewayBytes, _ = fileSize(filepath.Join(files, historyGateway, historyGateway+".db"))
		r.BankBytes, _ = fileSize(filepath.Join(files, historyPayer, historyPayer+".db"))
		if r.BankRecords, err = records(filepath.Join(files, historyPayer, historyPayer+".db")); err != nil {
			return results, err
		}
		for run := range opts.Runs {
			gw, bank, err := startOnce(opts, certDir, files, fmt.Sprintf("%d-%d", n, run))
			if err != nil {
				return results, err
			}
			r.GatewayRuns, r.BankRuns = append(r.GatewayRuns, gw), append(r.BankRuns, bank)
		}
		r.Gateway, r.Bank = median(r.GatewayRuns), median(r.BankRuns)
		printLine(Options{Out: opts.Out, JSON: opts.JSON}, r)
		results = append(results, r)
	}
	return results, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// records is how many records the log at path holds.
func records(path string) (n uint64, err error) {
	l, err := wal.OpenReadOnly(path, 0)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	err = l.View(func(tx *wal.Tx) error { n = tx.LastSeq(); return nil })
	return n, err
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// startupCerts makes the certificates in dir/certs, once.
func startupCerts(dir string) (string, error) {
	init := certscli.DefaultInitOptions(filepath.Join(dir, "certs"))
	init.Banks, init.Clients = []string{historyPayer, historyPayee}, []string{"bench"}
	if _, err := os.Stat(certs.FilesIn(init.Dir, "bench").CertFile); err == nil {
		return init.Dir, nil
	}
	init.Force = true
	_, err := certscli.Init(init)
	return init.Dir, err
}

// keptHistory returns the directory of h's files in dir, making them
// first if they are not there (in a directory renamed into place once
// complete), and how long that took.
func keptHistory(dir string, h History, logs io.Writer) (string, time.Duration, error) {
	name := fmt.Sprintf("h%d-o%d-a%d", h.Payments, h.Open, h.Accounts)
	if h.BankEvents > 0 {
		name += fmt.Sprintf("-e%d", h.BankEvents)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return path, 0, nil
	}
	tmp := path + ".making"
	if err := os.RemoveAll(tmp); err != nil {
		return "", 0, err
	}
	// Loading allocates much and keeps little: a quarter of the
	// collections, for the time of the load only.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	began := time.Now()
	last := began
	err := LoadHistory(tmp, h, time.Now(), func(done int) {
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			fmt.Fprintf(logs, "strife-bench: loading %s: %d of %d payments, %.0f s\n", filepath.Base(path), done, h.Payments, time.Since(began).Seconds())
		}
	})
	if err != nil {
		return "", 0, err
	}
	return path, time.Since(began), os.Rename(tmp, path)
}

// startOnce copies the history's files into a scratch directory, starts
// BankA, BankB and the gateway on them in turn, each measured from the
// start of its process to its first SERVING health check, and stops them.
func startOnce(opts StartupOptions, certDir, files, profile string) (gateway, bank time.Duration, err error) {
	run, err := os.MkdirTemp(opts.Dir, "run-")
	if err != nil {
		return 0, 0, err
	}
	d := &deployment{dir: run, profileDir: opts.ProfileDir, profileTag: "-" + profile}
	defer d.stop() // its processes, then run
	for _, name := range []string{historyGateway, historyPayer, historyPayee} {
		// Synced before the daemon starts: else its first commit's fsync
		// writes the whole copy back, which a restart on its own file
		// never does (measured: 430 ms instead of 30 at the first open of
		// a 700 MB file).
		if err := os.MkdirAll(filepath.Join(run, name), 0o700); err != nil {
			return 0, 0, err
		}
		if err := recovery.CopyFile(filepath.Join(files, name, name+".db"), filepath.Join(run, name, name+".db")); err != nil {
			return 0, 0, err
		}
	}
	gatewayAddr, err := freeAddr()
	if err != nil {
		return 0, 0, err
	}
	var bankFlags []string
	for _, name := range []string{historyPayer, historyPayee} {
		addr, err := freeAddr()
		if err != nil {
			return 0, 0, err
		}
		took, err := d.timeStart(opts, certDir, name, addr, slices.Concat(
			[]string{"bank", "--name", name, "--listen", addr, "--data-dir", filepath.Join(run, name), "--coordinator", gatewayAddr},
			tlsArgs(certDir, name)))
		if err != nil {
			return 0, 0, err
		}
		if name == historyPayer {
			bank = took
		}
		bankFlags = append(bankFlags, "--bank", name+"="+addr)
	}
	gateway, err = d.timeStart(opts, certDir, historyGateway, gatewayAddr, slices.Concat(
		[]string{"gateway", "--name", historyGateway, "--listen", gatewayAddr, "--data-dir", filepath.Join(run, historyGateway),
			"--token-key", filepath.Join(certDir, certscli.TokenKeyFile), "--bcrypt-cost", "4"},
		bankFlags, tlsArgs(certDir, historyGateway)))
	return gateway, bank, err
}

// timeStart starts a daemon process and returns the time from its start
// to its first health check answered SERVING, over mutual TLS with the
// bench client's certificate.
func (d *deployment) timeStart(opts StartupOptions, certDir, name, addr string, args []string) (time.Duration, error) {
	tlsConfig, err := certs.ClientConfig(certs.FilesIn(certDir, "bench"), "")
	if err != nil {
		return 0, err
	}
	began := time.Now()
	// startProcess returns once the daemon listens; then one health check
	// that waits for its connection (gRPC's own reconnection backoff would
	// blur the measure if it polled from the start).
	if err := d.startProcess(opts.Executable, name, addr, args, opts.Logs); err != nil {
		return 0, err
	}
	conn, err := rpc.Dial(addr, tlsConfig)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return 0, fmt.Errorf("%s: health check: %w", name, err)
	}
	took := time.Since(began)
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return 0, fmt.Errorf("%s: health check answered %v", name, resp.GetStatus())
	}
	return took, nil
}
