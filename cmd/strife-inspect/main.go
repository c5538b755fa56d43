// Command strife-inspect shows Strife data files read-only. See
// internal/inspect.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/inspect"
)

func main() {
	if err := inspect.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
