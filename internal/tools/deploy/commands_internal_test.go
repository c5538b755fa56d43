package deploy

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// Each command line gets its answer on up's output, a mistyped one
// included; names ignore case and "gateway" is gateway-1. Nothing runs
// here, so every child is stopped.
func TestCommands(t *testing.T) {
	var out bytes.Buffer
	d := newDeployment(Config{Stdout: &out, DataDir: "/data", BasePort: DefaultBasePort})
	for _, tc := range []struct{ line, want string }{
		{"stop gateway", "[up]        gateway-1 is not running\n"},
		{"KILL banka", "[up]        BankA is not running\n"},
		{"stop", "[up]        usage: stop NAME (etcd, BankA, BankB, BankC or gateway-1)\n"},
		{"restart BankD", `[up]        no process called "BankD" (etcd, BankA, BankB, BankC or gateway-1)` + "\n"},
		{"frobnicate now", `[up]        unknown command "frobnicate"; type help` + "\n"},
		{"   ", ""},
	} {
		t.Run(tc.line, func(t *testing.T) {
			out.Reset()
			d.command(t.Context(), tc.line)
			require.Equal(t, tc.want, out.String())
		})
	}
}
