// Package workflows holds the platform's durable workflows: RefreshSource (change check, fetch, harmonize,
// accept, then a release when anything changed), Release (plan, build, publish under a unique version,
// deliver) and Deliver (one observatory, retried on its own). Workflows only decide; every piece of I/O is
// an activity. Only deterministic code lives here.
package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

// a is the activities receiver used to name activity methods; it is never dereferenced here.
var a *activities.Activities

// Activity options, named once.
var (
	quickOptions = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 5, NonRetryableErrorTypes: fault.NonRetryable},
	}
	fetchOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 10 * time.Minute, MaximumAttempts: 6, NonRetryableErrorTypes: fault.NonRetryable},
	}
	harmonizeOptions = workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    time.Minute, // the activity heartbeats every 10 s: a dead worker shows within a minute
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 5 * time.Minute, MaximumAttempts: 3, NonRetryableErrorTypes: fault.NonRetryable},
	}
	releaseOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 5 * time.Minute, MaximumAttempts: 5,
			NonRetryableErrorTypes: append([]string{string(fault.Conflict)}, fault.NonRetryable...)},
	}
)

// pinnedScheduleToStart is how long a harmonization waits for the worker that fetched its export before
// any worker takes it.
const pinnedScheduleToStart = 2 * time.Minute

var errNotPinned = errors.New("not pinned to a worker")

// RefreshInput names a source to refresh.
type RefreshInput struct {
	Source string
	// Datasets limits the refresh to these datasets; empty means every configured dataset.
	Datasets []string
	// Force re-fetches even when the change signal says nothing changed.
	Force bool
}

// DatasetReport is what happened to one dataset.
type DatasetReport struct {
	Dataset     string
	Changed     bool
	Reason      string
	URL         string
	Bytes       int64
	Rows        int64
	RawKey      string
	SnapshotKey string
	Requests    int
	Error       string `json:",omitempty"`
	ErrorKind   string `json:",omitempty"`
}

// RefreshResult is the outcome of a refresh.
type RefreshResult struct {
	Source   string
	Datasets []DatasetReport
	Release  *ReleaseResult `json:",omitempty"`
}

// Failed returns the reports of the datasets that failed.
func (r RefreshResult) Failed() []DatasetReport {
	var out []DatasetReport
	for _, d := range r.Datasets {
		if d.Error != "" {
			out = append(out, d)
		}
	}
	return out
}

// RefreshIncomplete is the error type of a refresh in which some datasets failed; its details hold the
// RefreshResult.
const RefreshIncomplete = "RefreshIncomplete"

// RefreshSource checks every dataset of a source, fetches and harmonizes those that changed, accepts their
// snapshots, and runs a Release when anything changed. One failing dataset does not stop the others; the
// previous snapshot of a failed dataset stays the accepted one.
func RefreshSource(ctx workflow.Context, in RefreshInput) (RefreshResult, error) {
	log := workflow.GetLogger(ctx)
	res := RefreshResult{Source: in.Source}
	datasets := in.Datasets
	if len(datasets) == 0 {
		qctx := workflow.WithActivityOptions(ctx, quickOptions)
		if err := workflow.ExecuteActivity(qctx, a.SourceDatasets, in.Source).Get(ctx, &datasets); err != nil {
			return res, err
		}
	}
	changed := 0
	for _, id := range datasets {
		rep := refreshDataset(ctx, in, id)
		if rep.Changed && rep.Error == "" {
			changed++
		}
		res.Datasets = append(res.Datasets, rep)
	}
	if changed > 0 {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID + "-release",
		})
		var rel ReleaseResult
		if err := workflow.ExecuteChildWorkflow(cctx, Release, ReleaseInput{Reason: fmt.Sprintf("%s: %d dataset(s) changed", in.Source, changed)}).Get(ctx, &rel); err != nil {
			return res, fmt.Errorf("release after refresh of %s: %w", in.Source, err)
		}
		res.Release = &rel
	}
	if failed := res.Failed(); len(failed) > 0 {
		msgs := make([]string, len(failed))
		for i, f := range failed {
			msgs[i] = f.Dataset + ": " + f.Error
		}
		log.Error("refresh incomplete", "source", in.Source, "failed", len(failed))
		return res, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("refresh %s: %d of %d dataset(s) failed; previous data stays published: %s",
				in.Source, len(failed), len(res.Datasets), strings.Join(msgs, "; ")),
			RefreshIncomplete, nil, res)
	}
	return res, nil
}

