// Package cli is the osservatorio command: one binary with thin subcommands over package platform. Main is
// testable: it takes arguments and writers and returns an exit code.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/deploy"
	"github.com/osservatorio-lombardia/osservatorio/platform"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

// ExitError carries an exit code other than 1.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// app holds what every subcommand shares.
type app struct {
	stdout, stderr io.Writer
	configPath     string
	asJSON         bool
	verbose        bool
	logFormat      string
	getenv         func(string) string
	printed        bool // a JSON document went to stdout
}

// Main runs the command line args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := a.root()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "osservatorio:", err)
	code := 1
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	// Under --json the error is also a JSON document on stdout, unless the command printed its own
	// (a report that says what failed).
	if a.asJSON && !a.printed {
		_ = a.printJSON(map[string]any{"error": err.Error(), "exit_code": code})
	}
	return code
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "osservatorio",
		Short: "Versioned, auditable labour-market data for the Lombardy observatories",
		Long: `Osservatorio pulls scheduled data from Eurostat and the other sources of the Lombardy labour-market
observatories, lands the raw files in an object store, harmonizes them with DuckDB into one common model,
and publishes versioned, verifiable releases to every observatory. Temporal runs every step.

Configuration comes from --config, else $OSSERVATORIO_CONFIG, else the embedded default
(deploy/osservatorio.yaml: everything on 127.0.0.1).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "configuration file (default: $OSSERVATORIO_CONFIG, else the embedded default)")
	root.PersistentFlags().BoolVar(&a.asJSON, "json", false, "print machine-readable JSON")
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "log more")
	root.PersistentFlags().StringVar(&a.logFormat, "log-format", "text", "log lines as text or json (slog; activity lines carry workflow, run and activity ids)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if a.logFormat != "text" && a.logFormat != "json" {
			return &ExitError{Code: 2, Err: fmt.Errorf("--log-format %q: want text or json", a.logFormat)}
		}
		return nil
	}
	root.AddCommand(a.devCmd(), a.workerCmd(), a.serveCmd(), a.refreshCmd(), a.releaseCmd(), a.verifyCmd(),
		a.deliveriesCmd(), a.configCmd(), a.scheduleCmd(), a.mirrorCmd(), a.genCmd(), a.checksCmd(), a.tokenCmd(),
		a.observatoryCmd(), a.keysCmd(), a.pullCmd(), a.lineageCmd(), a.rawCmd(), a.auditCmd(), a.gcCmd(), a.statusCmd(), a.reportCmd(),
		a.backfillCmd())
	return root
}

// loadConfig reads the configuration named by --config or $OSSERVATORIO_CONFIG, or the embedded default.
func (a *app) loadConfig() (*config.Config, error) {
	path := a.configPath
	if path == "" {
		path = a.getenv("OSSERVATORIO_CONFIG")
	}
	if path == "" {
		return config.Parse(deploy.DefaultConfigName, deploy.DefaultConfig, a.getenv)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return config.Parse(path, data, a.getenv)
}

func (a *app) logger() *slog.Logger {
	level := slog.LevelWarn
	if a.verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if a.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(a.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(a.stderr, opts))
}

func (a *app) open() (*platform.Platform, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	return platform.Open(cfg, a.logger())
}

// manifest returns a published release's manifest; a version that is not one, or that no release has,
// is exit 2 with a plain message.
func (a *app) manifest(ctx context.Context, p *platform.Platform, version string) (*release.Manifest, error) {
	if _, err := semver.StrictNewVersion(version); err != nil {
		return nil, &ExitError{Code: 2, Err: fmt.Errorf("%q is not a release version (like 1.4.0)", version)}
	}
	m, err := p.Releases.Get(ctx, version)
	if errors.Is(err, release.ErrNoRelease) {
		return nil, &ExitError{Code: 2, Err: fmt.Errorf("no release %s (osservatorio release list shows the published ones)", version)}
	}
	return m, err
}

// printJSON writes v as indented JSON, its field names in snake_case (snakeJSON).
func (a *app) printJSON(v any) error {
	a.printed = true
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(snakeJSON(v))
}

// table returns a tab writer on stdout; the caller flushes it.
func (a *app) table() *tabwriter.Writer {
	return tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
