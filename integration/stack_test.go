package integration

import (
	"bytes"
	"github.com/osservatorio-lombardia/osservatorio/connectors/connectorstest"

	"io/fs"
	"testing/fstest"

	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/deploy"
	"github.com/osservatorio-lombardia/osservatorio/devstack"
	"github.com/osservatorio-lombardia/osservatorio/mirror"
	"github.com/osservatorio-lombardia/osservatorio/platform"
	sdkworker "go.temporal.io/sdk/worker"
)

// env is the running stack shared by the tests of this package.
type env struct {
	cfg     *config.Config
	p       *platform.Platform
	sources *faultyMirror
	logger  *slog.Logger
	state   string
	worker  sdkworker.Worker // the in-process worker (a test may stop it and start another)
	stack   *devstack.Stack  // the Temporal and MinIO servers (a test may restart them)
	hooks   *hookReceiver    // Sondrio's webhook endpoint
	alerts  *hookReceiver    // the alerts' webhook endpoint
	lineage *lineageReceiver // a Marquez-compatible endpoint
}

var shared *env

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func run(m *testing.M) int {
	if testing.Short() {
		fmt.Println("integration: skipped in -short mode")
		return 0
	}
	ctx := context.Background()
	// Warnings to the console; every line, debug included, kept for the test that greps them for secrets.
	logger := slog.New(slog.NewMultiHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}),
		slog.NewTextHandler(&allLogs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	state, err := os.MkdirTemp("", "osservatorio-it-*")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(state)
	tAddr, _ := devstack.FreeAddr()
	mAddr, _ := devstack.FreeAddr()
	start := time.Now()
	stack, err := devstack.Start(ctx, devstack.Options{
		BinDir: filepath.Join(repoRoot(), "bin"), StateDir: state, TemporalAddress: tAddr, Headless: true,
		MinioAddress: mAddr, AccessKey: "integration", SecretKey: "integration-secret", Logger: logger,
	})
	if err != nil {
		fmt.Println("integration: start servers:", err)
		return 1
	}
	defer stack.Close()
	fmt.Printf("integration: Temporal on %s and MinIO on %s up in %s\n", tAddr, mAddr, time.Since(start).Round(time.Millisecond))

	sources := &faultyMirror{base: mirror.New(mirror.Recorded()), overrides: map[string]http.HandlerFunc{}}
	srv := httptest.NewServer(sources)
	defer srv.Close()

	cfg, err := config.Parse("default", deploy.DefaultConfig, func(string) string { return "" })
	if err != nil {
		fmt.Println(err)
		return 1
	}
	cfg.Storage.Endpoint, cfg.Storage.AccessKey, cfg.Storage.SecretKey = mAddr, "integration", "integration-secret"
	cfg.Temporal.Address, cfg.Temporal.TaskQueue = tAddr, "it-"+fmt.Sprint(time.Now().UnixNano())
	cfg.Release.DeliveryAttempts = 2
	cfg.Release.SigningKey = filepath.Join(state, "keys", "release-signing.pem")
	cfg.Dev.StateDir = state // caches (lineage, the console's release files) stay in the run's folder
	lineageSink := &lineageReceiver{}
	lineageSrv := httptest.NewServer(lineageSink)
	defer lineageSrv.Close()
	cfg.Lineage.URL = lineageSrv.URL
	hooks := &hookReceiver{secret: hookSecret}
	hookSrv := httptest.NewServer(hooks)
	defer hookSrv.Close()
	alerts := &hookReceiver{secret: hookSecret}
	alertSrv := httptest.NewServer(alerts)
	defer alertSrv.Close()
	cfg.Alerts = config.Alerts{Webhook: &config.AlertWebhook{URL: alertSrv.URL + "/alerts", Secret: hookSecret}, Failures: 2}
	for i := range cfg.Observatories {
		switch o := &cfg.Observatories[i]; o.ID {
		case "milano":
			o.Delivery = "push" // the others pull
		case "sondrio":
			// Part of each release, its province only, and a webhook retried at once, after 1 s and 1 s.
			o.Subscription = config.Subscription{Tables: []string{"labour_flows", "labour_balances", "labour_events", "observations"},
				ProvinceOnly: true, Webhook: &config.Webhook{URL: hookSrv.URL + "/hooks/osservatorio", Secret: hookSecret,
					Retry: []config.Duration{0, config.Duration(time.Second), config.Duration(time.Second)}, DisableFor: config.Duration(time.Hour)}}
		}
	}
	for name, src := range cfg.Sources {
		src.BaseURL = srv.URL + "/" + name
		src.FilesURL = src.BaseURL + "/files"
		if name == "eurostat" {
			// Judged on Eurostat's own UPDATE_DATA too: the recorded ones are from 2025, months past 90 days.
			src.Freshness = &config.Freshness{WarnAfter: config.Duration(30 * 24 * time.Hour), ErrorAfter: config.Duration(90 * 24 * time.Hour)}
		}
		if name == "mur" {
			src.IdleTimeout = config.Duration(3 * time.Second) // the stalled-source test waits this long
		}
		if name == "lombardia" {
			src.PageSize = 1000 // pages that the tests can count and break
			src.AppToken = appToken
		}
		cfg.Sources[name] = src
	}
	// Istat's five requests a minute hold here too: one of its datasets keeps the run short (every configured
	// flow is run against the mirror by the connector's own tests).
	istat := cfg.Sources["istat"]
	istat.Datasets = istat.Datasets[:1]
	// From 2021 only: the backfill step fetches 2018–2020 into its history.
	istat.Datasets[0].Since = "2021"
	cfg.Sources["istat"] = istat
	// INAIL's REST API beside its zip (the default configuration leaves it commented out).
	inail := cfg.Sources["inail"]
	inail.Datasets = append(inail.Datasets, config.Dataset{ID: "infortuni_mensili_api", Code: "Lombardia", Format: "api"})
	cfg.Sources["inail"] = inail
	// An observatory whose bucket does not exist: its delivery fails, the others must not wait for it.
	cfg.Observatories = append(cfg.Observatories, config.Observatory{ID: "broken", Name: "Misconfigured", Bucket: "obs-does-not-exist", Delivery: "push"})

	p, err := platform.Open(cfg, logger)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer p.Close()
	for _, b := range append([]string{cfg.Storage.Bucket}, bucketsOf(cfg)...) {
		if b == "obs-does-not-exist" {
			continue
		}
		if err := p.Store.Bucket(b).Ensure(ctx); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	w, err := p.NewWorker(ctx, state)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	if err := w.Start(); err != nil {
		fmt.Println(err)
		return 1
	}
	shared = &env{cfg: cfg, p: p, sources: sources, logger: logger, state: state, worker: w, stack: stack, hooks: hooks, alerts: alerts, lineage: lineageSink}
	defer func() { shared.worker.Stop() }()
	return m.Run()
}

// appToken is the Socrata app token of the run: no log line, sidecar or state may hold it.
const appToken = "it-app-token-0f5b9c2e"

// allLogs holds every log line of the run.
var allLogs lockedBuffer

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func bucketsOf(cfg *config.Config) []string {
	var out []string
	for _, o := range cfg.Observatories {
		out = append(out, o.Bucket)
	}
	return out
}

// faultyMirror replays recorded responses, lets a test replace the answer for a path, and counts requests.
type faultyMirror struct {
	base      http.Handler
	mu        sync.Mutex
	overrides map[string]http.HandlerFunc
	stalled   string // a path prefix whose requests are held open with no answer
	held      chan time.Duration
	requests  atomic.Int64
	times     []time.Time // when each request arrived
}

// arrivals returns the arrival times of the requests since t.
func (f *faultyMirror) arrivals(since time.Time) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Time
	for _, at := range f.times {
		if !at.Before(since) {
			out = append(out, at)
		}
	}
	return out
}

