package daemon

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTuneGCSetsTheTargetUnlessGOGCIsSet(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	require.NoError(t, os.Unsetenv("GOGC"))
	TuneGC()
	require.Equal(t, GCPercent, debug.SetGCPercent(100), "GOGC unset: Strife's target")

	t.Setenv("GOGC", "50") // as the operator started the process
	debug.SetGCPercent(50)
	TuneGC()
	require.Equal(t, 50, debug.SetGCPercent(100), "GOGC set: the operator's choice")
}
