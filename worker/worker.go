// Package worker wires the platform together: it builds the activities' dependencies from the
// configuration, registers workflows and activities on a Temporal worker (the same way in production, in
// `osservatorio dev` and in the tests), and owns the task-queue names.
package worker

import (
	"crypto/rand"

	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/eurostat"
	"github.com/osservatorio-lombardia/osservatorio/connectors/inail"
	"github.com/osservatorio-lombardia/osservatorio/connectors/inps"
	"github.com/osservatorio-lombardia/osservatorio/connectors/istat"
	"github.com/osservatorio-lombardia/osservatorio/connectors/lombardia"
	"github.com/osservatorio-lombardia/osservatorio/connectors/mim"
	"github.com/osservatorio-lombardia/osservatorio/connectors/mlps"
	"github.com/osservatorio-lombardia/osservatorio/connectors/mur"
	"github.com/osservatorio-lombardia/osservatorio/health"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/openlineage"
	"github.com/osservatorio-lombardia/osservatorio/ratelimit"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
	"github.com/osservatorio-lombardia/osservatorio/workflows"
)

// Registrar is the part of a Temporal worker (or test environment) that takes registrations.
type Registrar interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivity(a interface{})
}

// Register registers every workflow and the activities of acts.
func Register(r Registrar, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.RefreshSource, workflow.RegisterOptions{Name: "RefreshSource"})
	r.RegisterWorkflowWithOptions(workflows.Release, workflow.RegisterOptions{Name: "Release"})
	r.RegisterWorkflowWithOptions(workflows.Deliver, workflow.RegisterOptions{Name: "Deliver"})
	r.RegisterWorkflowWithOptions(workflows.Notify, workflow.RegisterOptions{Name: "Notify"})
	r.RegisterWorkflowWithOptions(workflows.Backfill, workflow.RegisterOptions{Name: "Backfill"})
	r.RegisterWorkflowWithOptions(workflows.BackfillChunk, workflow.RegisterOptions{Name: "BackfillChunk"})
	r.RegisterActivity(acts)
}

// Options are a worker's tuning knobs.
type Options struct {
	MaxConcurrentActivities int
}

// New returns a Temporal worker for the task queue with everything registered, and a task queue of its
// own on which it takes the activities meant for it: the harmonization of an export it fetched, which it
// reads from its local raw cache instead of downloading it again.
func New(c client.Client, taskQueue string, acts *activities.Activities, opts Options) sdkworker.Worker {
	own := fmt.Sprintf("%s@%s", taskQueue, workerID())
	acts.WorkerQueue = own
	w := sdkworker.New(c, taskQueue, sdkworker.Options{MaxConcurrentActivityExecutionSize: opts.MaxConcurrentActivities})
	Register(w, acts)
	ow := sdkworker.New(c, own, sdkworker.Options{MaxConcurrentActivityExecutionSize: opts.MaxConcurrentActivities})
	ow.RegisterActivity(acts)
	return pair{Worker: w, own: ow}
}

// workerID names this process: host, pid and a random part.
func workerID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
}

// pair is a worker of the shared task queue together with the one of its own queue.
type pair struct {
	sdkworker.Worker
	own sdkworker.Worker
}

func (p pair) Start() error {
	if err := p.own.Start(); err != nil {
		return err
	}
	if err := p.Worker.Start(); err != nil {
		p.own.Stop()
		return err
	}
	return nil
}

func (p pair) Stop() {
	p.Worker.Stop()
	p.own.Stop()
}

func (p pair) Run(interruptCh <-chan interface{}) error {
	if err := p.own.Start(); err != nil {
		return err
	}
	defer p.own.Stop()
	return p.Worker.Run(interruptCh)
}

// DuckDBMemoryLimit bounds each activity's DuckDB; what does not fit spills to the work folder.
const DuckDBMemoryLimit = "640MB"

// Credits returns every configured source's licence and attribution, as releases write them.
func Credits(cfg *config.Config) map[string]release.Credit {
	out := map[string]release.Credit{}
	for name, src := range cfg.Sources {
		out[name] = release.Credit{License: release.License(src.License), Attribution: src.Attribution}
	}
	return out
}

// Connector returns the connector of a configured source.
func Connector(name string, src config.Source, client *httpfetch.Client) (connectors.Source, error) {
	switch name {
	case eurostat.Name:
		return eurostat.New(src.BaseURL, client), nil
	case istat.Name:
		return istat.New(src.BaseURL, client), nil
	case inail.Name:
		return inail.New(src.BaseURL, client, nil), nil
	case mur.Name:
		return mur.New(src.BaseURL, client), nil
	case inps.Name:
		return inps.New(src.BaseURL, client), nil
	case mim.Name:
		return mim.New(src.BaseURL, client), nil
	case mlps.Name:
		return mlps.New(src.BaseURL, src.FilesURL, client), nil
	case lombardia.Name:
		return lombardia.New(src.BaseURL, client, lombardia.Options{AppToken: src.AppToken, PageSize: src.PageSize, ReconcileEvery: time.Duration(src.ReconcileEvery), DateWindow: time.Duration(src.DateWindow)}), nil
	}
	return nil, fmt.Errorf("no connector for source %q", name)
}

