// Package platform is a running Osservatorio seen from its commands: connections to Temporal and the
// object store, bucket setup, one Temporal Schedule per source, the worker, and refreshes started on demand.
// The CLI, the API and the integration tests all go through it.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/osservatorio-lombardia/osservatorio/access"
	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/audit"
	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/identity"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/metrics"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/worker"
	"github.com/osservatorio-lombardia/osservatorio/workflows"
)

// TimeZone is the zone every schedule runs in.
const TimeZone = "Europe/Rome"

// Platform is a connection to a running Osservatorio.
type Platform struct {
	Config   *config.Config
	Store    *objectstore.Store
	Bucket   *objectstore.Bucket
	Lake     *lake.Lake
	Releases *release.Store
	Tokens   *identity.Store
	Audit    *audit.Log
	Logger   *slog.Logger

	temporal client.Client
}

// Open connects to the object store; Temporal is dialled on first use.
func Open(cfg *config.Config, logger *slog.Logger) (*Platform, error) {
	store, err := objectstore.New(objectstore.Config{Endpoint: cfg.Storage.Endpoint, AccessKey: cfg.Storage.AccessKey,
		SecretKey: cfg.Storage.SecretKey, UseSSL: cfg.Storage.UseSSL, Region: cfg.Storage.Region})
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	b := store.Bucket(cfg.Storage.Bucket)
	return &Platform{Config: cfg, Store: store, Bucket: b, Lake: lake.New(b), Releases: release.NewStore(b),
		Tokens: identity.NewStore(b), Audit: &audit.Log{B: b}, Logger: logger}, nil
}

// Temporal returns the Temporal client, dialling it the first time.
func (p *Platform) Temporal(ctx context.Context) (client.Client, error) {
	if p.temporal != nil {
		return p.temporal, nil
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, creds, err := connection(p.Config.Temporal)
	if err != nil {
		return nil, err
	}
	c, err := client.DialContext(dctx, client.Options{HostPort: p.Config.Temporal.Address, Namespace: p.Config.Temporal.Namespace,
		Logger: slogAdapter{p.Logger}, MetricsHandler: metrics.Temporal(), ConnectionOptions: conn, Credentials: creds})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", p.Config.Temporal.Address, err)
	}
	p.temporal = c
	return c, nil
}

// ReleaseCache is the folder where release files are kept by hash for lineage, the console and the
// reports (a published file never changes).
func (p *Platform) ReleaseCache() string {
	return filepath.Join(p.Config.Dev.StateDir, "lineage-cache")
}

// Access returns the manager of the observatories' own storage identities (MinIO admin API, root key).
func (p *Platform) Access() (*access.Manager, error) {
	s := p.Config.Storage
	return access.New(s.Endpoint, s.AccessKey, s.SecretKey, s.UseSSL, p.Bucket)
}

// Close closes the connections.
func (p *Platform) Close() {
	if p.temporal != nil {
		p.temporal.Close()
	}
}

// EnsureBuckets creates the platform's bucket and every observatory's.
func (p *Platform) EnsureBuckets(ctx context.Context) error {
	names := []string{p.Config.Storage.Bucket}
	for _, o := range p.Config.Observatories {
		names = append(names, o.Bucket)
	}
	for _, n := range names {
		if err := p.Store.Bucket(n).Ensure(ctx); err != nil {
			return err
		}
	}
	return nil
}

// ScheduleID is the id of a source's refresh schedule.
func ScheduleID(source string) string { return "refresh-" + source }

// Schedule is a registered schedule.
type Schedule struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Cron   string `json:"cron"`
	Action string `json:"action"` // created, updated or deleted
}

// overlapPolicy is the Temporal overlap policy a source's overlap names (default skip: a refresh still
// running when the next is due makes the next one not run).
func overlapPolicy(name string) enums.ScheduleOverlapPolicy {
	switch name {
	case "buffer_one":
		return enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE
	case "cancel_other":
		return enums.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER
	case "terminate_other":
		return enums.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER
	}
	return enums.SCHEDULE_OVERLAP_POLICY_SKIP
}

