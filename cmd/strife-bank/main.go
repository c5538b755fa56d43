// Command strife-bank runs one Strife bank. See internal/bankd.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/bankd"
)

func main() {
	if err := bankd.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
