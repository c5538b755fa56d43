// Command strife runs Strife: `strife up` starts a local deployment. See
// internal/cli; the exit statuses are client.ExitStatuses.
package main

import (
	"context"
	"os"

	"github.com/strife-pay/strife/internal/cli"
	"github.com/strife-pay/strife/internal/client"
)

func main() {
	os.Exit(client.Execute(context.Background(), cli.Command(), os.Args[1:]))
}