// Activities builds the activities' dependencies from the configuration.
func Activities(ctx context.Context, cfg *config.Config, store *objectstore.Store, logger *slog.Logger) (*activities.Activities, error) {
	client := httpfetch.New(httpfetch.Options{Logger: logger})
	bucket := store.Bucket(cfg.Storage.Bucket)
	workDir := os.TempDir()
	acts := &activities.Activities{
		Store: store, HTTP: client, Lake: lake.New(bucket), Releases: release.NewStore(bucket),
		Sources: map[string]activities.Source{}, ReleaseName: cfg.Release.Name, SigningKey: cfg.Release.SigningKey, WorkDir: workDir,
		DeliveryAttempts: int32(cfg.Release.DeliveryAttempts),
		DuckDB:           warehouse.Options{TempDir: workDir, MemoryLimit: DuckDBMemoryLimit},
		Lineage:          &openlineage.Emitter{Bucket: bucket, JobNamespace: cfg.Lineage.Namespace, URL: cfg.Lineage.URL, Logger: logger},
	}
	acts.Lineage.Run(ctx)
	credits := Credits(cfg)
	for _, name := range cfg.SourceNames() {
		src := cfg.Sources[name]
		// Each source has its client: its own timeout and, where it has one, the limiter every request to it
		// passes, from any worker.
		opts := httpfetch.Options{Logger: logger, Source: name, Timeout: src.Timeout.D(), Idle: src.IdleTimeout.D()}
		if rl := src.RateLimit; rl != nil {
			margin := ratelimit.DefaultMargin
			if rl.Margin != nil {
				margin = rl.Margin.D()
			}
			opts.Transport = ratelimit.New(bucket, "ratelimit/"+name+".json", rl.Requests, rl.Per.D(), margin).Transport
		}
		own := httpfetch.New(opts)
		conn, err := Connector(name, src, own)
		if err != nil {
			return nil, err
		}
		s := activities.Source{Conn: conn, MaxBytes: src.MaxBytes, SchemaDrift: src.SchemaDrift, HTTP: own,
			Credit: credits[name], Embargo: embargo(src.PublishAt), Freshness: Thresholds(cfg, name)}
		for _, d := range src.Datasets {
			s.Datasets = append(s.Datasets, connectors.Dataset{Source: name, ID: d.ID, Code: d.Code, Filters: d.Filters, Since: d.Since, Format: d.Format, Resource: d.Resource, Unit: d.Unit, UnitMult: d.UnitMult,
				Query: d.Query, Columns: d.Columns})
		}
		acts.Sources[name] = s
	}
	if w := cfg.Alerts.Webhook; w != nil {
		acts.Alerts = &activities.AlertSink{URL: w.URL, Secret: w.Secret}
	}
	for _, o := range cfg.Observatories {
		sub, err := subscriber(o)
		if err != nil {
			return nil, err
		}
		acts.Observatories = append(acts.Observatories, activities.Observatory{ID: o.ID, Name: o.Name, Bucket: o.Bucket, Prefix: o.Prefix, Subscriber: sub})
	}
	return acts, nil
}

// Thresholds are a source's freshness and the failures in a row that make a dataset failing.
func Thresholds(cfg *config.Config, source string) health.Thresholds {
	f := cfg.FreshnessOf(source)
	return health.Thresholds{WarnAfter: f.WarnAfter.D(), ErrorAfter: f.ErrorAfter.D(), SourceToo: f.SourceToo(), Failures: cfg.Alerts.Failures}
}

// embargo turns a source's publish_at into the publish time of a release built at a given time.
func embargo(spec string) func(time.Time) time.Time {
	if spec == "" {
		return nil
	}
	return func(built time.Time) time.Time {
		t, _ := config.EmbargoUntil(spec, built) // validated with the configuration
		return t
	}
}

// subscriber is what an observatory receives of each release and how, from its configuration.
func subscriber(o config.Observatory) (*activities.Subscriber, error) {
	s := o.Subscription
	sub := &activities.Subscriber{Push: o.Delivery == "push", Selection: release.Selection{Tables: s.Tables, Sources: s.Sources}, Province: o.Province}
	if s.ProvinceOnly {
		sub.Selection.Province = o.Province
	}
	if o.Endpoint != "" {
		st, err := objectstore.New(objectstore.Config{Endpoint: o.Endpoint, AccessKey: o.AccessKey, SecretKey: o.SecretKey, UseSSL: o.UseSSL})
		if err != nil {
			return nil, fmt.Errorf("observatory %s: %w", o.ID, err)
		}
		sub.Store = st
	}
	if w := s.Webhook; w != nil {
		sub.Webhook = &activities.Webhook{URL: w.URL, Secret: w.Secret, DisableFor: w.DisableFor.D()}
		for _, d := range w.Retry {
			sub.Webhook.Retry = append(sub.Webhook.Retry, d.D())
		}
	}
	return sub, nil
}
