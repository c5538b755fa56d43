package banktest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// LogBuffer is a log sink that servers write while a test reads it.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Reset forgets everything written so far.
func (b *LogBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// TokenKey writes a random login token key (as strife-certs init does) into
// a temporary file and returns its path.
func TokenKey(t testing.TB) string {
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "token.key")
	require.NoError(t, os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600))
	return path
}

// Testdata returns the absolute path of a file in the testing package's
// testdata directory.
func Testdata(t testing.TB, name string) string {
	path, err := filepath.Abs(filepath.Join("testdata", name))
	require.NoError(t, err)
	return path
}

// RunWithBinary is a TestMain body for tests that run a Strife program as
// a child process: it builds the package pkg once into a temporary
// directory, sets *bin to the binary, runs the tests and returns their
// exit code (for os.Exit). A build that fails fails them all, with the
// compiler's output.
func RunWithBinary(m *testing.M, pkg string, bin *string) int {
	return runWithBuild(m, func(dir string) error {
		*bin = filepath.Join(dir, path.Base(pkg))
		return goCommand("", "build", "-o", *bin, pkg)
	})
}

// RunWithFailpoints is RunWithBinary for a build of pkg (a path relative to
// the module's root, "./cmd/strife") with the gofail failpoints of the
// packages in dirs enabled. It copies the module into a temporary
// directory, enables them there (go tool gofail enable), and builds pkg
// from the copy: the module's own files are never touched.
func RunWithFailpoints(m *testing.M, pkg string, dirs []string, bin *string) int {
	return runWithBuild(m, func(dir string) error {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			return fmt.Errorf("go env GOMOD: %w", err)
		}
		src, module := filepath.Dir(strings.TrimSpace(string(gomod))), filepath.Join(dir, "module")
		if err := copyTree(src, module); err != nil {
			return err
		}
		*bin = filepath.Join(dir, path.Base(pkg))
		if err := goCommand(module, append([]string{"tool", "gofail", "enable"}, dirs...)...); err != nil {
			return err
		}
		return goCommand(module, "build", "-o", *bin, pkg)
	})
}

// runWithBuild makes a temporary directory, has build build into it, runs
// the tests and removes the directory. A build that fails fails them all,
// with its error.
func runWithBuild(m *testing.M, build func(dir string) error) int {
	dir, err := os.MkdirTemp("", "strife-test-build-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// goCommand runs the go command with args in dir ("" for the current
// directory); its error carries the command's output.
func goCommand(dir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// notCopied are what copyTree leaves out, by path from the module's root:
// version control, and what .gitignore lists there (built tools, the
// strife binary, a local deployment's data, strife-chaos's runs).
var notCopied = map[string]bool{".git": true, ".bin": true, "strife": true, "strife-data": true, "strife-chaos": true}

// copyTree copies the regular files under src to dst but notCopied.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		switch {
		case notCopied[filepath.ToSlash(rel)] && d.IsDir():
			return filepath.SkipDir
		case notCopied[filepath.ToSlash(rel)]:
			return nil
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
}
