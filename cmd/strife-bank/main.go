// Command strife-bank runs one Strife bank. See internal/daemons/bankd.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/daemons/bankd"
)

func main() {
	if err := bankd.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
