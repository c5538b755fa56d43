package damagetest_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/strife-pay/strife/certs"
	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/testkit/damage"
	"github.com/strife-pay/strife/internal/tools/recovery/fixture"
)

// bin is the directory of the binaries TestMain builds.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strife-damagetest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	build := exec.Command("go", "build", "-o", dir+"/", "github.com/strife-pay/strife/cmd/strife-recover",
		"github.com/strife-pay/strife/cmd/strife-bank", "github.com/strife-pay/strife/cmd/strife-gateway")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// outcome is what one run of a program did.
type outcome struct {
	code    int    // exit status; for a daemon that served, that of its SIGTERM
	served  bool   // a daemon logged its serving line
	line    string // what it said: the last line of its output that matters
	warning string // a warning it gave
	output  string
}

func (o outcome) String() string {
	s := fmt.Sprintf("exit %d: %s", o.code, o.line)
	if o.served {
		s = fmt.Sprintf("serves (exit %d after SIGTERM)", o.code)
	}
	if o.warning != "" {
		s += "; WARNING " + o.warning
	}
	return s
}

// run runs a program to its end; a daemon that logs serving is told to stop
// (SIGTERM). It is killed after 30s.
func run(t *testing.T, serving string, name string, args ...string) outcome {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = w, w
	require.NoError(t, cmd.Start())
	w.Close()
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	var o outcome
	var out strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		switch {
		case serving != "" && strings.Contains(line, `"message":"`+serving+`"`):
			o.served = true
			cmd.Process.Signal(syscall.SIGTERM)
		case strings.Contains(line, `"level":"warn"`) || strings.HasPrefix(line, "  WARNING "):
			o.warning = strings.TrimPrefix(message(line), "  WARNING ")
		case strings.Contains(line, `"level":"error"`) || strings.HasPrefix(line, "strife-recover: ") || strings.Contains(line, "Error: "):
			o.line = line
		case o.line == "" && strings.TrimSpace(line) != "":
			o.line = line
		}
	}
	cmd.Wait()
	o.code, o.output = cmd.ProcessState.ExitCode(), out.String()
	if !o.served {
		o.line = message(o.line)
	}
	return o
}

// message is the message of a JSON log line, or the line.
func message(line string) string {
	for _, key := range []string{`"error":"`, `"message":"`} {
		if i := strings.Index(line, key); i >= 0 {
			rest := line[i+len(key):]
			if j := strings.Index(rest, `"`); j >= 0 {
				return rest[:j]
			}
		}
	}
	return line
}

