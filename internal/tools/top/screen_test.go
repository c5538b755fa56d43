package top_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/tools/bench"
	"github.com/strife-pay/strife/internal/tools/deploy"
	"github.com/strife-pay/strife/internal/tools/top"
)

// strifeBin is the strife binary the screen tests run, built once.
var strifeBin string

func TestMain(m *testing.M) {
	os.Exit(banktest.RunWithBinary(m, "github.com/strife-pay/strife/cmd/strife", &strifeBin))
}

// A deployment is what the screen tests watch: the NAME=URL targets of
// its processes, gateway first, and a way to make one process stop
// answering. fakeDeployment builds one from in-process endpoints whose
// figures move; a real deployment (deploy.Start, with its metrics ports)
// fits the same shape, with stop killing the child.
type deployment struct {
	targets []string
	stop    func(name string)
	// victim is the process the test stops (default: the third target,
	// a bank).
	victim string
	// quiet are the processes no payment goes through, whose rows need
	// not show any.
	quiet map[string]bool
}

func (d deployment) stopped() string {
	if d.victim != "" {
		return d.victim
	}
	return d.names()[2]
}

func (d deployment) names() []string {
	var out []string
	for _, tg := range d.targets {
		name, _, _ := strings.Cut(tg, "=")
		out = append(out, name)
	}
	return out
}

// TestTopInTmux runs `strife top` in a terminal (a detached tmux session
// on a private server), reads its screen, stops one bank's endpoint and
// sees its row turn DOWN, then quits with q and checks the terminal is
// given back.
func TestTopInTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed; TestTopPlain covers the same through a pipe")
	}
	checkTopInTmux(t, tmux, fakeDeployment(t))
}

// TestTopPlain runs `strife top` with its output to a pipe, where each
// frame is plain text followed by a blank line, and checks the same.
func TestTopPlain(t *testing.T) {
	checkTopPlain(t, fakeDeployment(t))
}

func TestTopOnce(t *testing.T) {
	d := fakeDeployment(t)
	out, err := exec.Command(strifeBin, append([]string{"top", "--once", "--interval", "300ms"}, d.targets...)...).Output()
	require.NoError(t, err)
	frame := string(out)
	require.Equal(t, 1, strings.Count(frame, "strife top "), "one frame:\n%s", frame)
	require.True(t, allUp(d, frame), "after two scrapes every row has its figures:\n%s", frame)
}

// TestTopAgainstStrifeUp watches a real deployment (deploy.Start, as
// strife up runs it) at its default metrics ports while strife-bench's
// payers pay from BankA to BankB through it, in a terminal (tmux) when
// there is one, else through a pipe: the gateway's and both banks' rows
// show payments moving, and BankC, killed with SIGKILL, turns DOWN.
func TestTopAgainstStrifeUp(t *testing.T) {
	base, err := deploy.FreeBasePort()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dp, err := deploy.Start(ctx, deploy.Config{DataDir: t.TempDir(), BasePort: base, Executable: strifeBin,
		UsersFile: filepath.Join("..", "..", "..", "testdata", "demo-users.yaml"), Stdout: io.Discard})
	require.NoError(t, err)
	t.Cleanup(func() { dp.Stop() })

	// Payers for the whole test; the cleanup waits for them (registered
	// after dp.Stop, so it runs before it).
	paying := make(chan error, 1)
	go func() {
		_, err := bench.Run(bench.Options{Payers: []int{4}, Duration: 15 * time.Second, Out: io.Discard,
			Gateway: dp.GatewayAddr(), CertDir: dp.CertDir(), AdminPassword: "admin-demo-password"})
		paying <- err
	}()
	t.Cleanup(func() { require.NoError(t, <-paying, "the payers") })

	d := deployment{victim: "BankC", quiet: map[string]bool{"BankC": true},
		stop: func(name string) { dp.Signal(name, syscall.SIGKILL) }}
	for _, tg := range top.DefaultTargets(base) {
		d.targets = append(d.targets, tg.Name+"="+tg.URL)
	}
	if tmux, err := exec.LookPath("tmux"); err == nil {
		checkTopInTmux(t, tmux, d)
		return
	}
	checkTopPlain(t, d)
}

