// Command strife-certs creates Strife's CA and certificates. See
// internal/certscli.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/certscli"
)

func main() {
	if err := certscli.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
