// Command strife-inspect shows Strife data files read-only. See
// internal/tools/inspect.
package main

import (
	"os"

	"github.com/strife-pay/strife/internal/tools/inspect"
)

func main() {
	if err := inspect.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
