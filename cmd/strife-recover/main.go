// Command strife-recover checks and repairs Strife data files offline. See
// internal/recovery.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/recovery"
)

func main() {
	os.Exit(recovery.Main(os.Args[1:], os.Stdout, os.Stderr))
}
