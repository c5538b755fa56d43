// Command strife-chaos runs a real deployment under payments while it
// kills, freezes and restarts its processes, then checks that every
// payment moved exactly as answered. See internal/tools/chaos.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/tools/chaos"
)

func main() {
	if err := chaos.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
