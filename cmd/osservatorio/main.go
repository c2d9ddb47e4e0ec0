// Command osservatorio runs and operates the Osservatorio platform: the embedded default (dev), the worker
// and API, refreshes, releases, verification and deliveries. Run `osservatorio --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/osservatorio-lombardia/osservatorio/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
