// Command strife-bench measures payments per second and latency through the
// whole path (client → gateway → two banks, mTLS, fsyncs). See
// internal/tools/bench.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/tools/bench"
)

func main() {
	if err := bench.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
