package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/api"
	"github.com/osservatorio-lombardia/osservatorio/devstack"
	"github.com/osservatorio-lombardia/osservatorio/identity"
	"github.com/osservatorio-lombardia/osservatorio/metrics"
	"github.com/osservatorio-lombardia/osservatorio/mirror"
	"github.com/osservatorio-lombardia/osservatorio/platform"
)

func (a *app) devCmd() *cobra.Command {
	var demo, once bool
	var stateDir, binDir string
	c := &cobra.Command{
		Use:   "dev",
		Short: "Run everything on 127.0.0.1 with state in one folder: Temporal, MinIO, the worker and the API",
		Long: `Starts a Temporal dev server (SQLite file, web UI), a MinIO server, the worker and the HTTP API, all on
127.0.0.1, with their state under --state-dir (default .osservatorio/). Creates the buckets, registers one
Temporal Schedule per source, prints the URLs, and stops every child process on Ctrl-C. A second run finds
the same state.

With --demo, every source is pointed at the recorded responses that ship with the platform (no network),
and a refresh of every source runs at once, producing a first release. --once exits after it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDev(cmd.Context(), devOptions{demo: demo, once: once, stateDir: stateDir, binDir: binDir})
		},
	}
	c.Flags().BoolVar(&demo, "demo", false, "use the recorded-response mirror and refresh every source at start")
	c.Flags().BoolVar(&once, "once", false, "with --demo: exit after the demo refresh")
	c.Flags().StringVar(&stateDir, "state-dir", "", "state folder (default: dev.state_dir of the configuration)")
	c.Flags().StringVar(&binDir, "bin-dir", "", "folder holding the temporal and minio binaries (default: dev.bin_dir)")
	return c
}

type devOptions struct {
	demo, once       bool
	stateDir, binDir string
}

func (a *app) say(format string, args ...any) {
	fmt.Fprintf(a.stdout, "==> "+format+"\n", args...)
}

func (a *app) runDev(ctx context.Context, o devOptions) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if o.stateDir == "" {
		o.stateDir = cfg.Dev.StateDir
	}
	if o.binDir == "" {
		o.binDir = cfg.Dev.BinDir
	}
	if err := os.MkdirAll(filepath.Join(o.stateDir, "work"), 0o755); err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	logger := a.logger()
	var recorded *mirror.Server
	if o.demo {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		recorded = mirror.New(mirror.Recorded())
		mirrorSrv := &http.Server{Handler: recorded, ReadHeaderTimeout: 10 * time.Second}
		go mirrorSrv.Serve(l)
		defer mirrorSrv.Close()
		for name, s := range cfg.Sources {
			s.BaseURL = "http://" + l.Addr().String() + "/" + name
			s.FilesURL = s.BaseURL + "/files"
			cfg.Sources[name] = s
		}
		a.say("demo: sources point at the recorded-response mirror on http://%s (no network)", l.Addr())
	}
	a.say("starting Temporal and MinIO (binaries from %s, state in %s)", o.binDir, o.stateDir)
	stack, err := devstack.Start(ctx, devstack.Options{
		BinDir: o.binDir, StateDir: o.stateDir,
		TemporalAddress: cfg.Temporal.Address, TemporalUIPort: cfg.Dev.TemporalUIPort, Namespace: cfg.Temporal.Namespace,
		MinioAddress: cfg.Storage.Endpoint, MinioConsoleAddress: cfg.Dev.MinioConsoleAddress,
		AccessKey: cfg.Storage.AccessKey, SecretKey: cfg.Storage.SecretKey, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer func() {
		a.say("stopping Temporal and MinIO")
		stack.Close()
	}()
	p, err := platform.Open(cfg, logger)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.EnsureBuckets(ctx); err != nil {
		return err
	}
	a.say("buckets ready: %s and %d observatory buckets", cfg.Storage.Bucket, len(cfg.Observatories))
	scheds, err := p.RegisterSchedules(ctx)
	if err != nil {
		return err
	}
	for _, s := range scheds {
		a.say("schedule %s %s: %q (%s)", s.ID, s.Action, s.Cron, platform.TimeZone)
	}
	w, err := p.NewWorker(ctx, filepath.Join(o.stateDir, "work"))
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()
	l, err := net.Listen("tcp", cfg.API.Address)
	if err != nil {
		return fmt.Errorf("API address %s is not free: %w", cfg.API.Address, err)
	}
	srv := api.Server(api.Handler(p, logger))
	go srv.Serve(l)
	defer srv.Close()
	devToken, err := a.devToken(ctx, p)
	if err != nil {
		return err
	}

	host, _, _ := net.SplitHostPort(cfg.Temporal.Address)
	a.say("Osservatorio is running:")
	fmt.Fprintf(a.stdout, "    Temporal UI   http://%s:%d\n", host, cfg.Dev.TemporalUIPort)
	fmt.Fprintf(a.stdout, "    Temporal      %s (namespace %s, task queue %s)\n", cfg.Temporal.Address, cfg.Temporal.Namespace, cfg.Temporal.TaskQueue)
	fmt.Fprintf(a.stdout, "    MinIO S3 API  http://%s (bucket %s)\n", cfg.Storage.Endpoint, cfg.Storage.Bucket)
	if cfg.Dev.MinioConsoleAddress != "" {
		fmt.Fprintf(a.stdout, "    MinIO console http://%s (user %s)\n", cfg.Dev.MinioConsoleAddress, cfg.Storage.AccessKey)
	}
	fmt.Fprintf(a.stdout, "    API           http://%s/api/releases\n", l.Addr())
	fmt.Fprintf(a.stdout, "    API token     %s (admin, this run only: curl -H 'Authorization: Bearer …')\n", devToken)
	fmt.Fprintf(a.stdout, "    state         %s\n", o.stateDir)

	if o.demo {
		if err := a.demoRefresh(ctx, p, recorded); err != nil {
			return err
		}
		if o.once {
			return nil
		}
	}
	a.say("press Ctrl-C to stop")
	select {
	case <-ctx.Done():
		return nil
	case name := <-stack.Exited():
		return fmt.Errorf("%s exited unexpectedly; its last output:\n%s", name, stack.Tail(name))
	}
}

// demoRefresh refreshes every source once against the mirror and says what it cost: the figures of a
// full refresh of all sources (and, run again on the same state, of a refresh where nothing changed).
func (a *app) demoRefresh(ctx context.Context, p *platform.Platform, m *mirror.Server) error {
	var failed []string
	start := time.Now()
	var datasets, changed, requests, releases int
	var landed int64
	for _, name := range p.Config.SourceNames() {
		a.say("demo: refreshing %s", name)
		run, err := p.StartRefresh(ctx, name, platform.RefreshOptions{})
		if err != nil {
			return err
		}
		res, err := platform.WaitRefresh(ctx, run)
		a.printRefresh(res)
		for _, d := range res.Datasets {
			datasets++
			requests += d.Requests
			if d.Changed {
				changed++
				landed += d.Bytes
			}
		}
		if res.Release != nil {
			releases++
		}
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return err
			}
			failed = append(failed, name+": "+err.Error())
		}
	}
	served, bytes := m.Stats()
	a.say("demo: %d sources in %s: %d of %d datasets changed, %d requests to the sources (mirror: %d served, %s), %s of raw data landed, %d releases published",
		len(p.Config.SourceNames()), time.Since(start).Round(100*time.Millisecond), changed, datasets, requests, served, humanBytes(bytes), humanBytes(landed), releases)
	if len(failed) > 0 {
		return fmt.Errorf("demo refresh failed: %s", strings.Join(failed, "; "))
	}
	vs, err := p.Releases.Versions(ctx)
	if err != nil {
		return err
	}
	if len(vs) > 0 {
		a.say("demo: latest release %s; try `osservatorio release show %s`, `osservatorio verify %s`, `osservatorio deliveries %s`",
			vs[len(vs)-1], vs[len(vs)-1], vs[len(vs)-1], vs[len(vs)-1])
	}
	return nil
}

func (a *app) workerCmd() *cobra.Command {
	var workDir, metricsAddr string
	c := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker: executes the workflows and activities (scale out by running more)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			defer p.Close()
			w, err := p.NewWorker(cmd.Context(), workDir)
			if err != nil {
				return err
			}
			var ready atomic.Bool
			if metricsAddr != "" {
				srv, err := metricsServer(metricsAddr, &ready)
				if err != nil {
					return err
				}
				defer srv.Close()
				a.say("metrics, /healthz and /readyz on http://%s", metricsAddr)
			}
			a.say("worker on task queue %s at %s", p.Config.Temporal.TaskQueue, p.Config.Temporal.Address)
			if err := w.Start(); err != nil {
				return err
			}
			ready.Store(true)
			<-interruptOn(cmd.Context())
			ready.Store(false)
			w.Stop()
			return nil
		},
	}
	c.Flags().StringVar(&workDir, "work-dir", "", "scratch folder for spooled downloads and DuckDB (default: the system temp folder)")
	c.Flags().StringVar(&metricsAddr, "metrics-address", "127.0.0.1:9464", "serve /metrics (Prometheus), /healthz and /readyz here; \"\" to serve none")
	return c
}

// metricsServer serves the process's metrics, /healthz (alive) and /readyz (polling its task queues).
func metricsServer(addr string, ready *atomic.Bool) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not polling yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}

// interruptOn returns a channel closed when ctx ends, as worker.Run wants.
func interruptOn(ctx context.Context) <-chan interface{} {
	ch := make(chan interface{})
	go func() { <-ctx.Done(); close(ch) }()
	return ch
}

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API (releases, verification, deliveries, dataset state, refresh)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			defer p.Close()
			l, err := net.Listen("tcp", p.Config.API.Address)
			if err != nil {
				return err
			}
			a.say("API on http://%s", l.Addr())
			return serveUntilDone(cmd.Context(), l, api.Handler(p, a.logger()))
		},
	}
}

// devToken creates the admin token of this `dev` run and revokes the earlier runs' ones.
func (a *app) devToken(ctx context.Context, p *platform.Platform) (string, error) {
	toks, err := p.Tokens.List(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range toks {
		if t.Name == devTokenName && t.Active() {
			if _, err := p.Tokens.Revoke(ctx, t.ID); err != nil {
				return "", err
			}
		}
	}
	_, secret, err := p.Tokens.Create(ctx, identity.Admin, devTokenName)
	return secret, err
}

const devTokenName = "osservatorio dev (local)"

// serveUntilDone serves h on l until ctx ends, with the API's timeouts.
func serveUntilDone(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := api.Server(h)
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