func (f *faultyMirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	f.times = append(f.times, time.Now())
	f.mu.Unlock()
	f.mu.Lock()
	h := f.overrides[r.URL.Path]
	stalled, held := f.stalled, f.held
	f.mu.Unlock()
	if stalled != "" && strings.HasPrefix(r.URL.Path, stalled) {
		start := time.Now()
		select { // accept, answer nothing, and tell how long the client kept the connection
		case <-r.Context().Done():
		case <-time.After(2 * time.Minute):
		}
		held <- time.Since(start)
		return
	}
	if h != nil {
		h(w, r)
		return
	}
	f.base.ServeHTTP(w, r)
}

// slowDown delays the answers for path by d until the test ends, whatever answers them.
func (f *faultyMirror) slowDown(t *testing.T, path string, d time.Duration) {
	t.Helper()
	f.mu.Lock()
	prev := f.overrides[path]
	f.overrides[path] = func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		if prev != nil {
			prev(w, r)
			return
		}
		f.base.ServeHTTP(w, r)
	}
	f.mu.Unlock()
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if prev != nil {
			f.overrides[path] = prev
		} else {
			delete(f.overrides, path)
		}
	})
}

// stall holds every request under prefix open with no answer until the test ends; the returned channel
// receives how long each was held before the client closed it.
func (f *faultyMirror) stall(t *testing.T, prefix string) <-chan time.Duration {
	t.Helper()
	held := make(chan time.Duration, 64)
	f.mu.Lock()
	f.stalled, f.held = prefix, held
	f.mu.Unlock()
	t.Cleanup(func() {
		f.mu.Lock()
		f.stalled = ""
		f.mu.Unlock()
	})
	return held
}

