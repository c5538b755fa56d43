// Command strife-gateway runs the Strife gateway. See
// internal/daemons/gatewayd.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/daemons/gatewayd"
)

func main() {
	if err := gatewayd.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