func refreshDataset(ctx workflow.Context, in RefreshInput, id string) DatasetReport {
	rep := DatasetReport{Dataset: id}
	fail := func(err error) DatasetReport {
		rep.Error, rep.ErrorKind = errorMessage(err), errorKind(err)
		return rep
	}
	var f activities.FetchResult
	fctx := workflow.WithActivityOptions(ctx, fetchOptions)
	err := workflow.ExecuteActivity(fctx, a.Fetch, activities.FetchInput{Source: in.Source, Dataset: id, Force: in.Force}).Get(ctx, &f)
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.HasDetails() {
		_ = ae.Details(&f) // what was fetched before the failure, e.g. the raw object kept for inspection
	}
	rep.Reason, rep.URL, rep.Bytes, rep.RawKey, rep.Requests = f.Reason, f.URL, f.Bytes, f.RawKey, f.Requests
	if err != nil {
		return fail(err)
	}
	if !f.Changed {
		return rep
	}
	rep.Changed = true
	hin := activities.HarmonizeInput{Source: in.Source, Dataset: id, RawKey: f.RawKey, SHA256: f.SHA256, FetchedAt: f.FetchedAt, Structure: f.Structure}
	h, err := harmonize(ctx, f.WorkerQueue, hin)
	if err != nil {
		return fail(err)
	}
	rep.Rows, rep.SnapshotKey = h.Rows, h.SnapshotKey
	qctx := workflow.WithActivityOptions(ctx, quickOptions)
	if err := workflow.ExecuteActivity(qctx, a.Accept, activities.AcceptInput{
		Source: in.Source, Dataset: id, Fetch: f, Harmonize: h}).Get(ctx, nil); err != nil {
		return fail(err)
	}
	return rep
}

// harmonize runs the harmonization on the worker that fetched the export, which keeps it in its raw cache.
// If that worker does not take the task in time (it stopped), or dies or fails while harmonizing, any
// worker does it again, reading the raw object from the store; bad input is not tried again.
func harmonize(ctx workflow.Context, pinnedQueue string, hin activities.HarmonizeInput) (activities.HarmonizeResult, error) {
	var h activities.HarmonizeResult
	err := errNotPinned
	if pinnedQueue != "" && workflow.GetVersion(ctx, "harmonize-on-fetching-worker", workflow.DefaultVersion, 1) == 1 {
		opts := harmonizeOptions
		opts.TaskQueue, opts.ScheduleToStartTimeout = pinnedQueue, pinnedScheduleToStart
		// One attempt there: a retry would wait on the queue of a worker that may be dead.
		fallback := workflow.GetVersion(ctx, "harmonize-fallback-on-any-failure", workflow.DefaultVersion, 1) == 1
		if fallback {
			rp := *opts.RetryPolicy
			rp.MaximumAttempts = 1
			opts.RetryPolicy = &rp
		}
		err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.Harmonize, hin).Get(ctx, &h)
		if err != nil && !fallback && !isScheduleToStart(err) {
			return h, err
		}
	}
	if err == nil || !worthAnotherWorker(err) {
		return h, err
	}
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, harmonizeOptions), a.Harmonize, hin).Get(ctx, &h)
	return h, err
}

func isScheduleToStart(err error) bool {
	var te *temporal.TimeoutError
	return errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START
}

// worthAnotherWorker says whether a failed pinned harmonization should run again on any worker: it was
// not pinned, timed out (its worker stopped or died), or failed for a reason that is not the input's.
func worthAnotherWorker(err error) bool {
	if errors.Is(err, errNotPinned) {
		return true
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return true
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return !ae.NonRetryable() && !slices.Contains(fault.NonRetryable, ae.Type())
	}
	return false
}

// errorMessage returns the innermost application error's message: the classified reason, without the
// activity-task wrapping.
func errorMessage(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	return err.Error()
}

func errorKind(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "Timeout"
	}
	return ""
}

// ReleaseInput starts a release.
type ReleaseInput struct {
	Reason string
}

// ReleaseResult is a release's outcome: its version (or that none was due) and its deliveries.
type ReleaseResult struct {
	Skipped    bool
	Version    string
	Rows       map[string]int64
	Deliveries []release.Delivery
}

// maxPublishTries bounds how often a release re-plans after losing its version to a concurrent release.
const maxPublishTries = 5