// override replaces the answer for path until the test ends.
func (f *faultyMirror) override(t *testing.T, path string, h http.HandlerFunc) {
	t.Helper()
	f.mu.Lock()
	f.overrides[path] = h
	f.mu.Unlock()
	t.Cleanup(func() {
		f.mu.Lock()
		delete(f.overrides, path)
		f.mu.Unlock()
	})
}

// set replaces the answer for path for the rest of the run (a source that really changed).
func (f *faultyMirror) set(path string, h http.HandlerFunc) {
	f.mu.Lock()
	f.overrides[path] = h
	f.mu.Unlock()
}

// serve answers with a fixed body.
func serve(contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		fmt.Fprint(w, body)
	}
}

// dataflow returns an Eurostat dataflow structure message with the given UPDATE_DATA.
func dataflow(code, updated string) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<m:Structure xmlns:m="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" xmlns:s="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure" xmlns:c="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">
<m:Structures><s:Dataflows><s:Dataflow id="%s" agencyID="ESTAT" version="1.0"><c:Annotations>
<c:Annotation><c:AnnotationTitle>%s</c:AnnotationTitle><c:AnnotationType>UPDATE_DATA</c:AnnotationType></c:Annotation>
</c:Annotations></s:Dataflow></s:Dataflows></m:Structures></m:Structure>`, strings.ToUpper(code), updated)
}

func recorded(t *testing.T, dataset string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "mirror/recorded/eurostat/statistics/1.0/data", dataset+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// recordedTable returns the mirror's recorded SODA table of a Socrata dataset.
func recordedTable(t *testing.T, id string) string {
	t.Helper()
	b, err := fs.ReadFile(mirror.Recorded(), "lombardia/resource/"+id+".csv")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sodaOverride makes a Socrata dataset of the mirror answer from table, with a new rowsUpdatedAt.
func sodaOverride(t *testing.T, id string, rowsUpdatedAt int64, table string) {
	t.Helper()
	shared.sources.override(t, "/lombardia/api/views/"+id+".json", serve("application/json", fmt.Sprintf(`{"id":%q,"rowsUpdatedAt":%d}`, id, rowsUpdatedAt)))
	h := mirror.SODA{Table: fstest.MapFS{"t.csv": {Data: []byte(table)}}, Path: "t.csv"}
	shared.sources.override(t, "/lombardia/resource/"+id+".csv", h.ServeHTTP)
	shared.sources.override(t, "/lombardia/resource/"+id+".json", h.ServeHTTP)
}

// inailAPI answers like INAIL's REST API from the real answer in the connector's test data.
func inailAPI(t *testing.T, lastData string) http.HandlerFunc {
	real, err := os.ReadFile(filepath.Join(repoRoot(), "connectors/inail/testdata/DatiConCadenzaMensileInfortuni-Liguria-2019-11-first30.json"))
	if err != nil {
		t.Fatal(err)
	}
	return connectorstest.INAILAPI(real, lastData, nil)
}