func checkTopInTmux(t *testing.T, tmux string, d deployment) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "tmux.conf")
	// The pane stays after top exits, so that its exit status can be read.
	require.NoError(t, os.WriteFile(conf, []byte("set -g remain-on-exit on\n"), 0o600))
	socket := fmt.Sprintf("strife-top-test-%d-%d", os.Getpid(), rand.Int64())
	run := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", socket, "-f", conf}, args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { run("kill-server") })
	// A shell around top writes its exit status to a file: tmux 3.3 may
	// report the pane dead without the status (it saw the end of the pty
	// before it reaped the process).
	exitFile := filepath.Join(dir, "exit")
	args := append([]string{"new-session", "-d", "-x", "120", "-y", "30", "-s", "top",
		"sh", "-c", `"$0" "$@"; echo $? > ` + exitFile, strifeBin, "top", "--interval", "250ms"}, d.targets...)
	out, err := run(args...)
	require.NoError(t, err, out)
	capture := func() string {
		out, err := run("capture-pane", "-p", "-t", "top")
		if err != nil {
			return "capture-pane: " + err.Error() + ": " + out
		}
		return out
	}

	screen := waitFor(t, capture, func(s string) bool { return allUp(d, s) }, "every process up with its figures")
	t.Logf("strife top in tmux:\n%s", strings.TrimRight(screen, "\n"))
	require.Contains(t, screen, "q quits")

	bank := d.stopped()
	d.stop(bank)
	screen = waitFor(t, capture, func(s string) bool { return oneDown(d, s, bank) }, bank+" DOWN, the others up")
	t.Logf("after %s stopped:\n%s", bank, strings.TrimRight(screen, "\n"))

	out, err = run("send-keys", "-t", "top", "q")
	require.NoError(t, err, out)
	exit := waitFor(t, func() string {
		b, _ := os.ReadFile(exitFile)
		return strings.TrimSpace(string(b))
	}, func(s string) bool { return s != "" }, "top to exit on q")
	require.Equal(t, "0", exit, "exit status")
	screen = waitFor(t, func() string {
		out, _ := run("display-message", "-p", "-t", "top", "#{pane_dead} #{alternate_on}")
		return strings.TrimSpace(out)
	}, func(s string) bool { return strings.HasPrefix(s, "1 ") }, "the pane to end")
	require.Equal(t, "1 0", screen, "the alternate screen left")
}

func checkTopPlain(t *testing.T, d deployment) {
	cmd := exec.Command(strifeBin, append([]string{"top", "--interval", "250ms"}, d.targets...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	// Frames arrive on a channel; the latest is what the screen shows.
	frames := make(chan string, 1000)
	go func() {
		defer close(frames)
		var frame []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "" {
				frames <- strings.Join(frame, "\n")
				frame = nil
				continue
			}
			frame = append(frame, sc.Text())
		}
	}()
	var last string
	latest := func() string {
		for {
			select {
			case f, ok := <-frames:
				if !ok {
					return last
				}
				last = f
			default:
				return last
			}
		}
	}

	frame := waitFor(t, latest, func(s string) bool { return allUp(d, s) }, "every process up with its figures")
	require.Equal(t, 1, strings.Count(frame, "strife top "), "one frame between blank lines:\n%s", frame)
	require.NotContains(t, frame, "\x1b", "no terminal sequences in a pipe")
	bank := d.stopped()
	d.stop(bank)
	waitFor(t, latest, func(s string) bool { return oneDown(d, s, bank) }, bank+" DOWN, the others up")

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, cmd.Wait(), "Ctrl-C ends top cleanly")
}

// waitFor reads the screen until ok, for at most 30 s, and returns it.
func waitFor(t *testing.T, read func() string, ok func(string) bool, what string) string {
	t.Helper()
	var s string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s = read(); ok(s) {
			return s
		}
	}
	t.Fatalf("waited 30s for %s; the screen shows:\n%s", what, s)
	return ""
}

// row returns the fields of name's row on screen, nil if it has none.
func row(screen, name string) []string {
	for _, line := range strings.Split(screen, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return f
		}
	}
	return nil
}

// up reports whether name's row is up, and for a gateway or a bank that
// it shows payments moving (NAME KIND STATE PAY/S ...).
func up(d deployment, screen, name string) bool {
	f := row(screen, name)
	if len(f) < 10 || f[2] != "up" {
		return false
	}
	if !d.quiet[name] && (f[1] == "gateway" || f[1] == "bank") {
		rate, err := strconv.ParseFloat(f[3], 64)
		return err == nil && rate > 0
	}
	return true
}

func allUp(d deployment, screen string) bool {
	for _, name := range d.names() {
		if !up(d, screen, name) {
			return false
		}
	}
	return true
}