// RegisterSchedules creates or updates one Temporal Schedule per source with a schedule, in Europe/Rome.
func (p *Platform) RegisterSchedules(ctx context.Context) ([]Schedule, error) {
	c, err := p.Temporal(ctx)
	if err != nil {
		return nil, err
	}
	var out []Schedule
	for _, name := range p.Config.SourceNames() {
		src := p.Config.Sources[name]
		if src.Schedule == "" {
			continue
		}
		id := ScheduleID(name)
		spec := client.ScheduleSpec{CronExpressions: []string{src.Schedule}, TimeZoneName: TimeZone}
		action := &client.ScheduleWorkflowAction{
			ID: id, Workflow: "RefreshSource", TaskQueue: p.Config.Temporal.TaskQueue,
			Args: []interface{}{workflows.RefreshInput{Source: name}},
		}
		overlap := overlapPolicy(src.Overlap)
		catchup := src.CatchupWindow.D()
		_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID: id, Spec: spec, Action: action, Overlap: overlap, CatchupWindow: catchup,
			Note: "refresh of " + name + " (osservatorio configuration)",
		})
		s := Schedule{ID: id, Source: name, Cron: src.Schedule, Action: "created"}
		if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			err = c.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
				DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
					in.Description.Schedule.Spec = &spec
					in.Description.Schedule.Action = action
					if in.Description.Schedule.Policy == nil {
						in.Description.Schedule.Policy = &client.SchedulePolicies{}
					}
					in.Description.Schedule.Policy.Overlap = overlap
					in.Description.Schedule.Policy.CatchupWindow = catchup
					return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
				},
			})
			s.Action = "updated"
		}
		if err != nil {
			return out, fmt.Errorf("schedule %s: %w", id, err)
		}
		out = append(out, s)
	}
	deleted, err := p.deleteStaleSchedules(ctx, c)
	return append(out, deleted...), err
}

// deleteStaleSchedules deletes the refresh schedules of sources no longer configured, or configured
// without a schedule: a source removed from the file stops being fetched.
func (p *Platform) deleteStaleSchedules(ctx context.Context, c client.Client) ([]Schedule, error) {
	it, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 100})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var out []Schedule
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return out, fmt.Errorf("list schedules: %w", err)
		}
		source, ours := strings.CutPrefix(e.ID, ScheduleID(""))
		if !ours || e.WorkflowType.Name != "RefreshSource" {
			continue
		}
		if src, ok := p.Config.Sources[source]; ok && src.Schedule != "" {
			continue
		}
		if err := c.ScheduleClient().GetHandle(ctx, e.ID).Delete(ctx); err != nil && !IsNotFound(err) {
			return out, fmt.Errorf("delete schedule %s: %w", e.ID, err)
		}
		out = append(out, Schedule{ID: e.ID, Source: source, Action: "deleted"})
	}
	return out, nil
}

// NewWorker returns a worker on the platform's task queue with every workflow and activity registered.
func (p *Platform) NewWorker(ctx context.Context, workDir string) (sdkworker.Worker, error) {
	c, err := p.Temporal(ctx)
	if err != nil {
		return nil, err
	}
	acts, err := worker.Activities(ctx, p.Config, p.Store, p.Logger)
	if err != nil {
		return nil, err
	}
	if workDir != "" {
		acts.WorkDir, acts.DuckDB.TempDir = workDir, workDir
	}
	if n := activities.CleanWorkDir(acts.WorkDir); n > 0 {
		p.Logger.Info("removed work files an earlier worker left", "dir", acts.WorkDir, "files", n)
	}
	if n, err := p.Bucket.AbortStaleUploads(ctx, activities.StaleAfter); err != nil {
		p.Logger.Warn("could not abort stale uploads", "bucket", p.Bucket.Name(), "error", err)
	} else if n > 0 {
		p.Logger.Info("aborted uploads a killed worker left", "bucket", p.Bucket.Name(), "uploads", n)
	}
	p.Record(ctx, audit.Entry{Actor: "worker:" + hostname(), Action: "config.applied", Target: p.Config.Storage.Bucket,
		Details: map[string]string{"sha256": p.Config.Digest()}})
	return worker.New(c, p.Config.Temporal.TaskQueue, acts, worker.Options{}), nil
}

