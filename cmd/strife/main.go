// Command strife runs Strife: `strife up` starts a local deployment. See
// internal/cli.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/cli"
)

func main() {
	if err := cli.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
