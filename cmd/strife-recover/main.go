// Command strife-recover checks and repairs Strife data files offline. See
// internal/tools/recovery.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/tools/recovery"
)

func main() {
	os.Exit(recovery.Main(os.Args[1:], os.Stdout, os.Stderr))
}
