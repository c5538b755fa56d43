package deploy_test

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strife-pay/strife/internal/daemons/bankd/banktest"
	"github.com/strife-pay/strife/internal/tools/deploy"
)

// A program runs the deployment with Start: it kills a child and restarts
// it, freezes one with SIGSTOP, and still stops everything cleanly (a
// frozen child gets SIGCONT with its SIGTERM).
func TestStartSignalRestartStop(t *testing.T) {
	var logs banktest.LogBuffer
	dep, err := deploy.Start(t.Context(), deploy.Config{DataDir: t.TempDir(), BasePort: freeBasePort(t),
		UsersFile: filepath.Join(repoRoot, "testdata", "demo-users.yaml"), Executable: strifeBin, Stdout: &logs,
		StopTimeout: 5 * time.Second, GatewayArgs: []string{"--bcrypt-cost", "4"}})
	require.NoError(t, err, "logs:\n%s", logs.String())
	t.Cleanup(dep.Kill)
	require.Equal(t, []string{"etcd", "BankA", "BankB", "BankC", "gateway-1"}, dep.Names())
	require.Equal(t, deploy.KindBank, dep.Kind("BankB"))
	require.Equal(t, deploy.KindGateway, dep.Kind("gateway-1"))

	ok, err := dep.Signal("BankB", syscall.SIGKILL)
	require.True(t, ok)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !dep.Running("BankB") }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, "signal: killed", dep.Exit("BankB"))
	require.NoError(t, dep.Restart(t.Context(), "BankB"))
	require.True(t, dep.Running("BankB"))
	require.True(t, dep.Served("BankB"))

	ok, err = dep.Signal("BankA", syscall.SIGSTOP)
	require.True(t, ok)
	require.NoError(t, err)
	began := time.Now()
	require.NoError(t, dep.Stop(), "every child stops cleanly, the frozen one too; logs:\n%s", logs.String())
	require.Less(t, time.Since(began), 5*time.Second, "nobody waited for the stop timeout")
}
