// Command strife runs Strife: `strife up` starts a local deployment. See
// internal/tools/cli; the exit statuses are client.ExitStatuses.
package main

import (
	"context"
	"os"

	"github.com/strife-pay/strife/internal/tools/cli"
	"github.com/strife-pay/strife/internal/tools/client"
)

func main() {
	os.Exit(client.Execute(context.Background(), cli.Command(), os.Args[1:]))
}