// Record appends an entry to the audit log; a failure to write it is logged, not returned: the action it
// records has happened.
func (p *Platform) Record(ctx context.Context, e audit.Entry) {
	if e.From == "" {
		e.From = hostname()
	}
	if err := p.Audit.Record(ctx, e); err != nil {
		p.Logger.Warn("audit log: entry not written", "action", e.Action, "target", e.Target, "error", err)
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// RefreshOptions tune a refresh started on demand.
type RefreshOptions struct {
	Datasets []string
	Force    bool
	// PublishAt embargoes the release the refresh makes (zero: the sources' publish_at only).
	PublishAt time.Time
}

// StartRefresh starts a RefreshSource workflow; a refresh of the same source already running is joined
// rather than doubled.
func (p *Platform) StartRefresh(ctx context.Context, source string, opts RefreshOptions) (client.WorkflowRun, error) {
	src, ok := p.Config.Sources[source]
	if !ok {
		return nil, fmt.Errorf("source %q is not configured (configured: %v)", source, p.Config.SourceNames())
	}
	for _, d := range opts.Datasets {
		if !slices.ContainsFunc(src.Datasets, func(x config.Dataset) bool { return x.ID == d }) {
			return nil, fmt.Errorf("source %s has no dataset %q", source, d)
		}
	}
	c, err := p.Temporal(ctx)
	if err != nil {
		return nil, err
	}
	id := "refresh-" + source + "-manual"
	// A plain refresh while one runs (started by hand or by the schedule) joins it: the same work, fetched
	// once. One that asks for something else (some datasets, a forced fetch, an embargo) would silently get
	// the running one's instead: say so, and what the running one covers.
	running, err := p.runningRefresh(ctx, c, source, id)
	if err != nil {
		return nil, err
	}
	if running != nil {
		if len(opts.Datasets) == 0 && !opts.Force && opts.PublishAt.IsZero() {
			return c.GetWorkflow(ctx, running.ID, running.RunID), nil
		}
		return nil, fmt.Errorf("%w: a refresh of %s is running (workflow %s, started %s, covering %s); wait for it to end, then ask again",
			ErrRefreshRunning, source, running.ID, running.Started.Format(time.RFC3339), running.covers())
	}
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                p.Config.Temporal.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, "RefreshSource", workflows.RefreshInput{Source: source, Datasets: opts.Datasets, Force: opts.Force, PublishAt: opts.PublishAt})
}

// ReplayDelivery runs the delivery of a release to one observatory again, as a new Deliver workflow, after
// enabling its webhook; it returns the delivery and the workflow id.
func (p *Platform) ReplayDelivery(ctx context.Context, version, observatory string) (release.Delivery, string, error) {
	if err := p.Releases.SetEndpointState(ctx, release.Endpoint{Observatory: observatory}); err != nil {
		return release.Delivery{}, "", err
	}
	c, err := p.Temporal(ctx)
	if err != nil {
		return release.Delivery{}, "", err
	}
	id := fmt.Sprintf("deliver-%s-%s-replay-%d", version, observatory, time.Now().UnixNano())
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: p.Config.Temporal.TaskQueue}, "Deliver",
		workflows.DeliverInput{Version: version, Observatory: activities.Observatory{ID: observatory}, MaxAttempts: int32(p.Config.Release.DeliveryAttempts)})
	if err != nil {
		return release.Delivery{}, "", err
	}
	var d release.Delivery
	err = run.Get(ctx, &d)
	return d, id, err
}

// ErrRefreshRunning says a refresh with other options could not start while one of the source runs.
var ErrRefreshRunning = errors.New("refresh already running")

// WaitRefresh waits for a refresh and returns its result; a refresh in which datasets failed returns its
// result together with the error.
func WaitRefresh(ctx context.Context, run client.WorkflowRun) (workflows.RefreshResult, error) {
	var res workflows.RefreshResult
	err := run.Get(ctx, &res)
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() == workflows.RefreshIncomplete {
		_ = ae.Details(&res)
	}
	return res, err
}

// IsNotFound reports whether err is Temporal's not-found.
func IsNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// Activities exposes the activities built from the configuration (for tests that drive them directly).
func (p *Platform) Activities(ctx context.Context) (*activities.Activities, error) {
	return worker.Activities(ctx, p.Config, p.Store, p.Logger)
}

// slogAdapter makes an slog.Logger a Temporal SDK logger.
type slogAdapter struct{ l *slog.Logger }

func (s slogAdapter) Debug(msg string, kv ...interface{}) { s.l.Debug(msg, kv...) }
func (s slogAdapter) Info(msg string, kv ...interface{})  { s.l.Info(msg, kv...) }
func (s slogAdapter) Warn(msg string, kv ...interface{})  { s.l.Warn(msg, kv...) }
func (s slogAdapter) Error(msg string, kv ...interface{}) { s.l.Error(msg, kv...) }
