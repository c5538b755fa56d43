package banktest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// copyTree leaves out, at the root only, what .gitignore lists there and
// version control: a package directory of the same name is copied.
func TestCopyTreeLeavesOutWhatGitIgnores(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "module")
	for _, name := range []string{"go.mod", ".git/HEAD", ".bin/protoc-gen-go", "strife", "strife-data/certs/ca.pem",
		"cmd/strife/main.go", "proto/strife/v1/bank.proto"} {
		require.NoError(t, os.MkdirAll(filepath.Join(src, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(src, name), []byte(name), 0o644))
	}
	require.NoError(t, copyTree(src, dst))
	var copied []string
	require.NoError(t, filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			copied = append(copied, filepath.ToSlash(rel))
		}
		return err
	}))
	require.ElementsMatch(t, []string{"go.mod", "cmd/strife/main.go", "proto/strife/v1/bank.proto"}, copied)
}