func oneDown(d deployment, screen, down string) bool {
	for _, name := range d.names() {
		f := row(screen, name)
		if name == down {
			if len(f) < 3 || f[2] != "DOWN" {
				return false
			}
		} else if !up(d, screen, name) {
			return false
		}
	}
	return true
}

// fakeDeployment serves, in this process, the endpoints of a gateway,
// three banks and etcd, with the metric names and labels of DESIGN.md
// ("Issue 15: metrics") and figures that move as payments would.
func fakeDeployment(t *testing.T) deployment {
	servers := map[string]*httptest.Server{}
	var d deployment
	add := func(name string, reg *prometheus.Registry) {
		srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		servers[name] = srv
		d.targets = append(d.targets, name+"="+srv.URL+"/metrics")
	}
	stopTicking := make(chan struct{})
	var wg sync.WaitGroup
	tick := func(step func()) {
		wg.Go(func() {
			for {
				select {
				case <-stopTicking:
					return
				case <-time.After(10 * time.Millisecond):
					step()
				}
			}
		})
	}
	add("gateway-1", fakeGateway(tick))
	for _, bank := range []string{"BankA", "BankB", "BankC"} {
		add(bank, fakeBank(tick))
	}
	etcd := prometheus.NewRegistry()
	leader := prometheus.NewGauge(prometheus.GaugeOpts{Name: "etcd_server_has_leader"})
	leader.Set(1)
	etcd.MustRegister(leader)
	add("etcd", etcd)

	var mu sync.Mutex
	d.stop = func(name string) {
		mu.Lock()
		defer mu.Unlock()
		servers[name].CloseClientConnections()
		servers[name].Close()
	}
	t.Cleanup(func() {
		close(stopTicking)
		wg.Wait()
		for name := range servers {
			d.stop(name)
		}
	})
	return d
}

func fakeGateway(tick func(func())) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	payments := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strife_payments_total"}, []string{"status", "reason"})
	pay := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strife_pay_duration_seconds", Buckets: prometheus.DefBuckets})
	held := prometheus.NewGauge(prometheus.GaugeOpts{Name: "strife_payments_held"})
	inDoubt := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "strife_attempts_in_doubt"}, []string{"bank"})
	reg.MustRegister(payments, pay, held, inDoubt, fsyncHistogram(reg, tick), grpcHandled(reg, tick))
	tick(func() {
		payments.WithLabelValues("committed", "").Add(3)
		payments.WithLabelValues("failed", "insufficient_funds").Inc()
		pay.Observe(0.002 + rand.Float64()*0.02)
		held.Set(float64(rand.IntN(5)))
		inDoubt.WithLabelValues("BankA").Set(float64(rand.IntN(2)))
	})
	return reg
}

func fakeBank(tick func(func())) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strife_bank_outcomes_total"}, []string{"outcome"})
	holds := prometheus.NewGauge(prometheus.GaugeOpts{Name: "strife_bank_holds"})
	inDoubt := prometheus.NewGauge(prometheus.GaugeOpts{Name: "strife_bank_in_doubt"})
	handling := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "grpc_server_handling_seconds", Buckets: prometheus.DefBuckets},
		[]string{"grpc_type", "grpc_service", "grpc_method"})
	reg.MustRegister(outcomes, holds, inDoubt, handling, fsyncHistogram(reg, tick), grpcHandled(reg, tick))
	tick(func() {
		outcomes.WithLabelValues("committed").Inc()
		handling.WithLabelValues("unary", "strife.v1.Bank", "Prepare").Observe(0.001 + rand.Float64()*0.004)
		holds.Set(float64(rand.IntN(3)))
	})
	return reg
}

// fsyncHistogram is the WAL's fsync histogram, moving.
func fsyncHistogram(reg *prometheus.Registry, tick func(func())) prometheus.Collector {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strife_wal_fsync_duration_seconds",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)})
	tick(func() { h.Observe(0.0005 + rand.Float64()*0.002) })
	return h
}

// grpcHandled is the gRPC handled counter, with an error now and then.
func grpcHandled(reg *prometheus.Registry, tick func(func())) prometheus.Collector {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "grpc_server_handled_total"},
		[]string{"grpc_type", "grpc_service", "grpc_method", "grpc_code"})
	tick(func() {
		c.WithLabelValues("unary", "strife.v1.Any", "Call", "OK").Add(4)
		if rand.IntN(10) == 0 {
			c.WithLabelValues("unary", "strife.v1.Any", "Call", "Unavailable").Inc()
		}
	})
	return c
}
