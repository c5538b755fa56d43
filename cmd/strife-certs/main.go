// Command strife-certs creates Strife's CA and certificates. See
// internal/tools/certscli.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/tools/certscli"
)

func main() {
	if err := certscli.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
