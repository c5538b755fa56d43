package testbank

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
	dir, err := os.MkdirTemp("", "strife-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*bin = filepath.Join(dir, path.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", *bin, pkg).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
		return 1
	}
	return m.Run()
}

// RunWithFailpoints is RunWithBinary for a build of pkg (a path relative to
// the module's root, "./cmd/strife") with the gofail failpoints of the
// packages in dirs enabled. It copies the module into a temporary
// directory, enables them there (go tool gofail enable), and builds pkg
// from the copy: the module's own files are never touched.
func RunWithFailpoints(m *testing.M, pkg string, dirs []string, bin *string) int {
	dir, err := os.MkdirTemp("", "strife-test-failpoints-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildWithFailpoints(dir, pkg, dirs, bin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func buildWithFailpoints(dir, pkg string, dirs []string, bin *string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	src, module := filepath.Dir(strings.TrimSpace(string(gomod))), filepath.Join(dir, "module")
	if err := copyTree(src, module); err != nil {
		return err
	}
	*bin = filepath.Join(dir, path.Base(pkg))
	for _, args := range [][]string{
		append([]string{"tool", "gofail", "enable"}, dirs...),
		{"build", "-o", *bin, pkg},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = module
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// copyTree copies the regular files under src to dst, leaving out version
// control, built tools and local deployments.
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
		case d.IsDir() && (d.Name() == ".git" || d.Name() == ".bin" || d.Name() == "strife-data"):
			return filepath.SkipDir
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
