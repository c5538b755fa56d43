package daemon_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/strife-pay/strife/"

// daemons are the daemon packages, each with the packages that may import
// it besides the program roots (rootsOfDaemons) and test code: its command.
var daemons = map[string][]string{
	"internal/daemons/bankd":    {"cmd/strife-bank"},
	"internal/daemons/gatewayd": {"cmd/strife-gateway"},
	"internal/daemons/devetcd":  nil, // only strife etcd, a hidden command of internal/tools/cli, runs it
}

// rootsOfDaemons are the roots of the programs that carry the daemons:
// internal/tools/cli builds strife, whose hidden bank, gateway and etcd
// subcommands strife up runs (strife-bench and strife-chaos take them from
// it), and internal/tools/bench builds strife-bench, whose --in-process mode
// starts the daemons in its own process.
var rootsOfDaemons = []string{"internal/tools/cli", "internal/tools/bench"}

// No package imports a daemon except its command, the program roots that
// carry the daemons, and test code: _test.go files, and test helpers
// (packages named like httptest, or testbank).
func TestOnlyCommandsImportDaemons(t *testing.T) {
	var broken []string
	for _, p := range listPackages(t) {
		importer := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			d := strings.TrimPrefix(imp, module)
			allowed, isDaemon := daemons[d]
			if !isDaemon || importer == d || isTestHelper(importer) ||
				slices.Contains(allowed, importer) || slices.Contains(rootsOfDaemons, importer) {
				continue
			}
			broken = append(broken, importer+" imports "+d)
		}
	}
	require.Empty(t, broken, "only a daemon's command, the program roots and test code import a daemon (DESIGN.md, \"Who imports a daemon\")")
}

// isTestHelper reports whether a package is test code though not in
// _test.go files, named like httptest: banktest, etcdtest, metricstest,
// disktest (and the whole-system tests, crashtest and damagetest).
func isTestHelper(importPath string) bool {
	return strings.HasSuffix(path.Base(importPath), "test")
}

type listedPackage struct {
	ImportPath string
	Imports    []string // without the imports of _test.go files
}

// listPackages lists the module's packages with `go list -json`.
func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var pkgs []listedPackage
	dec := json.NewDecoder(out)
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	require.NoError(t, cmd.Wait())
	require.NotEmpty(t, pkgs)
	return pkgs
}