// TestDamageTable damages copies of a bank's and the gateway's data files
// (3,000 payments: branch pages in every big bucket) in every way of
// damage.Cases, then runs strife-recover check on each and starts the
// daemon that owns it. No output may show a crash; a file check calls
// usable (exit 0) must be one its daemon serves; a file the daemon
// refuses must be exit 2 for the check.
func TestDamageTable(t *testing.T) {
	dir := t.TempDir()
	files, _ := fixture.Large(t, dir, 3000)
	for _, p := range []string{files.BankA, files.Gateway} {
		syncFreelist(t, p)
	}
	pki := banktest.NewPKI(t)
	bankTLS := pki.Files(t, certs.RoleBank, "BankA")
	gwTLS := pki.Files(t, certs.RoleGateway, "gateway-1")
	tokenKey := banktest.TokenKey(t)
	cases := damage.Cases(t, files.BankA, true)
	gwCases := damage.Cases(t, files.Gateway, true)
	// The two files' cases are paired by name: a kind of page one file has
	// a single one of (the freelist, often) has no "later one" cases
	// there, and which file that is depends on the layout of the run.
	gwByName := map[string]damage.Case{}
	for _, c := range gwCases {
		gwByName[c.Name] = c
	}
	var table []string
	paired := 0
	for _, c := range cases {
		gw, ok := gwByName[c.Name]
		if !ok {
			t.Logf("%s: not a case of the gateway's file this time", c.Name)
			continue
		}
		paired++
		t.Run(c.Name, func(t *testing.T) {
			bankDir, gwDir := t.TempDir(), t.TempDir()
			bankFile, gwFile := filepath.Join(bankDir, "BankA.db"), filepath.Join(gwDir, "gateway-1.db")
			damage.Copy(t, files.BankA, bankFile)
			damage.Copy(t, files.Gateway, gwFile)
			c.Do(t, bankFile)
			gw.Do(t, gwFile)

			startBank := func() outcome {
				return run(t, "bank serving", "strife-bank", "--name", "BankA", "--listen", "127.0.0.1:0", "--data-dir", bankDir,
					"--cert", bankTLS.CertFile, "--key", bankTLS.KeyFile, "--ca", bankTLS.CAFile, "--log-format", "json")
			}
			startGw := func() outcome {
				return run(t, "gateway serving", "strife-gateway", "--name", "gateway-1", "--listen", "127.0.0.1:0", "--data-dir", gwDir,
					"--cert", gwTLS.CertFile, "--key", gwTLS.KeyFile, "--ca", gwTLS.CAFile, "--token-key", tokenKey,
					"--bank", "BankA=127.0.0.1:1", "--bank", "BankB=127.0.0.1:1", "--log-format", "json")
			}
			checkBank := run(t, "", "strife-recover", "check", bankFile)
			checkGw := run(t, "", "strife-recover", "check", gwFile)
			bank, gw := startBank(), startGw()
			for _, o := range []outcome{checkBank, checkGw, bank, gw} {
				requireNoCrash(t, o)
			}
			for _, pair := range []struct {
				file          string
				check, daemon *outcome
				start         func() outcome
			}{{bankFile, &checkBank, &bank, startBank}, {gwFile, &checkGw, &gw, startGw}} {
				check, daemon := pair.check, pair.daemon
				require.Contains(t, []int{0, 1, 2}, check.code)
				if check.code == 0 {
					require.True(t, daemon.served, "check said usable, the daemon refused:\n%s", daemon.output)
				}
				if daemon.served {
					require.Equal(t, 0, daemon.code, "a clean stop")
					continue
				}
				require.Equal(t, 1, daemon.code)
				require.NotEqual(t, 0, check.code, "the daemon refused, check did not:\n%s", check.output)
				if check.code == 1 { // a damaged projection: --repair rebuilds it from the log
					repair := run(t, "", "strife-recover", "check", "--repair", pair.file)
					requireNoCrash(t, repair)
					require.Equal(t, 0, repair.code, repair.output)
					again := pair.start()
					requireNoCrash(t, again)
					require.True(t, again.served, "repaired, the daemon still refuses:\n%s", again.output)
					daemon.line += "; after `check --repair` (exit 0): " + again.String()
				}
			}
			table = append(table, fmt.Sprintf("| %s | %s | %s | %s | %s |", c.Name,
				cell(checkBank), cell(bank), cell(checkGw), cell(gw)))
		})
	}
	require.GreaterOrEqual(t, paired, len(cases)-2, "at most the two \"later one\" cases of one kind of page go unpaired")
	md := "| damage | `strife-recover check BankA.db` | strife-bank start | `strife-recover check gateway-1.db` | strife-gateway start |\n|---|---|---|---|---|\n" + strings.Join(table, "\n") + "\n"
	t.Log("\n" + md)
	if out := os.Getenv("STRIFE_DAMAGE_TABLE"); out != "" {
		require.NoError(t, os.WriteFile(out, []byte(md), 0o644))
	}
}

// requireNoCrash fails the test if o shows a crash, or was killed by a
// signal.
func requireNoCrash(t *testing.T, o outcome) {
	t.Helper()
	require.False(t, damage.Crashed(o.output), "a crash:\n%s", o.output)
	if !o.served {
		require.NotEqual(t, -1, o.code, "killed by a signal:\n%s", o.output)
	}
}

// cell is an outcome for the table, without temporary paths.
func cell(o outcome) string {
	s := tempPath.ReplaceAllString(o.String(), "$1")
	return strings.ReplaceAll(s, "|", "\\|")
}

var tempPath = regexp.MustCompile(`/\S*/([\w-]+\.db)`)

// syncFreelist has bbolt write a freelist page, so that there is one to
// damage; the daemons read it as well as a rebuilt one.
func syncFreelist(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Close())
}
