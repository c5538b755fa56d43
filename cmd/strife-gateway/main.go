// Command strife-gateway runs the Strife gateway. See internal/gatewayd.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/gatewayd"
)

func main() {
	if err := gatewayd.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