// Release builds a release from the accepted snapshots when they differ from the latest release, publishes
// it under a version no other release can take, and delivers it to every observatory.
func Release(ctx workflow.Context, in ReleaseInput) (ReleaseResult, error) {
	log := workflow.GetLogger(ctx)
	rctx := workflow.WithActivityOptions(ctx, releaseOptions)
	var res ReleaseResult
	published := false
	for try := 1; try <= maxPublishTries && !published; try++ {
		var plan release.Plan
		if err := workflow.ExecuteActivity(rctx, a.PlanRelease).Get(ctx, &plan); err != nil {
			return res, err
		}
		if plan.Skip {
			log.Info("no release due: accepted snapshots equal the latest release", "version", plan.Version)
			return ReleaseResult{Skipped: true, Version: plan.Version}, nil
		}
		releaseID := fmt.Sprintf("%s-%d", workflow.GetInfo(ctx).WorkflowExecution.RunID, try)
		var built activities.BuildResult
		err := workflow.ExecuteActivity(rctx, a.BuildRelease, activities.BuildInput{ReleaseID: releaseID, Plan: plan}).Get(ctx, &built)
		if errorKind(err) == string(fault.Conflict) {
			log.Warn("accepted snapshots changed while building; planning again", "version", plan.Version)
			continue
		}
		if err != nil {
			return res, err
		}
		err = workflow.ExecuteActivity(rctx, a.PublishRelease, activities.PublishInput{ReleaseID: releaseID, Version: plan.Version}).Get(ctx, nil)
		if errorKind(err) == string(fault.Conflict) {
			log.Warn("version taken by a concurrent release; planning again", "version", plan.Version)
			_ = workflow.ExecuteActivity(rctx, a.DiscardRelease, releaseID).Get(ctx, nil)
			continue
		}
		if err != nil {
			return res, err
		}
		res.Version, res.Rows, published = plan.Version, built.Resources, true
	}
	if !published {
		return res, temporal.NewApplicationError(fmt.Sprintf("no version could be claimed in %d tries", maxPublishTries), string(fault.Conflict))
	}
	var targets activities.DeliveryTargets
	qctx := workflow.WithActivityOptions(ctx, quickOptions)
	if err := workflow.ExecuteActivity(qctx, a.ListObservatories).Get(ctx, &targets); err != nil {
		return res, err
	}
	futures := make([]workflow.ChildWorkflowFuture, len(targets.Observatories))
	for i, o := range targets.Observatories {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("deliver-%s-%s", res.Version, o.ID),
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, Deliver, DeliverInput{
			Version: res.Version, Observatory: o, MaxAttempts: targets.Attempts})
	}
	for i, f := range futures {
		var d release.Delivery
		if err := f.Get(ctx, &d); err != nil {
			d = release.Delivery{Release: res.Version, Observatory: targets.Observatories[i].ID, Status: release.Failed, Error: err.Error()}
		}
		res.Deliveries = append(res.Deliveries, d)
	}
	return res, nil
}

// DeliverInput is one release for one observatory.
type DeliverInput struct {
	Version     string
	Observatory activities.Observatory
	MaxAttempts int32
}

// Deliver copies a release to one observatory, retrying on its own schedule; a delivery that fails for good
// is recorded as failed in the ledger and does not fail the release.
func Deliver(ctx workflow.Context, in DeliverInput) (release.Delivery, error) {
	attempts := in.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	dctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: attempts},
	})
	var d release.Delivery
	err := workflow.ExecuteActivity(dctx, a.Deliver, activities.DeliverInput{Version: in.Version, Observatory: in.Observatory}).Get(ctx, &d)
	if err == nil {
		return d, nil
	}
	workflow.GetLogger(ctx).Error("delivery failed", "release", in.Version, "observatory", in.Observatory.ID, "error", err)
	d = release.Delivery{
		Release: in.Version, Observatory: in.Observatory.ID, Status: release.Failed, Attempts: attempts,
		Time: workflow.Now(ctx).UTC(), Error: errorMessage(err),
		Target: in.Observatory.Bucket + "/" + in.Observatory.Prefix + "releases/" + in.Version + "/",
	}
	qctx := workflow.WithActivityOptions(ctx, quickOptions)
	if err := workflow.ExecuteActivity(qctx, a.RecordDelivery, d).Get(ctx, nil); err != nil {
		return d, err
	}
	return d, nil
}
